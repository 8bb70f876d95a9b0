// Tensors: a region of a GPU storage buffer with a shape and a dtype. A tensor either owns its buffer
// (created from host data or empty) or wraps a caller's buffer at an offset (Tensor.fromBuffer) without
// copying; destroy() frees only what the tensor owns. Each tensor holds its Gpu, so the device (and
// Dawn's entry point) outlive it.
import { wasDestroyedByLibrary, type Gpu } from './gpu.js';
import { fromHalfBits, toHalfBits } from './half.js';
import { describeValue, readOptions } from './options.js';
import { readBuffer } from './readback.js';
import { assertValidShape, numElements } from './shape.js';
import { BufferUsage } from './webgpu-constants.js';
import { firstError, lastWriteVerdict, recordCreation, recordWrite, registerRegion, writeVersion } from './write-log.js';

/**
 * A tensor's element type in GPU memory: 'f32', or 'f16' (IEEE binary16, as torch.half).
 *
 * Arithmetic is f32 for both; per-channel tensors (weight, bias, statistics, their gradients) are always 'f32'.
 */
export type DType = 'f32' | 'f16';

const BYTES_PER_ELEMENT: Record<DType, number> = { f32: 4, f16: 2 };

/** Options of {@link Tensor.fromArray} and {@link Tensor.empty}. */
export interface TensorOptions {
  /** The element type; default 'f32'. */
  dtype?: DType;
  /** Names the tensor in error messages and in WebGPU's (the buffer's label); default 'tensor'. */
  label?: string;
}

/** Options of {@link Tensor.fromBuffer}. */
export interface WrapOptions extends TensorOptions {
  /** Where the tensor starts in the buffer: a multiple of the device's minStorageBufferOffsetAlignment; default 0. */
  byteOffset?: number;
}

/** @internal The keys of TensorOptions and WrapOptions (test/unit/options-types.test.ts checks them against the types). */
export const TENSOR_OPTION_KEYS = ['dtype', 'label'] as const;
/** @internal */
export const WRAP_OPTION_KEYS = [...TENSOR_OPTION_KEYS, 'byteOffset'] as const;

/** Host data a tensor can be made from. */
export type TensorData = Float32Array | Float64Array | readonly number[];

/**
 * A dense, row-major (C-contiguous) array of numbers in a GPU storage buffer, f32 or f16.
 *
 * Its own buffer ({@link Tensor.fromArray}, {@link Tensor.empty}, an operation's output), or a region of
 * yours ({@link Tensor.fromBuffer}, no copy). Read it back with {@link Tensor.toArray}.
 *
 * Ownership: a tensor you create, and an output an operation allocates for you, is yours: call
 * {@link Tensor.destroy} when done with it to free its GPU memory at once (otherwise WebGPU frees it only
 * when the garbage collector collects the tensor, which may be much later). Destroy it only after
 * submitting the work that uses it: work recorded into your encoder and not yet submitted fails at submit
 * with a destroyed buffer, while work already submitted finishes first (WebGPU frees the memory after it).
 * Tensors a {@link BatchNorm} module holds (`weight`, `runningMean`, ...) are the module's.
 *
 * @example
 * ```ts
 * import { requestGpu, Tensor } from 'webgpu-batchnorm';
 *
 * const gpu = await requestGpu();
 * const x = Tensor.fromArray(gpu, [1, 2, 3, 4, 5, 6], [2, 3]); // f32, uploaded at once
 * const half = Tensor.fromArray(gpu, [1, 2, 3, 4, 5, 6], [2, 3], { dtype: 'f16' });
 * const copy = Tensor.empty(gpu, [2, 3]); // zeros
 * copy.copyFrom(x);
 * x.write([6, 5, 4, 3, 2, 1]); // new values, e.g. an optimizer's
 * console.log(await copy.toArray(), await x.toArray(), await half.toArray()); // Float32Arrays
 * // A buffer of yours, wrapped without a copy: destroy() drops the wrapper, the buffer stays yours.
 * const buffer = gpu.device.createBuffer({ size: 24, usage: 0x80 | 0x08 | 0x04 }); // STORAGE | COPY_DST | COPY_SRC
 * const wrapped = Tensor.fromBuffer(gpu, buffer, [2, 3]);
 * for (const t of [x, half, copy, wrapped]) t.destroy();
 * ```
 */
