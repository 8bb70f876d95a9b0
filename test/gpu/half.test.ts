// f16 activations (x, y, dy, dx) with float32 math and float32 statistics and parameters, against the
// float64 references fed the half-precision values the GPU holds. This adapter (SwiftShader) has no
// 'shader-f16', so the packed path runs here: pairs of halves in u32 words, unpack2x16float on load,
// pack2x16float on store, 16-bit atomic stores where an odd run puts two channels' or two windows'
// values in one word. The native path is selected and composed by test/unit/kernels.test.ts.
import { describe, expect, it } from 'vitest';
import { batchNorm, batchNormBackward, Tensor, type Gpu } from '../../src/index.js';
import { batchNormBackwardReference, batchNormReference } from '../../src/reference-entry.js';
import { roundToHalf, toHalfBits } from '../../src/half.js';
import { planOperation } from '../../src/runner.js';
import { channelLayout, numElements } from '../../src/shape.js';
import { backwardTolerances, withHalfRounding, yTolerance } from '../../src/tolerances.js';
import { compareElements } from '../support/compare.js';
import { gaussian, seededRandom, uniform } from '../support/random.js';
import { compareTrainingStatistics } from '../support/tolerances.js';
import { inErrorScopes, testGpu } from './gpu-context.js';

// Tolerances: the float32 bounds of src/tolerances.ts widened by one rounding of y and dx to f16
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
