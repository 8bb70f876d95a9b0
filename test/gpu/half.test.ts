// f16 activations (x, y, dy, dx) with float32 math and float32 statistics and parameters, against the
// float64 references fed the half-precision values the GPU holds. This adapter (SwiftShader) has no
// 'shader-f16', so the packed path runs here: pairs of halves in u32 words, unpack2x16float on load,
// pack2x16float on store, 16-bit atomic stores where an odd run puts two channels' or two windows'
// values in one word. The native path is selected and composed by test/unit/kernels.test.ts.
import { describe, expect, it } from 'vitest';
import { BatchNorm, batchNorm, batchNormBackward, Tensor, type Gpu } from '../../src/index.js';
import { batchNormBackwardReference, batchNormReference } from '../../src/reference.js';
import { roundToHalf, toHalfBits } from '../../src/runtime/half.js';
import { planOperation } from '../../src/engine/runner.js';
import { channelLayout, numElements } from '../../src/runtime/shape.js';
import { backwardTolerances, withHalfRounding, yTolerance } from '../../src/reference/tolerances.js';
import { compareElements } from '../support/compare.js';
import { gaussian, seededRandom, uniform } from '../support/random.js';
import { compareTrainingStatistics } from '../support/tolerances.js';
import { inErrorScopes, testGpu } from './gpu-context.js';

// Tolerances: the float32 bounds of src/reference/tolerances.ts widened by one rounding of y and dx to f16
// (HALF_RTOL = 2^-11 relative, HALF_ATOL = 2^-25); statistics and dweight/dbias keep the float32 bounds.


interface HalfCase {
  readonly what: string;
  readonly shape: readonly number[];
  readonly axis: number;
  readonly maxBindingBytes?: number;
}

const CASES: readonly HalfCase[] = [
  { what: 'odd inner (7), odd count', shape: [3, 5, 7], axis: 1 },
  { what: 'vec4 (inner 12)', shape: [4, 3, 12], axis: 1 },
  { what: 'rows, BatchNorm1d with an odd count', shape: [5, 7], axis: 1 },
  { what: 'channels-last, odd C', shape: [3, 4, 5, 3], axis: -1 },
  { what: 'chunked rows: windows start mid-word', shape: [40, 3, 5], axis: 1, maxBindingBytes: 512 },
  { what: 'chunked slices, odd inner', shape: [40, 2, 9], axis: 1, maxBindingBytes: 512 },
  { what: 'chunked vec4', shape: [30, 2, 12], axis: 1, maxBindingBytes: 512 },
];