export class Tensor {
  /** The Gpu the tensor lives on; it keeps the device (and Dawn's entry point) alive. */
  readonly gpu: Gpu;
  /** Dimensions, outermost first (e.g. [N, C, H, W]); frozen. */
  readonly shape: readonly number[];
  /** The element type in GPU memory. */
  readonly dtype: DType;
  /** Names the tensor in error messages and in WebGPU's (the label of a buffer the tensor created). */
  readonly label: string;
  /** Where the tensor's first element lies in `buffer` (0 unless it wraps a caller's buffer). */
  readonly byteOffset: number;
  /** False when the tensor wraps a caller's buffer, which destroy() then leaves alone. */
  readonly ownsBuffer: boolean;
  #buffer: GPUBuffer | null;

  private constructor(gpu: Gpu, buffer: GPUBuffer, shape: readonly number[], dtype: DType, label: string, byteOffset: number, owns: boolean) {
    this.gpu = gpu;
    this.#buffer = buffer;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.label = label;
    this.byteOffset = byteOffset;
    this.ownsBuffer = owns;
    registerRegion(this);
  }

  /** Number of elements: the product of the shape (1 for shape []). */
  get size(): number {
    return numElements(this.shape);
  }

  /** Bytes of the elements: size times 4 (f32) or 2 (f16); the buffer region is this, rounded up to 4. */
  get byteLength(): number {
    return this.size * BYTES_PER_ELEMENT[this.dtype];
  }

  /** True after {@link Tensor.destroy} (or a module's destroy() for its tensors): the tensor can no longer be used. */
  get isDestroyed(): boolean {
    return this.#buffer === null;
  }

  /**
   * Writes to this tensor through the library so far (PyTorch's version counter), through it or through
   * any tensor overlapping its bytes of the buffer.
   */
  get version(): number {
    return writeVersion(this);
  }

