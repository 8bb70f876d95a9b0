// The device wrapper: owns (or borrows) a GPUDevice, knows its features and limits, counts the GPU
// buffers the library keeps alive, and turns a lost device into clear errors instead of hangs.
import { reductionWorkgroupsFor, WORKGROUP_SIZES, workgroupSizeFor, type WorkgroupSize } from './adapter.js';
import { describeValue, readOptions } from './options.js';

/** The optional WebGPU features the library uses on a device: those the device has and the caller did not disable. */
export interface GpuFeatures {
  /** WebGPU's `subgroups`: reductions add within a subgroup before going through workgroup memory. */
  readonly subgroups: boolean;
  /**
   * WebGPU's `shader-f16`: f16 tensors are read and written as WGSL's f16. Without it they are stored as
   * pairs of halves packed into 32-bit words, so f16 works on every adapter; the math is f32 either way.
   */
  readonly shaderF16: boolean;
  /** WebGPU's `timestamp-query`: needed by the `timestampWrites` option ({@link EncoderOptions}). */
  readonly timestampQuery: boolean;
}

/**
 * How the statistics loops fold x into their Welford states: 'block' (the default) merges a block of 16
 * values at a time (shaders/fold-block.wgsl), 'vec4' one Elem at a time as before it
 * (shaders/fold-vec4.wgsl).
 */
export type StatisticsMerge = 'block' | 'vec4';
const STATISTICS_MERGES: readonly StatisticsMerge[] = ['block', 'vec4'];

/**
 * How the reductions' loops compensate their sums (the statistics' block sums and the backward's
 * gradient sums): 'value' (the default) adds every value with its exact rounding error (a TwoSum each,
 * shaders/accumulate-two-sum.wgsl); 'kahan' with Kahan's cheaper estimate of it (accumulate-kahan.wgsl).
 */
export type Compensation = 'value' | 'kahan';
const COMPENSATIONS: readonly Compensation[] = ['value', 'kahan'];

/**
 * The reductions' numerical choices, kept selectable so that one benchmark run (and one GPU run of
 * scripts/gpu-run.sh) times and checks them side by side; the options that set them are internal
 * (stripped from the published types). `fences`: whether every compensated intermediate goes through an
 * integer XOR with Params.zero that no compiler can see through (shaders/fence.wgsl), or not
 * (no-fence.wgsl), correct only where the compiler keeps the order of float operations (Mesa's, lavapipe's,
 * does not: it turns every TwoSum error into 0).
 */
export interface Numerics {
  readonly statisticsMerge: StatisticsMerge;
  readonly compensation: Compensation;
  readonly fences: boolean;
}

/** The library's numerics. */
export const DEFAULT_NUMERICS: Numerics = Object.freeze({ statisticsMerge: 'block', compensation: 'value', fences: true });

/** Optional features the library turns on when the adapter offers them. */
export type OptionalFeature = 'subgroups' | 'shader-f16' | 'timestamp-query';
const OPTIONAL_FEATURES: readonly OptionalFeature[] = ['subgroups', 'shader-f16', 'timestamp-query'];

