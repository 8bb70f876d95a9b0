// The device wrapper: owns (or borrows) a GPUDevice, knows its features and limits, counts the GPU
// buffers the library keeps alive, and turns a lost device into clear errors instead of hangs.

export interface GpuFeatures {
  readonly subgroups: boolean;
  readonly shaderF16: boolean;
  readonly timestampQuery: boolean;
}

/** Optional features the library turns on when the adapter offers them. */
export type OptionalFeature = 'subgroups' | 'shader-f16' | 'timestamp-query';
const OPTIONAL_FEATURES: readonly OptionalFeature[] = ['subgroups', 'shader-f16', 'timestamp-query'];

export interface RequestGpuOptions {
  /** The WebGPU entry point; defaults to `navigator.gpu`. In Node, pass Dawn's `create([])`. */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
  /** Features to leave off even when offered (tests use it to exercise fallback paths). */
  disableFeatures?: readonly OptionalFeature[];
  /**
   * Largest storage binding the library makes, in bytes (default: the device's
   * maxStorageBufferBindingSize). Larger tensors are processed in chunks; tests set it small.
   */
  maxBindingBytes?: number;
}

/** Options of the Gpu wrapper itself (requestGpu passes its own through). */
export type GpuOptions = Pick<RequestGpuOptions, 'disableFeatures' | 'maxBindingBytes'>;

// Buffer usage bits are fixed by the WebGPU spec; spelling them here keeps the library working in Node,
// where Dawn's `GPUBufferUsage` global exists only if the caller installed it.
export const BufferUsage = {
  MAP_READ: 0x0001,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
} as const;

export class DeviceLostError extends Error {
  constructor(reason: string, message: string) {
    super(`WebGPU device was lost (${reason}): ${message}`);
    this.name = 'DeviceLostError';
  }
}

/** A validation, out-of-memory or internal error that the GPU reported for one of the library's operations. */
export class GpuOperationError extends Error {
  constructor(operation: string, gpuMessage: string) {
    super(`${operation} failed on the GPU: ${gpuMessage}`);
    this.name = 'GpuOperationError';
  }
}

/** What `Gpu.scoped` returns: the body's result and the GPU's verdict on the work it issued. */
export interface Scoped<T> {
  readonly result: T;
  /** Resolves to the first GPU error of the body's work, or null when there was none. */
  readonly error: Promise<Error | null>;
}

const SCOPE_FILTERS: readonly GPUErrorFilter[] = ['validation', 'out-of-memory', 'internal'];

export class Gpu {
  readonly device: GPUDevice;
  readonly features: GpuFeatures;
  /** Resolves with the error once the device is lost; never resolves otherwise. */
  readonly lost: Promise<DeviceLostError>;
  /** Largest storage binding the library makes; tensors above it are processed in chunks. */
  readonly maxBindingBytes: number;
  // Dawn for Node crashes natively if the GPU object is collected while its device is in use: held here,
  // never read, for as long as this wrapper (which every tensor and module holds) lives.
  readonly #entryPoint: GPU | null;
  readonly #ownsDevice: boolean;
  #lostError: DeviceLostError | null = null;
  #liveBuffers = 0;
  readonly #onDestroy: (() => void)[] = [];
  // Waiters to fail when the device is lost, each removed when its own work settles (reactions attached
  // to `lost` itself would pile up for the device's whole life, one per readback).
  readonly #lossListeners = new Set<(error: DeviceLostError) => void>();

