// Argument checks shared by the operations: every message names the offending value.
import type { Gpu } from './gpu.js';
import type { Tensor } from './tensor.js';

/** Checks that `t` is a live f32 tensor on `gpu`. */
export function assertUsableTensor(gpu: Gpu, t: Tensor, name: string): void {
  assertTensorObject(t, name);
  if (t.isDestroyed) throw new Error(`${name} ('${t.label}', shape [${t.shape.join(',')}]) was destroyed`);
  if (t.gpu.device !== gpu.device) throw new Error(`${name} ('${t.label}') lives on another GPU device than the one passed`);
  if (t.dtype !== 'f32') throw new TypeError(`${name} has dtype '${t.dtype}'; the batch-norm kernels take 'f32' only (f16 kernels are not written yet)`);
}

/** Checks a per-channel tensor (weight, bias, running statistics): live, f32, C elements. */
export function assertPerChannel(gpu: Gpu, t: Tensor, name: string, channels: number, xShape: readonly number[]): void {
  assertUsableTensor(gpu, t, name);
  if (t.size !== channels) {
    throw new RangeError(`${name} has ${t.size} elements but x has ${channels} channels (shape [${xShape.join(',')}])`);
  }
}

export function assertEps(eps: number): void {
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps < 0) throw new RangeError(`eps must be a finite number >= 0, got ${eps}`);
}

export function assertMomentum(momentum: number): void {
  if (typeof momentum !== 'number' || !(momentum >= 0 && momentum <= 1)) throw new RangeError(`momentum must be in [0, 1] or null, got ${momentum}`);
}

/** A tensor an operation reads or writes, with the name its messages use. */
export interface NamedTensor {
  readonly name: string;
  readonly tensor: Tensor | null;
}

/**
 * Checks that `t`, which the operation writes, is none of `others` (a dispatch cannot read and write
 * the same buffer, and two writers of one buffer race).
 */
export function assertNotAliased(t: Tensor, name: string, others: readonly NamedTensor[]): void {
  const clash = others.find((o) => o.tensor !== null && o.tensor !== undefined && o.tensor.buffer === t.buffer);
  if (clash) throw new Error(`${name} is the same tensor as ${clash.name}; a tensor the operation writes must not alias its other tensors`);
}

/** Checks a caller-provided output tensor: usable, of `shape`, and none of `others`. */
export function assertOutput(gpu: Gpu, t: Tensor, name: string, shape: readonly number[], others: readonly NamedTensor[]): void {
  assertUsableTensor(gpu, t, name);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new RangeError(`${name} has shape [${t.shape.join(',')}] but the operation writes shape [${shape.join(',')}]`);
  }
  assertNotAliased(t, name, others);
}

/** timestampWrites need the 'timestamp-query' feature; say so instead of failing validation later. */
export function assertTimestampWrites(gpu: Gpu, timestampWrites: GPUComputePassTimestampWrites | undefined): void {
  if (timestampWrites && !gpu.features.timestampQuery) {
    throw new Error("timestampWrites need the WebGPU feature 'timestamp-query', which this device does not have");
  }
}

/** Catches plain-JavaScript callers that pass something else where a tensor goes. */
function assertTensorObject(t: unknown, name: string): void {
  if (t === null || typeof t !== 'object' || !('shape' in t)) throw new TypeError(`${name} must be a Tensor, got ${String(t)}`);
}

/** Checks that `t` has the dtype and shape of `like` (a gradient against its input). */
export function assertSameShapeAndDType(
  t: Pick<Tensor, 'shape' | 'dtype'>,
  name: string,
  like: Pick<Tensor, 'shape' | 'dtype'>,
  likeName: string,
): void {
  assertTensorObject(t, name);
  if (t.dtype !== like.dtype) throw new TypeError(`${name} has dtype '${t.dtype}' but ${likeName} has dtype '${like.dtype}'`);
  if (t.shape.length !== like.shape.length || t.shape.some((d, i) => d !== like.shape[i])) {
    throw new RangeError(`${name} has shape [${t.shape.join(',')}] but ${likeName} has shape [${like.shape.join(',')}]; they must match`);
  }
}