  /** The storage buffer; throws if the tensor was destroyed. */
  get buffer(): GPUBuffer {
    if (!this.#buffer) throw new Error(`tensor '${this.label}' [${this.shape.join(',')}] was destroyed`);
    return this.#buffer;
  }

  /** The tensor's region of its buffer, as a binding resource. */
  get binding(): GPUBufferBinding {
    return { buffer: this.buffer, offset: this.byteOffset, size: paddedBytes(this.byteLength) };
  }

  /**
   * A new tensor without data to upload, e.g. an `out` tensor for an operation to write. It reads as zeros:
   * WebGPU zero-fills every new buffer (there is no uninitialized GPU memory to read), so unlike
   * torch.empty its contents are defined, at no cost beyond the allocation.
   */
  static empty(gpu: Gpu, shape: readonly number[], options: TensorOptions = {}): Tensor {
    const { dtype, label } = readTensorOptions(gpu, shape, options);
    const { result, error } = gpu.scoped(`creating tensor '${label}'`, () => Tensor.allocate(gpu, shape, dtype, label));
    recordCreation(result, error);
    return result;
  }

  /**
   * A new tensor holding `data`, uploaded with `queue.writeBuffer` (converted to the dtype; f16 rounds to
   * nearest even, as torch.half).
   *
   * @param data - Row-major values, exactly as many as `shape` has elements.
   * @param shape - Dimensions, each a non-negative integer (a 0 makes an empty tensor, such as a replica's
   * empty batch for {@link SyncBatchNorm}; batchNorm and batchNormBackward refuse those).
   */
  static fromArray(gpu: Gpu, data: TensorData, shape: readonly number[], options: TensorOptions = {}): Tensor {
    const { dtype, label } = readTensorOptions(gpu, shape, options);
    assertFitsBuffer(gpu, shape, dtype, label); // before the data is read: a size error comes at once
    assertTensorData(data, shape);
    const bytes = uploadBytes(data, dtype);
    const { result, error } = gpu.scoped(`uploading tensor '${label}'`, () => {
      const tensor = Tensor.allocate(gpu, shape, dtype, label);
      try {
        if (bytes.byteLength > 0) gpu.device.queue.writeBuffer(tensor.buffer, 0, bytes.buffer, bytes.byteOffset, bytes.byteLength);
      } catch (thrown) {
        tensor.destroy();
        throw thrown;
      }
      return tensor;
    });
    recordCreation(result, error);
    return result;
  }

  /**
   * Wraps `buffer` (the caller's, e.g. a TensorFlow.js or ONNX Runtime Web tensor's) without copying.
   * It needs STORAGE usage (and COPY_SRC for toArray); destroy() never destroys it.
   */
  static fromBuffer(gpu: Gpu, buffer: GPUBuffer, shape: readonly number[], options: WrapOptions = {}): Tensor {
    const read = readOptions(options, 'Tensor.fromBuffer options', WRAP_OPTION_KEYS);
    const { dtype, label } = readTensorOptions(gpu, shape, {
      ...(read.dtype === undefined ? {} : { dtype: read.dtype as DType }),
      ...(read.label === undefined ? {} : { label: read.label as string }),
    });
    const what = `Tensor.fromBuffer('${label}')`;
    const b = buffer as Partial<GPUBuffer> | null;
    if (b === null || typeof b !== 'object' || typeof b.usage !== 'number' || typeof b.size !== 'number') {
      throw new TypeError(`${what} needs a GPUBuffer, got ${describeValue(buffer)}`);
    }
    if (wasDestroyedByLibrary(buffer)) throw new Error(`${what}: the buffer ('${buffer.label}') was destroyed`);
    if ((buffer.usage & BufferUsage.STORAGE) === 0) {
      throw new Error(`${what}: the buffer ('${buffer.label}') lacks STORAGE usage (usage = 0x${buffer.usage.toString(16)}); batch-norm kernels bind it as storage`);
    }
    const byteOffset = read.byteOffset ?? 0;
    const alignment = gpu.device.limits.minStorageBufferOffsetAlignment;
    if (typeof byteOffset !== 'number' || !Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset % alignment !== 0) {
      throw new RangeError(`${what}: byteOffset must be a non-negative multiple of the device's minStorageBufferOffsetAlignment (${alignment}), got ${describeValue(byteOffset)}`);
    }
    const needed = paddedBytes(numElements(shape) * BYTES_PER_ELEMENT[dtype]);
    if (byteOffset + needed > buffer.size) {
      throw new RangeError(
        `${what}: shape [${shape.join(',')}] (${dtype}) needs ${needed} bytes from byteOffset ${byteOffset}, but the buffer has ${buffer.size} bytes`,
      );
    }
    return new Tensor(gpu, buffer, shape, dtype, label, byteOffset, false);
  }

  /**
   * Resolves when the GPU has accepted the work that last wrote this tensor; rejects with that work's
   * GPU error, or with the device-lost error once the device (and so the tensor's contents) is gone.
   */
  async ready(): Promise<void> {
    const error = await lastWriteVerdict(this);
    if (error) throw error;
    this.gpu.assertAlive();
  }

  /**
   * Writes `data` (one number per element, in the tensor's memory order; rounded to half precision for an
   * f16 tensor) into the tensor with `queue.writeBuffer`, e.g. an optimizer's new weights:
   * `bn.weight.write(updated)`. It counts as a write of the tensor, as an operation's output does, so a
   * backward of a forward that read the old values is refused, and a GPU error of the upload rejects
   * toArray() and ready(). Like every `queue.writeBuffer`, it lands before any command buffer submitted
   * after this call, including one recorded (with `encoder`) before it.
   *
   * @throws TypeError or RangeError for data of another length or type, or a region that writeBuffer
   * cannot write (an f16 tensor of odd length or offset that shares a 4-byte word with its neighbour).
   */
  write(data: TensorData): void {
    const what = `tensor '${this.label}'.write`;
    this.#assertWritable(what);
    assertTensorData(data, this.shape);
    const bytes = uploadBytes(data, this.dtype);
    if (this.byteLength === 0) return;
    // packHalf's spare element fills an owned odd-length f16 tensor's last word, which is its own padding.
    const { error } = this.gpu.scoped(what, () => this.gpu.device.queue.writeBuffer(this.buffer, this.byteOffset, bytes.buffer, bytes.byteOffset, wholeWords(this, what)));
    recordWrite(this, error);
  }

  /**
   * Copies `source` (same shape and dtype, same Gpu) into this tensor with `copyBufferToBuffer`, in a
   * submit of its own: a write of this tensor, counted as {@link Tensor.write}'s is; the GPU error of
   * `source`'s last write, if any, becomes this tensor's too.
   */
  copyFrom(source: Tensor): void {
    const what = `tensor '${this.label}'.copyFrom`;
    this.#assertWritable(what);
    if (!(source instanceof Tensor)) throw new TypeError(`${what} takes a Tensor, got ${describeValue(source)}`);
    if (source.isDestroyed) throw new Error(`${what}: the source tensor '${source.label}' was destroyed`);
    if (source.gpu.device !== this.gpu.device) throw new Error(`${what}: the source tensor '${source.label}' lives on another GPU device`);
    if (source.dtype !== this.dtype || source.shape.length !== this.shape.length || source.shape.some((d, i) => d !== this.shape[i])) {
      throw new TypeError(`${what}: source '${source.label}' is ${source.dtype} [${source.shape.join(',')}], this tensor is ${this.dtype} [${this.shape.join(',')}]`);
    }
    if ((source.buffer.usage & BufferUsage.COPY_SRC) === 0) throw new Error(`${what}: the source's buffer ('${source.buffer.label}') lacks COPY_SRC usage`);
    if (source === this || this.byteLength === 0) return;
    const bytes = Math.min(wholeWords(this, what), wholeWords(source, `${what} (its source '${source.label}')`));
    const { error } = this.gpu.scoped(what, () => {
      const encoder = this.gpu.device.createCommandEncoder({ label: what });
      encoder.copyBufferToBuffer(source.buffer, source.byteOffset, this.buffer, this.byteOffset, bytes);
      this.gpu.device.queue.submit([encoder.finish()]);
    });
    recordWrite(this, firstError([lastWriteVerdict(source), error]));
  }

  /** A live tensor in a buffer that takes copies (COPY_DST) and whose region is whole words. */
  #assertWritable(what: string): void {
    this.gpu.assertAlive();
    if (this.isDestroyed) throw new Error(`${what}: the tensor was destroyed`);
    if ((this.buffer.usage & BufferUsage.COPY_DST) === 0) throw new Error(`${what}: its buffer ('${this.buffer.label}') lacks COPY_DST usage`);
    wholeWords(this, what);
  }

