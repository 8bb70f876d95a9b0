// The library in Node.js on Dawn (the `webgpu` package; the `dawn` project runs it over lavapipe), where Dawn differs from
// Chromium's WebGPU: Dawn's queue.writeBuffer takes no view of a SharedArrayBuffer (Chromium's does),
// and such views are what shared wasm memory (ONNX Runtime Web's) and arrays shared with workers are;
// and what a module recorded several times into one encoder leaves for Dawn's submit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestDawnGpu } from '../../scripts/dawn.js';
import { roundToHalf } from '../../src/runtime/half.js';
import { BatchNorm, Tensor, type Gpu } from '../../src/index.js';
import { batchNormBackwardReference, batchNormReference } from '../../src/reference.js';
import { gaussian, seededRandom } from '../support/random.js';
import { compareBackward, compareY } from '../support/tolerances.js';

let gpu: Gpu;

beforeAll(async () => {
  gpu = await requestDawnGpu();
});

afterAll(() => gpu?.destroy());

describe('host data in a SharedArrayBuffer', () => {
  it('Tensor.fromArray uploads it (f32, f16, a view at an offset, a Float64Array) exactly, and leaks nothing', async () => {
    const values = [1.5, -2.25, 3, 1e-3, 65504, -7.125, 0.1, 42];
    const f32 = new Float32Array(new SharedArrayBuffer(4 * values.length));
    f32.set(values);
    const offsetView = new Float32Array(f32.buffer, 8, 4); // values 2..5
    const f64 = new Float64Array(new SharedArrayBuffer(8 * values.length));
    f64.set(values);
    await gpu.device.queue.onSubmittedWorkDone();
    const before = gpu.liveBuffers;
    const tensors = [
      { t: Tensor.fromArray(gpu, f32, [values.length]), expected: Float32Array.from(values) },
      { t: Tensor.fromArray(gpu, offsetView, [2, 2]), expected: Float32Array.from(values.slice(2, 6)) },
      { t: Tensor.fromArray(gpu, f32, [values.length], { dtype: 'f16' }), expected: roundToHalf(Float32Array.from(values)) },
      { t: Tensor.fromArray(gpu, f64, [values.length]), expected: Float32Array.from(values) },
    ];
    expect(gpu.liveBuffers).toBe(before + tensors.length);
    for (const { t, expected } of tensors) expect(await t.toArray()).toEqual(expected);
    for (const { t } of tensors) t.destroy();
    expect(gpu.liveBuffers).toBe(before);
  });
});

describe('a module recorded several times into one encoder', () => {
  it('training forward, backward, eval forward, training forward: one submit, no GPU error, every output right', async () => {
    const shape = [4, 3, 5];
    const rnd = seededRandom(21);
    const [x1, dy1, x2, x3] = [gaussian(rnd, 60, 1, 2), gaussian(rnd, 60), gaussian(rnd, 60, -1, 3), gaussian(rnd, 60, 2, 1)];
    const t = (values: Float32Array) => Tensor.fromArray(gpu, values, shape);
    const bn = new BatchNorm(gpu, 3);
    const encoder = gpu.device.createCommandEncoder();
    const y1 = bn.forward(t(x1), { encoder });
    const grads = bn.backward(t(dy1), { encoder });
    const y2 = bn.eval().forward(t(x2), { encoder });
    const y3 = bn.train().forward(t(x3), { encoder });
    gpu.device.pushErrorScope('validation');
    gpu.device.queue.submit([encoder.finish()]);
    expect((await gpu.device.popErrorScope())?.message ?? null).toBeNull();
    const ones = [1, 1, 1];
    const ref1 = batchNormReference(x1, shape, { training: true, runningMean: [0, 0, 0], runningVar: ones });
    const ref2 = batchNormReference(x2, shape, { training: false, runningMean: ref1.runningMean!, runningVar: ref1.runningVar! });
    const ref3 = batchNormReference(x3, shape, { training: true, runningMean: ref1.runningMean!, runningVar: ref1.runningVar! });
    compareY('y1', await y1.toArray(), x1, shape, ref1, null, null);
    compareY('y2 (eval)', await y2.toArray(), x2, shape, ref2, null, null);
    compareY('y3', await y3.toArray(), x3, shape, ref3, null, null);
    const gradRef = batchNormBackwardReference(dy1, x1, shape, { training: true, weight: ones, saveMean: Float32Array.from(ref1.saveMean), saveInvstd: Float32Array.from(ref1.saveInvstd) });
    await compareBackward('dx1', grads, gradRef, { dy: dy1, x: x1, shape, weight: ones, training: true });
    expect(bn.numBatchesTracked).toBe(2);
    bn.destroy();
  });
});
