// The library in Node.js on Dawn (the `webgpu` package), in this process, where Dawn differs from
// Chromium's WebGPU: Dawn's queue.writeBuffer takes no view of a SharedArrayBuffer (Chromium's does),
// and such views are what shared wasm memory (ONNX Runtime Web's) and arrays shared with workers are.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestDawnGpu, useSwiftShaderWithoutGpu } from '../../scripts/dawn.js';
import { roundToHalf } from '../../src/half.js';
import { Tensor, type Gpu } from '../../src/index.js';

let gpu: Gpu;

beforeAll(async () => {
  useSwiftShaderWithoutGpu();
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