/** Options of {@link requestGpu}. */
export interface RequestGpuOptions {
  /**
   * The WebGPU entry point; default `navigator.gpu`. In Node.js use `requestDawnGpu` from
   * `webgpu-batchnorm/dawn` instead, which makes and keeps Dawn's entry point for you.
   */
  gpu?: GPU;
  /** Passed to `requestAdapter`: 'low-power' or 'high-performance'; default none (the browser chooses). */
  powerPreference?: GPUPowerPreference;
  /** Features to leave off even when offered (tests use it to exercise fallback paths); default none. */
  disableFeatures?: readonly OptionalFeature[];
  /**
   * Largest storage binding the library makes, in bytes: a multiple of 4, at least 256; default (and at
   * most) the device's maxStorageBufferBindingSize. Larger tensors are processed in windows (of whole
   * samples where they fit, else cutting samples); tests set it small.
   */
  maxBindingBytes?: number;
  /**
   * Workgroups each reduction aims for, a positive integer (default from the adapter: 1024 on a GPU, or
   * where the adapter says nothing; 16 on a software adapter such as SwiftShader). Channels short enough
   * for one workgroup each run the one-dispatch plans.
   */
  reductionWorkgroups?: number;
  /**
   * Invocations per workgroup of the statistics, gradient-sum and apply kernels: 64, 128 or 256 (default
   * from the adapter: 256 on a GPU, or where the adapter says nothing; 64 on a software adapter, which
   * runs a workgroup's invocations one after another).
   */
  workgroupSize?: WorkgroupSize;
  /** @internal Whether every statistics invocation gets a whole fold block (default true); see minElemsPerInvocation. */
  wholeFoldBlock?: boolean;
  /** @internal The statistics kernels' fold (default 'block'); see Numerics. */
  statisticsMerge?: StatisticsMerge;
  /** @internal Where the reductions' loops compensate (default 'value'); see Numerics. */
  compensation?: Compensation;
  /** @internal Whether compensated arithmetic is fenced against reassociation (default true); see Numerics. */
  fences?: boolean;
}

/** Options of `Gpu.fromDevice`. */
export interface GpuOptions {
  /**
   * The WebGPU entry point the device came from. In Node, pass Dawn's `create([])` object: the Gpu keeps
   * it referenced, which dawn.node needs for as long as a device made from it is in use.
   */
  gpu?: GPU;
  /** {@inheritDoc RequestGpuOptions.disableFeatures} */
  disableFeatures?: readonly OptionalFeature[];
  /** {@inheritDoc RequestGpuOptions.maxBindingBytes} */
  maxBindingBytes?: number;
  /** {@inheritDoc RequestGpuOptions.reductionWorkgroups} */
  reductionWorkgroups?: number;
  /** {@inheritDoc RequestGpuOptions.workgroupSize} */
  workgroupSize?: WorkgroupSize;
  /** @internal Whether every statistics invocation gets a whole fold block (default true); see minElemsPerInvocation. */
  wholeFoldBlock?: boolean;
  /** @internal The statistics kernels' fold (default 'block'); see Numerics. */
  statisticsMerge?: StatisticsMerge;
  /** @internal Where the reductions' loops compensate (default 'value'); see Numerics. */
  compensation?: Compensation;
  /** @internal Whether compensated arithmetic is fenced against reassociation (default true); see Numerics. */
  fences?: boolean;
}

/** @internal The keys of RequestGpuOptions and GpuOptions (test/unit/options-types.test.ts checks them against the types). */
export const REQUEST_OPTION_KEYS = ['gpu', 'powerPreference', 'disableFeatures', 'maxBindingBytes', 'reductionWorkgroups', 'workgroupSize', 'wholeFoldBlock', 'statisticsMerge', 'compensation', 'fences'] as const;
/** @internal */
export const GPU_OPTION_KEYS = ['gpu', 'disableFeatures', 'maxBindingBytes', 'reductionWorkgroups', 'workgroupSize', 'wholeFoldBlock', 'statisticsMerge', 'compensation', 'fences'] as const;

/**
 * The device is gone: lost, or destroyed by {@link Gpu.destroy}.
 *
 * Pending readbacks reject with it, and so do later calls on its Gpu. Its tensors' contents are gone too;
 * request a new Gpu to go on.
 */
export class DeviceLostError extends Error {
  /**
   * The library makes these when the device's `lost` promise settles or {@link Gpu.destroy} destroys it; the message reads
   * `WebGPU device was lost (reason): message`.
   *
   * @param reason - WebGPU's `GPUDeviceLostInfo.reason` ('destroyed' or 'unknown').
   * @param message - WebGPU's message.
   */
  constructor(reason: string, message: string) {
    super(`WebGPU device was lost (${reason}): ${message}`);
    this.name = 'DeviceLostError';
  }
}