async function checkHalf(gpu: Gpu, c: HalfCase, training: boolean, relu: boolean, seed: number): Promise<void> {
  const { shape, axis } = c;
  const { channels } = channelLayout(shape, axis);
  const rnd = seededRandom(seed);
  const x = roundToHalf(gaussian(rnd, numElements(shape), 2, 3));
  const dy = roundToHalf(gaussian(rnd, numElements(shape)));
  const host = { weight: uniform(rnd, channels, 0.5, 2), bias: uniform(rnd, channels, -1, 1), runningMean: uniform(rnd, channels, 1, 3), runningVar: uniform(rnd, channels, 4, 12) };
  const f32 = (data: Float32Array) => Tensor.fromArray(gpu, data, [channels]);
  const xT = Tensor.fromArray(gpu, x, shape, { dtype: 'f16' });
  const dyT = Tensor.fromArray(gpu, dy, shape, { dtype: 'f16' });
  const [weight, bias, runningMean, runningVar] = [f32(host.weight), f32(host.bias), f32(host.runningMean), f32(host.runningVar)];
  const activation = relu ? 'relu' : null;
  const what = `${c.what} [${shape}] ${training ? 'training' : 'inference'}${relu ? ' relu' : ''}`;

  const fwd = batchNorm(gpu, xT, { training, axis, activation, weight, bias, runningMean, runningVar });
  expect(fwd.y.dtype).toBe('f16');
  const ref = batchNormReference(x, shape, { training, axis, activation, ...host });
  const y = await fwd.y.toArray();
  compareElements(`${what} y`, y, ref.y, withHalfRounding(yTolerance(x, shape, ref, host.weight, host.bias, axis), ref.y));

  const grads = training
    ? batchNormBackward(gpu, dyT, xT, { training, axis, activation, weight, ...(relu ? { bias } : {}), saveMean: fwd.saveMean!, saveInvstd: fwd.saveInvstd! })
    : batchNormBackward(gpu, dyT, xT, { training, axis, activation, weight, ...(relu ? { bias } : {}), runningMean, runningVar });
  expect(grads.dx.dtype).toBe('f16');
  const reluOutput = relu ? y : null;
  let gradRef;
  if (training) {
    const saved = { saveMean: await fwd.saveMean!.toArray(), saveInvstd: await fwd.saveInvstd!.toArray() };
    compareTrainingStatistics(what, { ...saved, runningMean: await runningMean.toArray(), runningVar: await runningVar.toArray() }, ref);
    gradRef = batchNormBackwardReference(dy, x, shape, { training, axis, weight: host.weight, reluOutput, ...saved });
  } else {
    gradRef = batchNormBackwardReference(dy, x, shape, { training, axis, weight: host.weight, reluOutput, runningMean: host.runningMean, runningVar: host.runningVar });
  }
  const tolerance = backwardTolerances({ dy, x, shape, weight: host.weight, training, axis, reluOutput }, gradRef);
  compareElements(`${what} dx`, await grads.dx.toArray(), gradRef.dx, withHalfRounding(tolerance.dx, gradRef.dx));
  compareElements(`${what} dweight`, await grads.dweight!.toArray(), gradRef.dweight!, tolerance.dweight);
  compareElements(`${what} dbias`, await grads.dbias!.toArray(), gradRef.dbias!, tolerance.dbias);
  for (const t of [xT, dyT, weight, bias, runningMean, runningVar, fwd.y, fwd.saveMean, fwd.saveInvstd, grads.dx, grads.dweight, grads.dbias]) t?.destroy();
}

describe('f16 activations (packed: this adapter has no shader-f16)', () => {
  for (const [k, c] of CASES.entries()) {
    it(c.what, async () => {
      const gpu = await testGpu(k % 2 === 0, c.maxBindingBytes);
      expect(gpu.features.shaderF16).toBe(false);
      if (c.maxBindingBytes) expect(planOperation(gpu, channelLayout(c.shape, c.axis), true, 'f16-packed').windows.length).toBeGreaterThan(2);
      await inErrorScopes(gpu, async () => {
        for (const training of [true, false]) {
          for (const relu of [false, true]) await checkHalf(gpu, c, training, relu, 300 + k);
        }
      });
    });
  }

  it('wrapped f16 buffers at offsets, into a caller\'s encoder', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const shape = [3, 2, 5];
      const x = roundToHalf(gaussian(seededRandom(9), 30, 1, 2));
      const align = gpu.device.limits.minStorageBufferOffsetAlignment;
      const buffer = gpu.device.createBuffer({ size: 3 * align, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
      const bits = Uint16Array.from(x, toHalfBits);
      gpu.device.queue.writeBuffer(buffer, align, bits.buffer, 0, 60);
      const xT = Tensor.fromBuffer(gpu, buffer, shape, { dtype: 'f16', byteOffset: align });
      const yT = Tensor.fromBuffer(gpu, gpu.device.createBuffer({ size: 64, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC }), shape, { dtype: 'f16' });
      const encoder = gpu.device.createCommandEncoder();
      batchNorm(gpu, xT, { training: true, out: { y: yT }, encoder });
      gpu.device.queue.submit([encoder.finish()]);
      const ref = batchNormReference(x, shape, { training: true });
      compareElements('wrapped f16 y', await yT.toArray(), ref.y, withHalfRounding(yTolerance(x, shape, ref, null, null), ref.y));
      buffer.destroy();
    });
  });
});