  private constructor(device: GPUDevice, entryPoint: GPU | null, ownsDevice: boolean, options: GpuOptions) {
    this.device = device;
    this.#entryPoint = entryPoint;
    this.#ownsDevice = ownsDevice;
    const disabled = options.disableFeatures ?? [];
    const on = (f: OptionalFeature) => device.features.has(f) && !disabled.includes(f);
    assertMaxBindingBytes(options.maxBindingBytes);
    this.maxBindingBytes = Math.min(options.maxBindingBytes ?? Infinity, device.limits.maxStorageBufferBindingSize);
    this.features = Object.freeze({
      subgroups: on('subgroups'),
      shaderF16: on('shader-f16'),
      timestampQuery: on('timestamp-query'),
    });
    this.lost = device.lost.then((info) => {
      const error = new DeviceLostError(info.reason, info.message || 'no message');
      this.#lostError = error;
      for (const listener of this.#lossListeners) listener(error);
      this.#lossListeners.clear();
      return error;
    });
  }

  /** Wraps a caller's device. The library never destroys it. */
  static fromDevice(device: GPUDevice, options: GpuOptions = {}): Gpu {
    return new Gpu(device, null, false, options);
  }

  /** @internal used by requestGpu */
  static fromOwnedDevice(device: GPUDevice, entryPoint: GPU, options: GpuOptions): Gpu {
    return new Gpu(device, entryPoint, true, options);
  }

  get isLost(): boolean {
    return this.#lostError !== null;
  }

  /** GPU buffers created through this wrapper and not yet destroyed (tensors, scratch, staging). */
  get liveBuffers(): number {
    return this.#liveBuffers;
  }

  /** Throws the device-lost error if the device is gone. */
  assertAlive(): void {
    if (this.#lostError) throw this.#lostError;
  }

  createBuffer(descriptor: GPUBufferDescriptor): GPUBuffer {
    this.assertAlive();
    const buffer = this.device.createBuffer(descriptor);
    this.#liveBuffers++;
    return buffer;
  }

  destroyBuffer(buffer: GPUBuffer): void {
    buffer.destroy();
    this.#liveBuffers--;
  }

  /**
   * Runs `body` (which creates or encodes and submits GPU work) inside validation, out-of-memory and
   * internal error scopes, so that GPU errors become a promise the caller can surface instead of a
   * silently wrong result.
   */
  scoped<T>(operation: string, body: () => T): Scoped<T> {
    this.assertAlive();
    for (const filter of SCOPE_FILTERS) this.device.pushErrorScope(filter);
    const popAll = () => Promise.all(SCOPE_FILTERS.map(() => this.device.popErrorScope()));
    let result: T;
    try {
      result = body();
    } catch (thrown) {
      void popAll().catch(() => undefined); // the body's own error is the one to report
      throw thrown;
    }
    const error = popAll().then(
      (errors) => {
        const first = errors.find((e) => e !== null);
        return first ? new GpuOperationError(operation, first.message) : null;
      },
      () => this.#lostError ?? new GpuOperationError(operation, 'popErrorScope failed'),
    );
    return { result, error };
  }

  /** Waits for `work`, rejecting with the device-lost error if the device is lost first. */
  untilLost<T>(work: Promise<T>): Promise<T> {
    this.assertAlive();
    return new Promise<T>((resolve, reject) => {
      this.#lossListeners.add(reject);
      work.then(resolve, reject).finally(() => this.#lossListeners.delete(reject));
    });
  }

  /** The device-lost error if the device is lost within `ms` milliseconds, else null. */
  lossWithin(ms: number): Promise<DeviceLostError | null> {
    if (this.#lostError) return Promise.resolve(this.#lostError);
    return new Promise((resolve) => {
      const listener = (error: DeviceLostError) => {
        clearTimeout(timer);
        resolve(error);
      };
      const timer = setTimeout(() => {
        this.#lossListeners.delete(listener);
        resolve(null);
      }, ms);
      this.#lossListeners.add(listener);
    });
  }

  /** Registers cleanup (scratch buffers) to run when this wrapper is destroyed. */
  onDestroy(release: () => void): void {
    this.#onDestroy.push(release);
  }

  /**
   * Frees what the library keeps on this device (scratch buffers) and destroys the device if the library
   * created it; a device from `fromDevice` is left alone. Idempotent.
   */
  destroy(): void {
    for (const release of this.#onDestroy.splice(0)) release();
    if (this.#ownsDevice) this.device.destroy();
  }
}

/**
 * Requests an adapter and a device with the adapter's largest storage-binding and buffer sizes, and
 * turns on `subgroups`, `shader-f16` and `timestamp-query` where offered.
 */
export async function requestGpu(options: RequestGpuOptions = {}): Promise<Gpu> {
  assertMaxBindingBytes(options.maxBindingBytes);
  const entryPoint = options.gpu ?? (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!entryPoint) {
    throw new Error('WebGPU is not available: navigator.gpu is undefined (pass options.gpu in Node.js)');
  }
  const adapter = await entryPoint.requestAdapter(
    options.powerPreference ? { powerPreference: options.powerPreference } : {},
  );
  if (!adapter) throw new Error('WebGPU is available but requestAdapter() returned no adapter');
  const disabled = options.disableFeatures ?? [];
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f) && !disabled.includes(f));
  const device = await adapter.requestDevice({
    label: 'webgpu-batchnorm',
    requiredFeatures,
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
      maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage,
    },
  });
  return Gpu.fromOwnedDevice(device, entryPoint, options);
}

function assertMaxBindingBytes(value: number | undefined): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= 256 && value % 4 === 0)) {
    throw new RangeError(`maxBindingBytes must be a multiple of 4 and at least 256, got ${value}`);
  }
}