/** A validation, out-of-memory or internal error that the GPU reported for one of the library's operations. */
export class GpuOperationError extends Error {
  /**
   * The library makes these from the error scopes around its own work; the message reads
   * `operation failed on the GPU: gpuMessage`.
   *
   * @param operation - The library's operation, e.g. 'batchNorm forward'.
   * @param gpuMessage - The GPU's message.
   */
  constructor(operation: string, gpuMessage: string) {
    super(`${operation} failed on the GPU: ${gpuMessage}`);
    this.name = 'GpuOperationError';
  }
}

/** @internal What `Gpu.scoped` returns: the body's result and the GPU's verdict on the work it issued. */
export interface Scoped<T> {
  readonly result: T;
  /** Resolves to the first GPU error of the body's work, or null when there was none. */
  readonly error: Promise<Error | null>;
}

// What creating a buffer or a pipeline can raise besides validation errors. A steady-state call creates
// nothing (outputs given, pipelines, parameters and scratch cached), so Gpu.scoped pushes these scopes
// only once its body creates something: one scope to push and pop per call instead of three.
const CREATION_SCOPE_FILTERS: readonly GPUErrorFilter[] = ['out-of-memory', 'internal'];

/** The creation scopes of the Gpu.scoped body being run: pushed yet or not. */
interface ScopeFrame {
  creationScopesPushed: boolean;
}

/**
 * A WebGPU device as the library uses it, from {@link requestGpu}, `requestDawnGpu` or {@link Gpu.fromDevice}.
 *
 * requestGpu (or `requestDawnGpu` in Node.js) makes the device; fromDevice wraps a device of yours. Every tensor and module is made on one Gpu and
 * holds it. It caches pipelines, parameters and scratch buffers for the device, and turns a lost device
 * into {@link DeviceLostError}s instead of hangs.
 *
 * Ownership: call {@link Gpu.destroy} when done with the library on this device. On a device from
 * requestGpu that destroys the device, and with it every tensor made on it; on a device from fromDevice
 * it frees only the library's scratch buffers and leaves the device and its buffers to you.
 */
export class Gpu {
  /** The WebGPU device; share it with your own work (record into an encoder from it, wrap its buffers). */
  readonly device: GPUDevice;
  /** The optional features the library uses on this device. */
  readonly features: GpuFeatures;
  /** Resolves with the error once the device is lost; never resolves otherwise. */
  readonly lost: Promise<DeviceLostError>;
  /** Largest storage binding the library makes; tensors above it are processed in chunks. */
  readonly maxBindingBytes: number;
  /** Workgroups each reduction aims for (from the option, else from the adapter). */
  readonly reductionWorkgroups: number;
  /** Invocations per workgroup of the statistics, gradient-sum and apply kernels (from the option, else from the adapter). */
  readonly workgroupSize: WorkgroupSize;
  /** @internal Whether every statistics invocation gets a whole fold block (from the option, else true). */
  readonly wholeFoldBlock: boolean;
  /** @internal The reductions' numerical choices (from the options, else DEFAULT_NUMERICS). */
  readonly numerics: Numerics;
  // Dawn for Node crashes natively if the GPU object is collected while its device is in use: held here,
  // never read, for as long as this wrapper (which every tensor and module holds) lives.
  readonly #entryPoint: GPU | null;
  readonly #ownsDevice: boolean;
  #lostError: DeviceLostError | null = null;
  #liveBuffers = 0;
  readonly #onDestroy: (() => void)[] = [];
  /** What each scoped body's error scopes will answer, until they have: destroy() waits for them. */
  readonly #pendingScopes = new Set<Promise<GpuOperationError | null>>();
  // Waiters to fail when the device is lost, each removed when its own work settles (reactions attached
  // to `lost` itself would pile up for the device's whole life, one per readback).
  readonly #lossListeners = new Set<(error: DeviceLostError) => void>();
  #scopeFrame: ScopeFrame | null = null;

