// The training panel's batch-norm calls (demo/mnist/network.ts records them into the step's encoder between
// the demo's own dense and sigmoid kernels). Shown on the page between the region markers; type-checked.
import type { Gpu, Tensor } from 'webgpu-batchnorm';

declare const gpu: Gpu;
declare const dense: Tensor, normalized: Tensor, dNormalized: Tensor, dDense: Tensor;
declare const dGamma: Tensor, dBeta: Tensor;
// #region shown
import { BatchNorm } from 'webgpu-batchnorm';

const bn = new BatchNorm(gpu, 100, { eps: 1e-5, momentum: 0.1 });
const encoder = gpu.device.createCommandEncoder(); // one per step
// ... the demo's dense layer writes `dense` [60, 100] ...
bn.forward(dense, { training: true, encoder, out: { y: normalized } });
// ... sigmoid, later layers, loss, gradients back to dNormalized ...
bn.backward(dNormalized, {
  encoder,
  out: { dx: dDense, dweight: dGamma, dbias: dBeta },
});
gpu.device.queue.submit([encoder.finish()]); // the step: one submit
// Test digits: bn.forward(dense, { training: false, encoder, ... })
// #endregion shown