describe('f16 overflow', () => {
  it('outputs beyond the half range become +-Inf, as PyTorch\'s .half() (pack2x16float would leave them indeterminate)', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      for (const shape of [[2, 2, 3], [2, 2, 4, 4]]) { // scalar (atomic 16-bit stores) and vec4 words
        const n = numElements(shape);
        const x = Tensor.fromArray(gpu, Array.from({ length: n }, (_, i) => (i % 2 ? 1 : -1) * (1 + i / n)), shape, { dtype: 'f16' });
        const c = shape[1]!;
        const runningMean = Tensor.fromArray(gpu, new Float32Array(c), [c]);
        const runningVar = Tensor.fromArray(gpu, new Float32Array(c).fill(1e-12), [c]); // invstd 1e6: |y| up to 2e6
        const y = await batchNorm(gpu, x, { training: false, runningMean, runningVar, eps: 0 }).y.toArray();
        const expected = Array.from(await x.toArray(), (v) => (v > 0 ? Infinity : -Infinity));
        expect(Array.from(y)).toEqual(expected);
      }
    });
  });
});

describe('f16 ReLU mask', () => {
  // A y of float32 value in (0, 2^-25] is stored as an f16 0: PyTorch's ReLU backward (threshold_backward on
  // the stored output) blocks dy there, and so must the recomputed mask. The bias 2^-26 puts y = 2^-26 at
  // every x = 0 (each channel's values cancel in pairs, so the batch mean is 0 too), and x = +-2^-24, the
  // smallest half, gives y = 1.25 * 2^-24 (stored 2^-24: passes) and y < 0 (blocked).
  const TINY = 2 ** -26;
  const halfData = (shape: readonly number[]) => {
    const [n, c] = [shape[0]!, shape[1]!];
    const spatial = numElements(shape.slice(2));
    const pattern = [0, 2 ** -24, 1, 0, 0.5, -(2 ** -24), 0, 2];
    return roundToHalf(Float32Array.from({ length: numElements(shape) }, (_, i) => {
      const s = i % spatial;
      const sample = Math.floor(i / (c * spatial));
      const channel = Math.floor(i / spatial) % c;
      return (sample % 2 ? -1 : 1) * (sample < n / 2 ? 1 : -1) * pattern[(s + channel) % pattern.length]!;
    }));
  };

  /** Backward against the reference masked by the stored y, and dx exactly 0 wherever the stored y is 0 in eval. */
  async function checkMask(what: string, y: Float32Array, x: Float32Array, dy: Float32Array, shape: readonly number[], grads: { dx: Tensor }, reference: () => ReturnType<typeof batchNormBackwardReference>, training: boolean) {
    const clipped = Array.from(y, (v, i) => (v === 0 && x[i] === 0 ? i : -1)).filter((i) => i >= 0);
    expect(clipped.length, `${what}: some y of 2^-26 stored as 0`).toBeGreaterThan(0);
    expect(y.some((v, i) => v > 0 && v <= 2 ** -23 && x[i] !== 0), `${what}: some y just above 2^-25 stored as a positive half`).toBe(true);
    const dx = await grads.dx.toArray();
    const gradRef = reference();
    const tolerance = backwardTolerances({ dy, x, shape, weight: null, training, axis: 1, reluOutput: y }, gradRef);
    compareElements(`${what} dx`, dx, gradRef.dx, withHalfRounding(tolerance.dx, gradRef.dx));
    if (!training) for (const i of clipped) expect(dx[i], `${what}: dx at ${i}, where y was stored as 0`).toBe(0);
  }

  it('blocks dy where the forward stored an f16 0 (functional ops: rows, scalar and vec4 slices; training and eval)', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      for (const shape of [[4, 2, 3], [4, 2, 9], [4, 2, 4, 4]]) {
        const c = shape[1]!;
        const x = halfData(shape);
        const dy = roundToHalf(gaussian(seededRandom(5), numElements(shape), 0.5, 1));
        const xT = Tensor.fromArray(gpu, x, shape, { dtype: 'f16' });
        const dyT = Tensor.fromArray(gpu, dy, shape, { dtype: 'f16' });
        const bias = Tensor.fromArray(gpu, new Float32Array(c).fill(TINY), [c]);
        const runningMean = Tensor.fromArray(gpu, new Float32Array(c), [c]);
        const runningVar = Tensor.fromArray(gpu, new Float32Array(c).fill(1), [c]);
        for (const training of [true, false]) {
          const what = `[${shape}] ${training ? 'training' : 'eval'}`;
          const fwd = batchNorm(gpu, xT, { training, activation: 'relu', bias, runningMean, runningVar, momentum: 0 });
          const y = await fwd.y.toArray();
          const saved = training ? { saveMean: await fwd.saveMean!.toArray(), saveInvstd: await fwd.saveInvstd!.toArray() } : null;
          const grads = saved
            ? batchNormBackward(gpu, dyT, xT, { training: true, activation: 'relu', bias, saveMean: fwd.saveMean!, saveInvstd: fwd.saveInvstd! })
            : batchNormBackward(gpu, dyT, xT, { training: false, activation: 'relu', bias, runningMean, runningVar });
          await checkMask(what, y, x, dy, shape, grads, () => saved
            ? batchNormBackwardReference(dy, x, shape, { training: true, reluOutput: y, ...saved })
            : batchNormBackwardReference(dy, x, shape, { training: false, reluOutput: y, runningMean: new Float32Array(c), runningVar: new Float32Array(c).fill(1) }), training);
          for (const t of [fwd.y, fwd.saveMean, fwd.saveInvstd, grads.dx]) t?.destroy();
        }
        for (const t of [xT, dyT, bias, runningMean, runningVar]) t.destroy();
      }
    });
  });

  it('blocks dy where the forward stored an f16 0 (the module, training and eval)', async () => {
    const gpu = await testGpu(false);
    await inErrorScopes(gpu, async () => {
      const shape = [4, 3, 5];
      const x = halfData(shape);
      const dy = roundToHalf(gaussian(seededRandom(6), numElements(shape), 0.5, 1));
      const xT = Tensor.fromArray(gpu, x, shape, { dtype: 'f16' });
      const dyT = Tensor.fromArray(gpu, dy, shape, { dtype: 'f16' });
      const bn = new BatchNorm(gpu, 3, { activation: 'relu', momentum: 0 });
      bn.loadStateDict({ weight: [1, 1, 1], bias: [TINY, TINY, TINY], running_mean: [0, 0, 0], running_var: [1, 1, 1], num_batches_tracked: 0 });
      for (const training of [true, false]) {
        bn.training = training;
        const y = bn.forward(xT);
        const yValues = await y.toArray();
        const grads = bn.backward(dyT);
        const weight = new Float32Array(3).fill(1);
        // The module keeps its batch statistics to itself: the reference backward takes the float64 ones.
        const stats = batchNormReference(x, shape, { training: true });
        await checkMask(`module ${training ? 'training' : 'eval'}`, yValues, x, dy, shape, grads, () => training
          ? batchNormBackwardReference(dy, x, shape, { training: true, weight, reluOutput: yValues, saveMean: stats.saveMean, saveInvstd: stats.saveInvstd })
          : batchNormBackwardReference(dy, x, shape, { training: false, weight, reluOutput: yValues, runningMean: new Float32Array(3), runningVar: new Float32Array(3).fill(1) }), training);
        for (const t of [y, grads.dx, grads.dweight, grads.dbias]) t?.destroy();
      }
      bn.destroy();
      xT.destroy();
      dyT.destroy();
    });
  });
});
