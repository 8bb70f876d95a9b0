// The interactive run's API calls (bench/check.ts runForwardBackward runs them, timed from the forward
// to the last readback). Shown on the page between the region markers; type-checked by `tsc --noEmit`.
import type { Gpu } from 'webgpu-batchnorm';

declare const gpu: Gpu;
declare const data: Float32Array, gradient: Float32Array;
declare const gamma: Float32Array, beta: Float32Array, mean0: Float32Array, var0: Float32Array;
// #region shown
import { batchNorm, batchNormBackward, Tensor } from 'webgpu-batchnorm';

const shape = [8, 16, 14, 14]; // N, C, H, W
const x = Tensor.fromArray(gpu, data, shape);
const dy = Tensor.fromArray(gpu, gradient, shape);
const perChannel = (v: Float32Array) => Tensor.fromArray(gpu, v, [16]);
const [weight, bias] = [perChannel(gamma), perChannel(beta)];
const [runningMean, runningVar] = [perChannel(mean0), perChannel(var0)];

const { y, saveMean, saveInvstd } = batchNorm(gpu, x, {
  training: true, weight, bias, runningMean, runningVar, // updated in place
});
const { dx, dweight, dbias } = batchNormBackward(gpu, dy, x, {
  training: true, weight, saveMean, saveInvstd,
});
const yValues = await y.toArray(); // waits for the GPU, then reads back
// Inference: batchNorm(gpu, x, { training: false, weight, bias,
//   runningMean, runningVar }) normalizes with the running statistics.
// #endregion shown
console.log(yValues, dx, dweight, dbias);
