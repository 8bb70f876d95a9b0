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

/** Storage bindings are limited per binding; chunked processing of larger tensors is not written yet. */
export function assertBindable(gpu: Gpu, t: Tensor, name: string): void {
  const limit = gpu.device.limits.maxStorageBufferBindingSize;
  if (t.byteLength > limit) {
    throw new RangeError(`${name} [${t.shape.join(',')}] is ${t.byteLength} bytes, above the device's maxStorageBufferBindingSize of ${limit}`);
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
