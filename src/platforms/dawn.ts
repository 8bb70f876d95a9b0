// WebGPU in Node.js through Dawn (the npm package `webgpu`, an optional peer dependency), behind the
// `webgpu-batchnorm/dawn` entry (src/dawn.ts), with its traps handled here rather than in every caller:
// - WebGPU's globals (GPUBufferUsage, GPUMapMode, ...) are installed, as a browser has them;
// - the entry point create() returned stays referenced for the life of the process: Dawn crashes natively
//   once it is garbage-collected while a device made from it is in use;
// - the caller never imports 'webgpu', whose declarations import @webgpu/types and therefore clash with
//   TypeScript 7's DOM library (TS2300 duplicate identifiers) in a program that has both.
import { create, globals } from 'webgpu';
import { requestGpu, type Gpu, type RequestGpuOptions } from '../runtime/gpu.js';

let entryPoint: GPU | undefined;

/** Dawn's WebGPU entry point: one per process, never released, with WebGPU's globals installed on first use. */
export function dawnEntryPoint(): GPU {
  if (!entryPoint) {
    Object.assign(globalThis, globals);
    entryPoint = create([]);
  }
  return entryPoint;
}

/**
 * `requestGpu` on Dawn in Node.js: a device of the first adapter Dawn finds.
 *
 * That is a GPU through Vulkan, Metal or D3D12 (or SwiftShader's CPU Vulkan driver, named by
 * `VK_ICD_FILENAMES`). The Gpu owns the device: {@link Gpu.destroy} destroys it.
 *
 * @example
 * ```ts
 * import { batchNorm, Tensor } from 'webgpu-batchnorm';
 * import { requestDawnGpu } from 'webgpu-batchnorm/dawn';
 *
 * const gpu = await requestDawnGpu();
 * const x = Tensor.fromArray(gpu, [1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2]); // [N, C, L]
 * const { y } = batchNorm(gpu, x, { training: true });
 * console.log(await y.toArray()); // about [-1.21, -0.73, -1.21, -0.73, 0.73, 1.21, 0.73, 1.21]
 * gpu.destroy();
 * ```
 *
 * @param options - As requestGpu's, without `gpu` (the entry point is Dawn's).
 */
export function requestDawnGpu(options: Omit<RequestGpuOptions, 'gpu'> = {}): Promise<Gpu> {
  if (options !== null && typeof options === 'object' && 'gpu' in options) {
    throw new TypeError("requestDawnGpu options have no 'gpu': the entry point is Dawn's (use requestGpu to pass your own)");
  }
  return requestGpu({ ...options, gpu: dawnEntryPoint() });
}