  /**
   * Copies the tensor's region to the host (f16 widened to f32). Rejects with the GPU error of the work
   * that last wrote it, if the device is lost, or if its buffer was destroyed. The array owns a plain
   * ArrayBuffer (a Blob part, a queue.writeBuffer source, a transferable).
   */
  async toArray(): Promise<Float32Array<ArrayBuffer>> {
    const buffer = this.buffer;
    if ((buffer.usage & BufferUsage.COPY_SRC) === 0) {
      throw new Error(`tensor '${this.label}' wraps a buffer without COPY_SRC usage; toArray() copies from it`);
    }
    const [error, bytes] = await Promise.all([
      lastWriteVerdict(this),
      this.byteLength === 0 ? new ArrayBuffer(0) : readBuffer(this.gpu, buffer, this.byteOffset, this.byteLength, `tensor '${this.label}'`),
    ]);
    if (error) throw error;
    if (this.dtype === 'f32') return new Float32Array(bytes);
    return Float32Array.from(new Uint16Array(bytes), fromHalfBits);
  }

  /**
   * Frees the GPU buffer if the tensor owns it; a wrapped buffer ({@link Tensor.fromBuffer}) is left to its
   * owner. From then on the tensor cannot be read or passed to an operation. Call it once the work that
   * uses the tensor is submitted (see the class's ownership note). Idempotent.
   */
  destroy(): void {
    if (!this.#buffer) return;
    if (this.ownsBuffer) this.gpu.destroyBuffer(this.#buffer);
    this.#buffer = null;
  }

  /**
   * @internal
   * Lets go of the buffer without destroying it: work recorded into a caller's encoder and not yet
   * submitted may still use it, so it is left to the garbage collector (Gpu.releaseBuffer). Idempotent.
   */
  release(): void {
    if (!this.#buffer) return;
    if (this.ownsBuffer) this.gpu.releaseBuffer(this.#buffer);
    this.#buffer = null;
  }

  /** @internal an owned, uninitialised tensor of checked shape and dtype (the operations' outputs). */
  static allocate(gpu: Gpu, shape: readonly number[], dtype: DType, label: string): Tensor {
    const byteLength = assertFitsBuffer(gpu, shape, dtype, label);
    // An empty tensor (no elements) still gets a buffer of 4 bytes, as every binding and copy has.
    const buffer = gpu.createBuffer({ label, size: Math.max(byteLength, 4), usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST });
    return new Tensor(gpu, buffer, shape, dtype, label, 0, true);
  }
}

/** The buffer size a tensor needs; throws if the device cannot make a buffer that large. */
function assertFitsBuffer(gpu: Gpu, shape: readonly number[], dtype: DType, label: string): number {
  const byteLength = paddedBytes(numElements(shape) * BYTES_PER_ELEMENT[dtype]);
  const limit = gpu.device.limits.maxBufferSize;
  if (byteLength > limit) {
    throw new RangeError(`tensor '${label}' [${shape.join(',')}] needs ${byteLength} bytes; the device's maxBufferSize is ${limit}`);
  }
  return byteLength;
}

/**
 * The bytes writeBuffer and copyBufferToBuffer move for `tensor`'s region, which come in whole 4-byte words:
 * its length, or for an owned f16 tensor of odd length that and its own padding. A wrapped region that
 * shares a word with its neighbour cannot be written alone.
 */
function wholeWords(tensor: Tensor, what: string): number {
  const aligned = tensor.byteOffset % 4 === 0 && (tensor.byteLength % 4 === 0 || tensor.ownsBuffer);
  if (!aligned) {
    throw new RangeError(
      `${what}: an f16 tensor of ${tensor.size} elements at byte offset ${tensor.byteOffset} shares a 4-byte word with its neighbour, which writeBuffer and copyBufferToBuffer cannot write alone`,
    );
  }
  return paddedBytes(tensor.byteLength);
}

/** Bindings and copies come in multiples of 4 bytes. */
function paddedBytes(bytes: number): number {
  return Math.ceil(bytes / 4) * 4;
}

function readTensorOptions(gpu: Gpu, shape: readonly number[], options: TensorOptions): { dtype: DType; label: string } {
  gpu.assertAlive();
  const read = readOptions(options, 'tensor options', TENSOR_OPTION_KEYS); // byteOffset only wraps (fromBuffer)
  assertValidShape(shape, 'shape', true); // an empty tensor is a tensor (operations say whether they take one)
  const dtype = read.dtype ?? 'f32';
  if (dtype !== 'f32' && dtype !== 'f16') throw new TypeError(`dtype must be 'f32' or 'f16', got ${describeValue(dtype)}`);
  const label = read.label ?? 'tensor';
  if (typeof label !== 'string') throw new TypeError(`label must be a string, got ${describeValue(label)}`);
  return { dtype, label };
}

function assertTensorData(data: unknown, shape: readonly number[]): asserts data is TensorData {
  const numeric = data instanceof Float32Array || data instanceof Float64Array || (Array.isArray(data) && data.every((v) => typeof v === 'number'));
  if (!numeric) {
    throw new TypeError(`tensor data must be a Float32Array, a Float64Array or an array of numbers, got ${describeValue(data)}`);
  }
  const expected = numElements(shape);
  if (data.length !== expected) throw new RangeError(`data has ${data.length} elements but shape [${shape.join(',')}] needs ${expected}`);
}

/**
 * What queue.writeBuffer uploads for `data` in a tensor of `dtype`: an f32 array over an ArrayBuffer as it
 * is; others converted, and so is a view of a SharedArrayBuffer (shared wasm memory), which Dawn's
 * writeBuffer does not take.
 */
function uploadBytes(data: TensorData, dtype: DType): Float32Array | Uint16Array {
  return dtype === 'f16' ? packHalf(data) : data instanceof Float32Array && data.buffer instanceof ArrayBuffer ? data : Float32Array.from(data);
}

function packHalf(data: TensorData): Uint16Array {
  // One spare element keeps the byte length a multiple of 4 for writeBuffer.
  const out = new Uint16Array(data.length + (data.length % 2));
  for (let i = 0; i < data.length; i++) out[i] = toHalfBits(data[i]!);
  return out;
}
