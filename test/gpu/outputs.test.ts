// Caller-provided outputs (`out`) and timestamps around an operation's pass (`timestampWrites`): the
// results match freshly allocated outputs, a steady state allocates nothing at all, and misuse is named.
import { describe, expect, it } from 'vitest';
import { batchNorm, batchNormBackward, requestGpu, Tensor, type Gpu } from '../../src/index.js';
import { gaussian, seededRandom } from '../support/random.js';
import { inErrorScopes, testGpu } from './gpu-context.js';

const SHAPE = [6, 5, 7, 4];
const C = 5;

function problem(gpu: Gpu) {
  const rnd = seededRandom(42);
  const size = SHAPE.reduce((a, b) => a * b, 1);
  return {
    x: Tensor.fromArray(gpu, gaussian(rnd, size, 2, 3), SHAPE),
    dy: Tensor.fromArray(gpu, gaussian(rnd, size), SHAPE),
    weight: Tensor.fromArray(gpu, gaussian(rnd, C, 1, 0.3), [C]),
    bias: Tensor.fromArray(gpu, gaussian(rnd, C), [C]),
  };
}

describe('out and in-place tensors', () => {
  it('writes the given tensors, bit-identical to allocated outputs, and allocates nothing in a steady state', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const { x, dy, weight, bias } = problem(gpu);
      const fresh = batchNorm(gpu, x, { training: true, weight, bias });
      const freshGrad = batchNormBackward(gpu, dy, x, { training: true, weight, saveMean: fresh.saveMean!, saveInvstd: fresh.saveInvstd! });
      const out = { y: Tensor.empty(gpu, SHAPE), saveMean: Tensor.empty(gpu, [C]), saveInvstd: Tensor.empty(gpu, [C]) };
      const grad = { dx: Tensor.empty(gpu, SHAPE), dweight: Tensor.empty(gpu, [C]), dbias: Tensor.empty(gpu, [C]) };
      const before = gpu.liveBuffers;
      for (let i = 0; i < 10; i++) {
        const r = batchNorm(gpu, x, { training: true, weight, bias, out });
        expect(r.y).toBe(out.y);
        expect(r.saveMean).toBe(out.saveMean);
        const g = batchNormBackward(gpu, dy, x, { training: true, weight, saveMean: out.saveMean, saveInvstd: out.saveInvstd, out: grad });
        expect(g.dx).toBe(grad.dx);
        expect(g.dbias).toBe(grad.dbias);
      }
      expect(gpu.liveBuffers).toBe(before);
      expect(await out.y.toArray()).toEqual(await fresh.y.toArray());
      expect(await out.saveInvstd.toArray()).toEqual(await fresh.saveInvstd!.toArray());
      expect(await grad.dx.toArray()).toEqual(await freshGrad.dx.toArray());
      expect(await grad.dweight.toArray()).toEqual(await freshGrad.dweight!.toArray());
    });
  });

  it('names a wrong shape, an alias of another tensor, and outputs the mode does not write', async () => {
    const gpu = await testGpu(true);
    const { x, dy, weight } = problem(gpu);
    const rm = Tensor.fromArray(gpu, new Float32Array(C), [C]);
    const rv = Tensor.fromArray(gpu, new Float32Array(C).fill(1), [C]);
    const stats = batchNorm(gpu, x, { training: true });
    expect(() => batchNorm(gpu, x, { training: true, out: { y: Tensor.empty(gpu, [6, 5, 28]) } })).toThrow(
      'out.y has shape [6,5,28] but the operation writes shape [6,5,7,4]',
    );
    expect(() => batchNorm(gpu, x, { training: true, out: { y: x } })).toThrow('out.y is the same tensor as x');
    expect(() => batchNorm(gpu, x, { training: true, runningMean: rm, runningVar: rm })).toThrow('runningMean is the same tensor as runningVar');
    // Inference only reads the running statistics: one tensor may serve as both weight and runningMean.
    batchNorm(gpu, x, { training: false, weight, runningMean: weight, runningVar: rv }).y.destroy();
    expect(() => batchNorm(gpu, x, { training: true, weight, runningMean: weight, runningVar: rv })).toThrow(
      'runningMean is the same tensor as weight',
    );
    expect(() => batchNorm(gpu, x, { training: true, weight, out: { saveMean: weight } })).toThrow('out.saveMean is the same tensor as weight');
    expect(() => batchNorm(gpu, x, { training: false, runningMean: rm, runningVar: rv, out: { saveMean: Tensor.empty(gpu, [C]) } })).toThrow(
      'out.saveMean and out.saveInvstd are written in training only',
    );
    const training = { training: true as const, saveMean: stats.saveMean!, saveInvstd: stats.saveInvstd! };
    expect(() => batchNormBackward(gpu, dy, x, { ...training, out: { dx: dy } })).toThrow('out.dx is the same tensor as dy');
    expect(() => batchNormBackward(gpu, dy, x, { ...training, weight, out: { dweight: stats.saveMean! } })).toThrow(
      'out.dweight is the same tensor as saveMean',
    );
    expect(() => batchNormBackward(gpu, dy, x, { ...training, out: { dbias: Tensor.empty(gpu, [C]) } })).toThrow(
      'out.dweight and out.dbias are written only with a weight',
    );
    const dead = Tensor.empty(gpu, SHAPE);
    dead.destroy();
    expect(() => batchNorm(gpu, x, { training: true, out: { y: dead } })).toThrow(/out.y .* was destroyed/);
  });
});

describe('timestampWrites', () => {
  it('brackets the pass with GPU timestamps', async () => {
    const gpu = await testGpu(true);
    expect(gpu.features.timestampQuery).toBe(true);
    await inErrorScopes(gpu, async () => {
      const { x, dy } = problem(gpu);
      const querySet = gpu.device.createQuerySet({ type: 'timestamp', count: 4 });
      const resolved = gpu.device.createBuffer({ size: 32, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
      const readback = gpu.device.createBuffer({ size: 32, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      const fwd = batchNorm(gpu, x, { training: true, timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } });
      batchNormBackward(gpu, dy, x, {
        training: true, saveMean: fwd.saveMean!, saveInvstd: fwd.saveInvstd!,
        timestampWrites: { querySet, beginningOfPassWriteIndex: 2, endOfPassWriteIndex: 3 },
      });
      const encoder = gpu.device.createCommandEncoder();
      encoder.resolveQuerySet(querySet, 0, 4, resolved, 0);
      encoder.copyBufferToBuffer(resolved, 0, readback, 0, 32);
      gpu.device.queue.submit([encoder.finish()]);
      await readback.mapAsync(GPUMapMode.READ);
      const [b0, e0, b1, e1] = new BigUint64Array(readback.getMappedRange());
      expect(e0! >= b0!).toBe(true);
      expect(b1! >= e0!).toBe(true); // the backward ran after the forward
      expect(e1! >= b1!).toBe(true);
      readback.unmap();
      for (const b of [resolved, readback]) b.destroy();
      querySet.destroy();
    });
  });

  it("says when the device has no 'timestamp-query'", async () => {
    const gpu = await requestGpu({ disableFeatures: ['timestamp-query'] });
    const { x } = problem(gpu);
    const querySet = {} as GPUQuerySet; // never reaches the GPU: the check comes first
    expect(() => batchNorm(gpu, x, { training: true, timestampWrites: { querySet } })).toThrow(
      "timestampWrites need the WebGPU feature 'timestamp-query', which this device does not have",
    );
    gpu.destroy();
  });
});