  private constructor(device: GPUDevice, ownsDevice: boolean, options: GpuOptions) {
    this.device = device;
    this.#entryPoint = options.gpu ?? null;
    this.#ownsDevice = ownsDevice;
    const disabled = options.disableFeatures ?? [];
    const on = (f: OptionalFeature) => device.features.has(f) && !disabled.includes(f);
    this.maxBindingBytes = Math.min(options.maxBindingBytes ?? Infinity, device.limits.maxStorageBufferBindingSize);
    // adapterInfo is on GPUDevice since 2024 (Chromium 131, Dawn); older runtimes get the GPU default.
    const adapterInfo = (device as { adapterInfo?: GPUAdapterInfo }).adapterInfo;
    this.reductionWorkgroups = options.reductionWorkgroups ?? reductionWorkgroupsFor(adapterInfo);
    this.workgroupSize = options.workgroupSize ?? workgroupSizeFor(adapterInfo);
    this.wholeFoldBlock = options.wholeFoldBlock ?? true;
    this.numerics = Object.freeze({
      statisticsMerge: options.statisticsMerge ?? DEFAULT_NUMERICS.statisticsMerge,
      compensation: options.compensation ?? DEFAULT_NUMERICS.compensation,
      fences: options.fences ?? DEFAULT_NUMERICS.fences,
    });
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

  /**
   * Wraps a caller's device (one shared with TensorFlow.js, ONNX Runtime Web or the caller's own WebGPU
   * work). The library never destroys it; the device's features and limits are used as they are.
   *
   * @param device - Your device. Tensors of this Gpu can wrap its buffers ({@link Tensor.fromBuffer}).
   * @param options - The entry point to keep referenced (Dawn) and limits; see {@link GpuOptions}.
   */
  static fromDevice(device: GPUDevice, options: GpuOptions = {}): Gpu {
    assertDevice(device);
    return new Gpu(device, false, readGpuOptions(options, 'Gpu.fromDevice options'));
  }

  /** @internal The WebGPU entry point the device came from, where it was given (requestGpu's, Dawn's); else null. */
  get entryPoint(): GPU | null {
    return this.#entryPoint;
  }

  /** @internal used by requestGpu */
  static fromOwnedDevice(device: GPUDevice, options: GpuOptions): Gpu {
    return new Gpu(device, true, options);
  }

  /** True once the device is lost or destroyed (Gpu.destroy of a requestGpu device): the library's calls on it then throw DeviceLostError. */
  get isLost(): boolean {
    return this.#lostError !== null;
  }

  /** GPU buffers created through this wrapper and not yet destroyed (tensors, scratch, staging). */
  get liveBuffers(): number {
    return this.#liveBuffers;
  }

  /** @internal Throws the device-lost error if the device is gone. */
  assertAlive(): void {
    if (this.#lostError) throw this.#lostError;
  }

  /** @internal A buffer counted in liveBuffers (the library's own allocations). */
  createBuffer(descriptor: GPUBufferDescriptor): GPUBuffer {
    this.assertAlive();
    this.beforeCreating();
    const buffer = this.device.createBuffer(descriptor);
    this.#liveBuffers++;
    return buffer;
  }

  /** @internal Destroys a buffer from createBuffer and stops counting it. */
  destroyBuffer(buffer: GPUBuffer): void {
    buffer.destroy();
    destroyedBuffers.add(buffer);
    this.#liveBuffers--;
  }

  /**
   * @internal
   * Stops counting `buffer` without destroying it: a caller's encoder may still hold work that uses it
   * (scratch replaced by a larger one, a module's saved statistics replaced by its next forward's), so it
   * is left to the garbage collector, which frees it once no
   * command buffer refers to it.
   */
  releaseBuffer(_buffer: GPUBuffer): void {
    this.#liveBuffers--;
  }

  /**
   * @internal
   * Called before creating a GPU object (a buffer, a pipeline): inside a scoped body, pushes the
   * out-of-memory and internal scopes the first time, so that the creation's errors are caught too.
   */
  beforeCreating(): void {
    const frame = this.#scopeFrame;
    if (!frame || frame.creationScopesPushed) return;
    for (const filter of CREATION_SCOPE_FILTERS) this.device.pushErrorScope(filter);
    frame.creationScopesPushed = true;
  }

  /**
   * @internal
   * Runs `body` (which creates or encodes and submits GPU work) inside a validation error scope, and
   * out-of-memory and internal ones from its first creation of a buffer or pipeline on (beforeCreating),
   * so that GPU errors become a promise the caller can surface instead of a silently wrong result.
   */
  scoped<T>(operation: string, body: () => T): Scoped<T> {
    this.assertAlive();
    this.device.pushErrorScope('validation');
    const outerFrame = this.#scopeFrame;
    const frame: ScopeFrame = { creationScopesPushed: false };
    this.#scopeFrame = frame;
    // Innermost first: the creation scopes (if pushed), then the validation scope.
    const popAll = () => {
      const pops = frame.creationScopesPushed ? CREATION_SCOPE_FILTERS.map(() => this.device.popErrorScope()) : [];
      pops.push(this.device.popErrorScope());
      return Promise.all(pops);
    };
    let result: T;
    try {
      result = body();
    } catch (thrown) {
      const popped = popAll().then(() => null, () => null); // the body's own error is the one to report
      this.#pendingScopes.add(popped);
      void popped.finally(() => this.#pendingScopes.delete(popped));
      throw thrown;
    } finally {
      this.#scopeFrame = outerFrame;
    }
    const error = popAll().then(
      (errors) => {
        const first = errors.find((e) => e !== null);
        return first ? new GpuOperationError(operation, first.message) : null;
      },
      () => this.#lostError ?? new GpuOperationError(operation, 'popErrorScope failed'),
    );
    // Dawn aborts the process when a thread ends with a popErrorScope pending: destroy() waits for these.
    this.#pendingScopes.add(error);
    void error.finally(() => this.#pendingScopes.delete(error));
    return { result, error };
  }

  /**
   * Waits for `work` (e.g. `buffer.mapAsync(...)` or `queue.onSubmittedWorkDone()` of your own), rejecting
   * with the {@link DeviceLostError} if the device is lost first: a lost device can leave such promises
   * pending forever.
   */
  untilLost<T>(work: Promise<T>): Promise<T> {
    this.assertAlive();
    return new Promise<T>((resolve, reject) => {
      this.#lossListeners.add(reject);
      work.then(resolve, reject).finally(() => this.#lossListeners.delete(reject));
    });
  }

  /** @internal The device-lost error if the device is lost within `ms` milliseconds, else null. */
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

  /** @internal Registers cleanup (scratch buffers) to run when this wrapper is destroyed. */
  onDestroy(release: () => void): void {
    this.#onDestroy.push(release);
  }

  /**
   * Frees what the library keeps on this device (scratch buffers) and destroys the device if the library
   * created it (requestGpu): from then on `isLost` is true, the library's calls on this Gpu throw
   * {@link DeviceLostError}, and every tensor and module on it is gone (their destroy() is then not needed).
   * A device from `fromDevice` is left alone, and the caller's tensors on it stay readable (a later call
   * recreates the scratch it needs). Call it after the last use, once the work recorded into your own
   * encoders is submitted. Idempotent.
   *
   * The returned promise settles once the error scopes the library left open on the device have: await
   * it before a worker thread ends (Dawn aborts the whole process when a thread ends with a
   * `popErrorScope()` pending), after closing its SyncBatchNorm group. It never rejects.
   */
  destroy(): Promise<void> {
    for (const release of this.#onDestroy.splice(0)) release();
    if (this.#ownsDevice) {
      // At once: device.lost settles only later.
      this.#lostError ??= new DeviceLostError('destroyed', 'Gpu.destroy() was called');
      this.device.destroy();
    }
    return Promise.allSettled([...this.#pendingScopes]).then(() => undefined);
  }
}

let devicesRequested = 0;

/**
 * Requests a WebGPU adapter and device (`navigator.gpu`'s unless `options.gpu`) and returns them as a Gpu.
 *
 * The device has the adapter's largest storage-binding and buffer sizes, and `subgroups`, `shader-f16`
 * and `timestamp-query` turned on where offered. It is the returned Gpu's: {@link Gpu.destroy} destroys it.
 *
 * @example
 * ```ts
 * import { requestGpu } from 'webgpu-batchnorm';
 *
 * const gpu = await requestGpu({ powerPreference: 'high-performance' });
 * console.log(gpu.device.adapterInfo.description, gpu.features); // { subgroups, shaderF16, timestampQuery }
 * void gpu.lost.then((error) => console.error(error.message)); // a lost device rejects every later call too
 * // ... tensors, batchNorm, modules on gpu ...
 * gpu.destroy(); // the device and every tensor on it
 * ```
 *
 * @throws Error when WebGPU is missing (no `navigator.gpu` and no `options.gpu`) or there is no adapter;
 * the message names the likely cause.
 */

export async function requestGpu(options: RequestGpuOptions = {}): Promise<Gpu> {
  const read = readOptions(options, 'requestGpu options', REQUEST_OPTION_KEYS);
  const powerPreference = read.powerPreference;
  if (powerPreference !== undefined && powerPreference !== 'low-power' && powerPreference !== 'high-performance') {
    throw new TypeError(`powerPreference must be 'low-power' or 'high-performance', got ${describeValue(powerPreference)}`);
  }
  const gpuOptions = readGpuOptions(read, 'requestGpu options');
  const entryPoint = gpuOptions.gpu ?? (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!entryPoint) {
    throw new Error("WebGPU is not available: navigator.gpu is undefined (in Node.js, use requestDawnGpu from 'webgpu-batchnorm/dawn', with the webgpu package installed)");
  }
  const adapter = await entryPoint.requestAdapter(powerPreference ? { powerPreference } : {});
  if (!adapter) throw new Error(NO_ADAPTER);
  const disabled = gpuOptions.disableFeatures ?? [];
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f) && !disabled.includes(f));
  const device = await adapter.requestDevice({
    // Numbered, so that WebGPU's messages about a resource of another device tell the two apart.
    label: `webgpu-batchnorm #${++devicesRequested}`,
    requiredFeatures,
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
      maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage,
    },
  });
  return Gpu.fromOwnedDevice(device, { ...gpuOptions, gpu: entryPoint });
}

const NO_ADAPTER =
  'WebGPU is available but requestAdapter() returned no adapter. In a browser, WebGPU may be disabled or ' +
  'the GPU blocklisted (see chrome://gpu). In Node.js on Dawn (the webgpu package), Dawn needs a Vulkan ' +
  'loader (libvulkan.so.1, Debian package libvulkan1) and a Vulkan driver: a GPU\'s, or SwiftShader\'s ' +
  'CPU driver named by VK_ICD_FILENAMES (Debian\'s chromium package ships /usr/lib/chromium/vk_swiftshader_icd.json).';

/** Buffers the library destroyed; a tensor cannot wrap one. */
const destroyedBuffers = new WeakSet<GPUBuffer>();

/** @internal Whether the library destroyed `buffer` (a destroyed tensor's buffer). */
export function wasDestroyedByLibrary(buffer: GPUBuffer): boolean {
  return destroyedBuffers.has(buffer);
}

/** @internal Throws a clear error when plain-JavaScript callers pass something else where a Gpu goes. */
export function assertGpu(gpu: unknown, what = 'gpu'): asserts gpu is Gpu {
  if (!(gpu instanceof Gpu)) {
    throw new TypeError(`${what} must be a Gpu (from requestGpu() or Gpu.fromDevice(device)), got ${describeValue(gpu)}`);
  }
}

function readGpuOptions(options: unknown, what: string): GpuOptions {
  const read = readOptions(options, what, GPU_OPTION_KEYS);
  const { gpu, disableFeatures, maxBindingBytes, reductionWorkgroups, workgroupSize, wholeFoldBlock, statisticsMerge, compensation, fences } = read;
  if (gpu !== undefined && typeof (gpu as Partial<GPU>).requestAdapter !== 'function') {
    throw new TypeError(
      `options.gpu must be a WebGPU entry point (navigator.gpu; in Node.js, use requestDawnGpu from 'webgpu-batchnorm/dawn' instead), got ${describeValue(gpu)}`,
    );
  }
  if (disableFeatures !== undefined) {
    if (!Array.isArray(disableFeatures) || disableFeatures.some((f) => !OPTIONAL_FEATURES.includes(f as OptionalFeature))) {
      throw new TypeError(`disableFeatures must be an array of ${OPTIONAL_FEATURES.map((f) => `'${f}'`).join(', ')}, got ${describeValue(disableFeatures)}`);
    }
  }
  if (maxBindingBytes !== undefined && !(Number.isInteger(maxBindingBytes) && (maxBindingBytes as number) >= 256 && (maxBindingBytes as number) % 4 === 0)) {
    throw new RangeError(`maxBindingBytes must be a multiple of 4 and at least 256, got ${describeValue(maxBindingBytes)}`);
  }
  if (reductionWorkgroups !== undefined && !(Number.isInteger(reductionWorkgroups) && (reductionWorkgroups as number) >= 1)) {
    throw new RangeError(`reductionWorkgroups must be a positive integer, got ${describeValue(reductionWorkgroups)}`);
  }
  if (workgroupSize !== undefined && !WORKGROUP_SIZES.includes(workgroupSize as WorkgroupSize)) {
    throw new RangeError(`workgroupSize must be ${WORKGROUP_SIZES.join(', ').replace(/, (\d+)$/, ' or $1')}, got ${describeValue(workgroupSize)}`);
  }
  if (statisticsMerge !== undefined && !STATISTICS_MERGES.includes(statisticsMerge as StatisticsMerge)) {
    throw new TypeError(`statisticsMerge must be ${STATISTICS_MERGES.map((m) => `'${m}'`).join(' or ')}, got ${describeValue(statisticsMerge)}`);
  }
  if (compensation !== undefined && !COMPENSATIONS.includes(compensation as Compensation)) {
    throw new TypeError(`compensation must be ${COMPENSATIONS.map((m) => `'${m}'`).join(' or ')}, got ${describeValue(compensation)}`);
  }
  if (fences !== undefined && typeof fences !== 'boolean') throw new TypeError(`fences must be true or false, got ${describeValue(fences)}`);
  if (wholeFoldBlock !== undefined && typeof wholeFoldBlock !== 'boolean') throw new TypeError(`wholeFoldBlock must be true or false, got ${describeValue(wholeFoldBlock)}`);
  return {
    ...(compensation === undefined ? {} : { compensation: compensation as Compensation }),
    ...(fences === undefined ? {} : { fences: fences as boolean }),
    ...(gpu === undefined ? {} : { gpu: gpu as GPU }),
    ...(statisticsMerge === undefined ? {} : { statisticsMerge: statisticsMerge as StatisticsMerge }),
    ...(reductionWorkgroups === undefined ? {} : { reductionWorkgroups: reductionWorkgroups as number }),
    ...(workgroupSize === undefined ? {} : { workgroupSize: workgroupSize as WorkgroupSize }),
    ...(wholeFoldBlock === undefined ? {} : { wholeFoldBlock: wholeFoldBlock as boolean }),
    ...(disableFeatures === undefined ? {} : { disableFeatures: disableFeatures as OptionalFeature[] }),
    ...(maxBindingBytes === undefined ? {} : { maxBindingBytes: maxBindingBytes as number }),
  };
}

function assertDevice(device: unknown): asserts device is GPUDevice {
  const d = device as Partial<GPUDevice> | null | undefined;
  if (d === null || typeof d !== 'object' || typeof d.createBuffer !== 'function' || typeof d.queue !== 'object' || !d.limits) {
    throw new TypeError(`Gpu.fromDevice needs a GPUDevice (adapter.requestDevice(), or a library's device), got ${describeValue(device)}`);
  }
}
