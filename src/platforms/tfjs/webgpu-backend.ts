// The members of TensorFlow.js's webgpu backend (tfjs-backend-webgpu 4.22's WebGPUBackend) that let our
// kernels run inside it: its device, the GPUBuffer behind each tensor (tensorMap), new outputs from its
// buffer pool (makeTensorInfo + uploadToGPU), and its command encoder, into which our passes are recorded
// so that they are submitted with tfjs's own dispatches. The backend is recognised by these members
// (duck typing), so the module never imports tfjs-backend-webgpu, and a backend registered under another
// name (a WebGPUBackend on the caller's device) qualifies too.
//
// commandEncoder, commandQueueOwnedIds and dispatchCountInPass are private in tfjs's TypeScript: they are
// what tfjs's own runWebGPUProgram uses, and they are checked here, so a tfjs whose internals differ gets
// tfjs's own batch norm (with a warning naming the reason) instead of a wrong recording.
import { backend, env, getBackend, type DataType, type TensorInfo } from '@tensorflow/tfjs-core';
import { Gpu } from '../../runtime/gpu.js';
import { Tensor } from '../../runtime/tensor.js';

/** A tensor's entry in the backend's tensorMap. */
interface TensorData {
  readonly dtype: DataType;
  readonly resource?: unknown;
}

/** What this module uses of tfjs-backend-webgpu 4.22's WebGPUBackend. */
export interface WebGpuBackend {
  readonly device: GPUDevice;
  readonly tensorMap: { get(dataId: object): TensorData };
  uploadToGPU(dataId: object): void;
  makeTensorInfo(shape: number[], dtype: DataType): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  // Private in tfjs's declarations.
  readonly commandEncoder: GPUCommandEncoder | null;
  readonly commandQueueOwnedIds: WeakSet<object>;
  dispatchCountInPass: number;
}

const METHODS = ['uploadToGPU', 'makeTensorInfo', 'disposeData', 'ensureCommandEncoderReady', 'endComputePassEncoder', 'submitQueue'] as const;

/**
 * `backend` as a webgpu backend whose internals this module knows, or the reason it is not one (the
 * message a fallback warning gives).
 */
export function asWebGpuBackend(backend: unknown, name: string): WebGpuBackend | string {
  const b = backend as Partial<Record<string, unknown>> | null;
  const device = b?.device as Partial<GPUDevice> | undefined;
  const isWebGpu = b !== null && typeof b === 'object' && typeof device?.createCommandEncoder === 'function' && typeof b.tensorMap === 'object';
  if (!isWebGpu) return `TensorFlow.js's backend is '${name}', not its webgpu backend`;
  const missing = [
    ...METHODS.filter((m) => typeof b[m] !== 'function'),
    ...(b.commandQueueOwnedIds instanceof WeakSet ? [] : ['commandQueueOwnedIds']),
    ...(typeof b.dispatchCountInPass === 'number' ? [] : ['dispatchCountInPass']),
    ...('commandEncoder' in b ? [] : ['commandEncoder']),
  ];
  if (missing.length > 0) {
    return `the webgpu backend '${name}' lacks ${missing.join(', ')} (this layer knows tfjs-backend-webgpu 4.22's WebGPUBackend)`;
  }
  return b as unknown as WebGpuBackend;
}

const gpus = new WeakMap<WebGpuBackend, Gpu>();

/** @internal The library's Gpu on a backend's device (one per backend: its caches and scratch live there). */
export function gpuOfBackend(backend: WebGpuBackend): Gpu {
  let gpu = gpus.get(backend);
  if (!gpu) gpus.set(backend, (gpu = Gpu.fromDevice(backend.device)));
  return gpu;
}

/**
 * The GPUBuffer holding a float32 tensor's data, stored as float32; values still on the CPU are uploaded as tfjs
 * uploads them for its own kernels.
 */
export function bufferOf(backend: WebGpuBackend, t: TensorInfo, name: string): GPUBuffer {
  if (t.dtype !== 'float32') throw new TypeError(`batch norm's ${name} must be float32, got ${t.dtype}`);
  backend.uploadToGPU(t.dataId);
  const data = backend.tensorMap.get(t.dataId);
  // tfjs's shaders convert such storage as they read; ours read float32.
  if (data.dtype !== 'float32') throw new TypeError(`batch norm's ${name} is float32 stored as ${data.dtype} (a cast of an ${data.dtype} tensor)`);
  const resource = data.resource;
  if (!(resource instanceof GPUBuffer)) throw new TypeError(`batch norm's ${name} is not held in a GPUBuffer by the webgpu backend (a texture?)`);
  return resource;
}

/** The dtype a tensor's data is stored as: a cast to float32 keeps an int32 or bool tensor's. */
export function storedDtype(backend: WebGpuBackend, t: TensorInfo): DataType {
  return backend.tensorMap.get(t.dataId).dtype;
}

/** A tfjs tensor's buffer as one of our tensors, without copying. */
export function wrap(gpu: Gpu, backend: WebGpuBackend, t: TensorInfo, name: string): Tensor {
  return Tensor.fromBuffer(gpu, bufferOf(backend, t, name), t.shape, { label: `tfjs ${name}` });
}

/** A new float32 output of the backend, with its buffer taken from tfjs's pool now. */
export function newOutput(backend: WebGpuBackend, shape: readonly number[]): TensorInfo {
  const info = backend.makeTensorInfo([...shape], 'float32');
  backend.uploadToGPU(info.dataId);
  return info;
}

/**
 * Records `body`'s passes into tfjs's command encoder, between tfjs's own compute passes, and does what
 * tfjs's runWebGPUProgram does after a dispatch: marks the tensors read and written as in use by the
 * pending commands (so that a disposal waits for the submit before their buffers return to the pool), and
 * submits once WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE operations are pending. If `body` throws, the outputs are
 * disposed and the error is rethrown.
 */
export function recordInto<T>(backend: WebGpuBackend, reads: readonly TensorInfo[], outputs: readonly TensorInfo[], body: (encoder: GPUCommandEncoder) => T): T {
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  const encoder = backend.commandEncoder;
  if (!encoder) throw new Error('internal: the webgpu backend has no command encoder after ensureCommandEncoderReady()');
  let result: T;
  try {
    result = body(encoder);
  } catch (error) {
    for (const t of outputs) backend.disposeData(t.dataId, true);
    throw error;
  }
  for (const t of [...reads, ...outputs]) backend.commandQueueOwnedIds.add(t.dataId);
  backend.dispatchCountInPass++;
  if (backend.dispatchCountInPass >= env().getNumber('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE')) backend.submitQueue();
  return result;
}

/** The backend the engine runs kernels on now, and its name. */
export function currentBackend(): { backend: unknown; name: string } {
  return { backend: backend(), name: getBackend() };
}
