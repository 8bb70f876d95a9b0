// Tensor.write and Tensor.copyFrom: new values into a tensor through the library, counted as writes (an
// optimizer step on a module's weight refuses the backward of a forward that read the old one, as
// PyTorch's version counters do), f32 and f16 (an odd length included), and bad input refused by name.
import { describe, expect, it } from 'vitest';
import { BatchNorm, Tensor } from '../../src/index.js';
import { roundToHalf } from '../../src/runtime/half.js';
import { inErrorScopes, testGpu } from './gpu-context.js';

describe('Tensor.write and Tensor.copyFrom', () => {
  it('write new values, f32 and f16 (odd length), read back as written', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const t = Tensor.fromArray(gpu, [1, 2, 3, 4, 5, 6], [2, 3]);
      t.write([6, 5, 4, 3, 2, 1]);
      expect([...(await t.toArray())]).toEqual([6, 5, 4, 3, 2, 1]);
      t.write(new Float64Array([0.5, -0.25, 1e-3, 7, 8, 9]));
      expect([...(await t.toArray())]).toEqual([...Float32Array.from([0.5, -0.25, 1e-3, 7, 8, 9])]);
      const half = Tensor.fromArray(gpu, [1, 2, 3], [3], { dtype: 'f16' });
      const values = Float32Array.from([0.1, -2.5, 65504]);
      half.write(values);
      expect([...(await half.toArray())]).toEqual([...roundToHalf(values)]);
      for (const x of [t, half]) x.destroy();
    });
  });

  it('copyFrom copies a tensor of the same shape and dtype, whole and from a wrapped region', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const a = Tensor.fromArray(gpu, [1, 2, 3, 4], [4]);
      const b = Tensor.fromArray(gpu, [0, 0, 0, 0], [4]);
      b.copyFrom(a);
      a.write([9, 9, 9, 9]); // after the copy's submit: b keeps what a held
      expect([...(await b.toArray())]).toEqual([1, 2, 3, 4]);
      const buffer = gpu.device.createBuffer({ size: 512, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
      const wrapped = Tensor.fromBuffer(gpu, buffer, [4], { byteOffset: 256 });
      wrapped.copyFrom(a);
      expect([...(await wrapped.toArray())]).toEqual([9, 9, 9, 9]);
      const halves = Tensor.fromArray(gpu, [1, 2, 3], [3], { dtype: 'f16' });
      const other = Tensor.fromArray(gpu, [4, 5, 6], [3], { dtype: 'f16' });
      halves.copyFrom(other);
      expect([...(await halves.toArray())]).toEqual([4, 5, 6]);
      for (const x of [a, b, wrapped, halves, other]) x.destroy();
      buffer.destroy();
    });
  });

  it('count as writes: an optimizer step on the weight refuses the backward of the forward before it', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const bn = new BatchNorm(gpu, 2);
      const x = Tensor.fromArray(gpu, [1, 2, 3, 4, 5, 6, 7, 9], [2, 2, 2]);
      const dy = Tensor.fromArray(gpu, [1, 0, 0, 1, 1, 0, 0, 1], [2, 2, 2]);
      bn.forward(x).destroy();
      const grads = bn.backward(dy);
      // SGD: weight -= 0.1 * dweight, through the library.
      const [weight, dweight] = await Promise.all([bn.weight!.toArray(), grads.dweight!.toArray()]);
      bn.weight!.write(weight.map((w, i) => w - 0.1 * dweight[i]!));
      expect(() => bn.backward(dy)).toThrow(/BatchNorm.backward: weight .* was written after the forward/);
      bn.forward(x).destroy();
      const again = bn.backward(dy); // the next step's forward read the new weight
      for (const t of [x, dy, grads.dx, grads.dweight, grads.dbias, again.dx, again.dweight, again.dbias]) t?.destroy();
      bn.destroy();
    });
  });

  it('refuse data of another length, another shape or dtype, and a region that shares a word', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const t = Tensor.fromArray(gpu, [1, 2, 3, 4], [4], { label: 't' });
      expect(() => t.write([1, 2, 3])).toThrow(/data has 3 elements but shape \[4\] needs 4/);
      expect(() => t.write('1234' as never)).toThrow(/tensor data must be a Float32Array/);
      const wide = Tensor.fromArray(gpu, [1, 2, 3, 4, 5], [5], { label: 'wide' });
      expect(() => t.copyFrom(wide)).toThrow("tensor 't'.copyFrom: source 'wide' is f32 [5], this tensor is f32 [4]");
      const half = Tensor.fromArray(gpu, [1, 2, 3, 4], [4], { dtype: 'f16' });
      expect(() => t.copyFrom(half)).toThrow(/source 'tensor' is f16 \[4\], this tensor is f32 \[4\]/);
      const buffer = gpu.device.createBuffer({ size: 512, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
      const odd = Tensor.fromBuffer(gpu, buffer, [3], { dtype: 'f16', byteOffset: 256, label: 'odd' });
      expect(() => odd.write([1, 2, 3])).toThrow(/tensor 'odd'.write: an f16 tensor of 3 elements at byte offset 256 shares a 4-byte word/);
      wide.destroy();
      expect(() => t.copyFrom(wide)).toThrow(/the source tensor 'wide' was destroyed/);
      t.destroy();
      expect(() => t.write([1, 2, 3, 4])).toThrow(/tensor 't'.write: the tensor was destroyed/);
      for (const x of [half, odd]) x.destroy();
      buffer.destroy();
    });
  });
});
