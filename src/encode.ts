// Encoding shared by the operations: planning an operation's windows, binding tensor windows, and
// submitting one compute pass inside error scopes.
import { planChunks, type Chunk } from './chunking.js';
import { planPasses, type Grid, type PassPlan } from './dispatch.js';
import type { Gpu } from './gpu.js';
import type { Kernel } from './pipelines.js';
import type { ChannelLayout } from './shape.js';
import type { Tensor } from './tensor.js';

/** Windows (chunks of whole samples that fit one binding) and the dispatches of each pass over them. */
export function planOperation(gpu: Gpu, layout: ChannelLayout): PassPlan {
  const { limits } = gpu.device;
  const chunks = planChunks(layout, gpu.maxBindingBytes, limits.minStorageBufferOffsetAlignment);
  return planPasses(layout, chunks, limits.maxComputeWorkgroupsPerDimension);
}

/** The window of `t` (a tensor of x's shape) that `chunk` binds. */
export function tensorWindow(t: Tensor, chunk: Chunk): GPUBufferBinding {
  return { buffer: t.buffer, offset: chunk.bindOffset, size: chunk.bindSize };
}

export function dispatch(pass: GPUComputePassEncoder, kernel: Kernel, bindGroup: GPUBindGroup, grid: Grid): void {
  pass.setPipeline(kernel.pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(grid.x, grid.y);
}

export interface PassSubmission {
  readonly label: string;
  /** The operation's Params records, written to `paramsBuffer` ahead of the pass. */
  readonly paramsBuffer: GPUBuffer;
  readonly params: ArrayBuffer;
  readonly timestampWrites?: GPUComputePassTimestampWrites | undefined;
}

/**
 * Writes the params, encodes one compute pass with `encode` and submits it, all inside error scopes.
 * Returns the GPU's verdict on that work (null when it was valid).
 */
export function submitPass(gpu: Gpu, submission: PassSubmission, encode: (pass: GPUComputePassEncoder) => void): Promise<Error | null> {
  const { label, paramsBuffer, params, timestampWrites } = submission;
  const { error } = gpu.scoped(label, () => {
    gpu.device.queue.writeBuffer(paramsBuffer, 0, params);
    const encoder = gpu.device.createCommandEncoder({ label });
    const pass = encoder.beginComputePass(timestampWrites ? { label, timestampWrites } : { label });
    encode(pass);
    pass.end();
    gpu.device.queue.submit([encoder.finish()]);
  });
  return error;
}
