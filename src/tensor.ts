// Tensors: a GPU storage buffer with a shape and dtype, created from host data or empty, read back with
// toArray(). Each tensor holds its Gpu, so the device (and Dawn's entry point) outlive it.
import { BufferUsage, type Gpu } from './gpu.js';
import { fromHalfBits, toHalfBits } from './half.js';
import { readBuffer } from './readback.js';
import { assertValidShape, numElements } from './shape.js';
import { assertOutput, type NamedTensor } from './validate.js';

export type DType = 'f32' | 'f16';

const BYTES_PER_ELEMENT: Record<DType, number> = { f32: 4, f16: 2 };

export class Tensor {
  readonly gpu: Gpu;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly label: string;
  #buffer: GPUBuffer | null;
  // GPU errors of the work that created or wrote this tensor; toArray() and ready() surface them.
  #pendingError: Promise<Error | null> = Promise.resolve(null);

  private constructor(gpu: Gpu, buffer: GPUBuffer, shape: readonly number[], dtype: DType, label: string) {
    this.gpu = gpu;
    this.#buffer = buffer;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.label = label;
  }

  get size(): number {
    return numElements(this.shape);
  }

  get byteLength(): number {
    return this.size * BYTES_PER_ELEMENT[this.dtype];
  }

  get isDestroyed(): boolean {
    return this.#buffer === null;
  }

  /** The storage buffer; throws if the tensor was destroyed. */
  get buffer(): GPUBuffer {
    if (!this.#buffer) throw new Error(`tensor '${this.label}' [${this.shape.join(',')}] was destroyed`);
    return this.#buffer;
  }

  /** An uninitialised tensor (used for outputs). */
  static empty(gpu: Gpu, shape: readonly number[], options: { dtype?: DType; label?: string } = {}): Tensor {
    const { result, error } = gpu.scoped(`creating tensor '${options.label ?? 'tensor'}'`, () => Tensor.#allocate(gpu, shape, options));
    result.recordWork(error);
    return result;
  }

  static fromArray(
    gpu: Gpu,
    data: Float32Array | readonly number[],
    shape: readonly number[],
    options: { dtype?: DType; label?: string } = {},
  ): Tensor {
    assertValidShape(shape);
    const expected = numElements(shape);
    if (data.length !== expected) {
      throw new RangeError(`data has ${data.length} elements but shape [${shape.join(',')}] needs ${expected}`);
    }
    const { result, error } = gpu.scoped(`uploading tensor '${options.label ?? 'tensor'}'`, () => {
      const tensor = Tensor.#allocate(gpu, shape, options);
      const bytes = tensor.dtype === 'f16' ? packHalf(data) : data instanceof Float32Array ? data : Float32Array.from(data);
      gpu.device.queue.writeBuffer(tensor.buffer, 0, bytes.buffer, bytes.byteOffset, bytes.byteLength);
      return tensor;
    });
    result.recordWork(error);
    return result;
  }

  static #allocate(gpu: Gpu, shape: readonly number[], options: { dtype?: DType; label?: string }): Tensor {
    assertValidShape(shape);
    const dtype = options.dtype ?? 'f32';
    assertDTypeSupported(gpu, dtype);
    const label = options.label ?? 'tensor';
    // Buffer sizes must be multiples of 4 to be copied and bound.
    const byteLength = Math.ceil((numElements(shape) * BYTES_PER_ELEMENT[dtype]) / 4) * 4;
    const limit = gpu.device.limits.maxBufferSize;
    if (byteLength > limit) {
      throw new RangeError(`tensor '${label}' [${shape.join(',')}] needs ${byteLength} bytes; the device's maxBufferSize is ${limit}`);
    }
    const buffer = gpu.createBuffer({
      label,
      size: byteLength,
      usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST,
    });
    return new Tensor(gpu, buffer, shape, dtype, label);
  }

  /**
   * Adds GPU work that writes this tensor (an operation's error-scope verdict): ready() and toArray()
   * reject with its error. Operations call this for their outputs and for tensors they update in place.
   */
  recordWork(error: Promise<Error | null>): void {
    const earlier = this.#pendingError;
    this.#pendingError = Promise.all([earlier, error]).then(([a, b]) => a ?? b);
  }

  /** The first GPU error of the work that wrote this tensor, or null. */
  get pendingError(): Promise<Error | null> {
    return this.#pendingError;
  }

  /**
   * Resolves when the GPU has accepted the work that wrote this tensor; rejects with its GPU error, or
   * with the device-lost error once the device (and so the tensor's contents) is gone.
   */
  async ready(): Promise<void> {
    const error = await this.#pendingError;
    if (error) throw error;
    this.gpu.assertAlive();
  }

  /** Copies the tensor to the host (f16 is widened to f32). Rejects if the device is lost. */
  async toArray(): Promise<Float32Array> {
    const buffer = this.buffer;
    const [error, bytes] = await Promise.all([this.#pendingError, readBuffer(this.gpu, buffer, this.byteLength)]);
    if (error) throw error;
    if (this.dtype === 'f32') return new Float32Array(bytes);
    return Float32Array.from(new Uint16Array(bytes), fromHalfBits);
  }

  /** Frees the GPU buffer. Idempotent. */
  destroy(): void {
    if (!this.#buffer) return;
    this.gpu.destroyBuffer(this.#buffer);
    this.#buffer = null;
  }
}

function assertDTypeSupported(gpu: Gpu, dtype: DType): void {
  if (dtype !== 'f32' && dtype !== 'f16') throw new TypeError(`dtype must be 'f32' or 'f16', got '${String(dtype)}'`);
  if (dtype === 'f16' && !gpu.features.shaderF16) {
    throw new Error("dtype 'f16' needs the WebGPU feature 'shader-f16', which this adapter/device does not offer");
  }
}

function packHalf(data: Float32Array | readonly number[]): Uint16Array {
  // One spare element keeps the byte length a multiple of 4 for writeBuffer.
  const out = new Uint16Array(data.length + (data.length % 2));
  for (let i = 0; i < data.length; i++) out[i] = toHalfBits(data[i]!);
  return out;
}

/**
 * Marks `outputs` (including tensors updated in place) as written by work whose GPU verdict is `error`
 * and which read `inputs`: an error in either surfaces from the outputs' toArray() and ready().
 */
export function recordOperation(outputs: readonly (Tensor | null)[], inputs: readonly (Tensor | null)[], error: Promise<Error | null>): void {
  const upstream = inputs.filter((t): t is Tensor => t !== null).map((t) => t.pendingError);
  const verdict = Promise.all([...upstream, error]).then((errors) => errors.find((e) => e !== null) ?? null);
  for (const t of outputs) t?.recordWork(verdict);
}

/** One output of an operation: a caller's tensor to write (`provided`) or one to allocate. */
export interface OutputSpec {
  readonly name: string;
  readonly provided: Tensor | undefined;
  readonly shape: readonly number[];
  readonly label: string;
}

/**
 * The tensors an operation writes, in the order of `specs`: the provided ones checked first (live, of
 * their shape, aliasing neither `inputs` nor each other), so that a bad one throws before anything is
 * allocated; then the others allocated.
 */
export function outputTensors(gpu: Gpu, inputs: readonly NamedTensor[], specs: readonly OutputSpec[]): Tensor[] {
  const taken: NamedTensor[] = [...inputs];
  for (const { name, provided, shape } of specs) {
    if (!provided) continue;
    assertOutput(gpu, provided, name, shape, taken);
    taken.push({ name, tensor: provided });
  }
  return specs.map(({ provided, shape, label }) => provided ?? Tensor.empty(gpu, shape, { label }));
}
