// How the benchmark times a call (bench/gpu-timing.ts). Shown on the page between the region
// markers; type-checked by `tsc --noEmit`.
import type { Gpu, Tensor } from 'webgpu-batchnorm';

declare const gpu: Gpu;
declare const x: Tensor, y: Tensor;
declare const querySet: GPUQuerySet;
const calls = 64;
// #region shown
import { batchNorm } from 'webgpu-batchnorm';

// Many calls recorded into one encoder, one submit; the GPU's clock
// from the first call's start to the last call's end.
const encoder = gpu.device.createCommandEncoder();
for (let i = 0; i < calls; i++) {
  const timestampWrites = {
    querySet,
    ...(i === 0 ? { beginningOfPassWriteIndex: 0 } : {}),
    ...(i === calls - 1 ? { endOfPassWriteIndex: 1 } : {}),
  };
  batchNorm(gpu, x, { training: true, out: { y }, encoder,
    timestampWrites });
}
gpu.device.queue.submit([encoder.finish()]);
// Then resolve the two timestamps: time per call = (end - begin) / calls.
// #endregion shown
