// Argument checks shared by the operations: every message names the offending value.
import { DEFAULT_MOMENTUM, KERAS_DEFAULT_EPSILON, KERAS_DEFAULT_MOMENTUM } from './defaults.js';
import { describeValue, readOptions } from './options.js';
import { Tensor, type DType } from './tensor.js';
import type { Gpu } from './gpu.js';
import { withoutChannelAxis } from './shape.js';

/** Checks that `t` is a live tensor on `gpu` (f32 or f16: x, dy and outputs of x's shape may be either). */
export function assertUsableTensor(gpu: Gpu, t: unknown, name: string): asserts t is Tensor {
  assertTensorObject(t, name);
  if (t.isDestroyed) throw new Error(`${name} ('${t.label}', shape [${t.shape.join(',')}]) was destroyed`);
  if (t.gpu.device !== gpu.device) throw new Error(`${name} ('${t.label}') lives on another GPU device than the one passed`);
}

/**
 * Checks a per-channel tensor (weight, bias, running and saved statistics): live, f32, C elements. They
 * stay float32 with f16 activations, as PyTorch's mixed precision keeps them.
 */
export function assertPerChannel(gpu: Gpu, t: unknown, name: string, channels: number, xShape: readonly number[]): asserts t is Tensor {
  assertUsableTensor(gpu, t, name);
  if (t.dtype !== 'f32') throw new TypeError(`${name} has dtype '${t.dtype}'; per-channel tensors are 'f32' (with f16 activations too)`);
  if (t.size !== channels) {
    throw new RangeError(`${name} has ${t.size} elements but x has ${channels} channels (shape [${xShape.join(',')}])`);
  }
}

/**
 * A mask of x's positions (Keras's `mask`): an f32 tensor of x's shape without the channel axis, bound
 * whole (position-mask.wgsl), so it must fit one binding of the device. Null when absent.
 */
export function optionalMask(gpu: Gpu, t: unknown, xShape: readonly number[], axis: number): Tensor | null {
  if (t === undefined || t === null) return null;
  assertUsableTensor(gpu, t, 'mask');
  const expected = withoutChannelAxis(xShape, axis);
  if (t.shape.length !== expected.length || t.shape.some((d, i) => d !== expected[i])) {
    throw new RangeError(
      `mask has shape [${t.shape.join(',')}]; it must be x's shape [${xShape.join(',')}] without the channel axis (axis ${axis}): [${expected.join(',')}]`,
    );
  }
  if (t.dtype !== 'f32') throw new TypeError(`mask has dtype '${t.dtype}'; a mask is 'f32', 1 where a position counts and 0 where it does not`);
  const limit = gpu.device.limits.maxStorageBufferBindingSize;
  if (t.byteLength > limit) {
    throw new RangeError(`mask takes ${t.byteLength} bytes, more than one binding of this device holds (maxStorageBufferBindingSize ${limit})`);
  }
  return t;
}

/** An optional per-channel tensor: null/undefined is absent. */
export function optionalPerChannel(gpu: Gpu, t: unknown, name: string, channels: number, xShape: readonly number[]): Tensor | null {
  if (t === undefined || t === null) return null;
  assertPerChannel(gpu, t, name, channels, xShape);
  return t;
}

export function assertEps(eps: unknown): asserts eps is number {
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps < 0) throw new RangeError(`eps must be a finite number >= 0, got ${describeValue(eps)}`);
}

export function assertMomentum(momentum: unknown): asserts momentum is number {
  if (typeof momentum !== 'number' || !(momentum >= 0 && momentum <= 1)) {
    throw new RangeError(`momentum must be in [0, 1] or null, got ${typeof momentum === 'number' ? momentum : describeValue(momentum)}`);
  }
}

/** A momentum in Keras's convention, the weight of the old value: a number in [0, 1]; `name` names it in the message. */
export function assertKerasMomentum(momentum: unknown, name: string): asserts momentum is number {
  if (typeof momentum !== 'number' || !(momentum >= 0 && momentum <= 1)) {
    throw new RangeError(`${name} must be in [0, 1] (Keras's convention: moving = momentum*moving + (1 - momentum)*batch), got ${describeValue(momentum)}`);
  }
}

/** The arguments of keras.layers.BatchNormalization that every Keras form here takes, read with Keras's defaults. */
export interface KerasLayerSettings {
  readonly axis: number;
  readonly epsilon: number;
  readonly momentum: number;
  readonly center: boolean;
  readonly scale: boolean;
}

/**
 * Keras's axis (default -1), epsilon (1e-3), momentum (0.99, Keras's convention), center and scale
 * (default true), each checked; `what` names the options in messages.
 */
export function readKerasLayerSettings(
  o: { readonly axis?: unknown; readonly epsilon?: unknown; readonly momentum?: unknown; readonly center?: unknown; readonly scale?: unknown },
  what: string,
): KerasLayerSettings {
  const momentum = o.momentum ?? KERAS_DEFAULT_MOMENTUM;
  assertKerasMomentum(momentum, `${what}.momentum`);
  const epsilon = o.epsilon ?? KERAS_DEFAULT_EPSILON;
  assertEps(epsilon);
  const center = o.center ?? true;
  assertBoolean(center, `${what}.center`);
  const scale = o.scale ?? true;
  assertBoolean(scale, `${what}.scale`);
  const axis = o.axis ?? -1;
  assertAxis(axis, `${what}.axis`);
  return { axis, epsilon, momentum, center, scale };
}

/** Keras's `renorm_clipping`: bounds on batch renormalization's r and d, each optional (an absent one does not clip). */
export interface RenormClipping {
  /** r = max(r, rmin). */
  rmin?: number;
  /** r = min(r, rmax); at least rmin when both are given. */
  rmax?: number;
  /** d = clip(d, -dmax, dmax); >= 0. */
  dmax?: number;
}

/** Reads a {@link RenormClipping} as Keras checks it (no other keys, rmin <= rmax, dmax >= 0); null or undefined clips nothing. */
export function readRenormClipping(value: unknown, what: string): { rmin: number | null; rmax: number | null; dmax: number | null } {
  const o = readOptions(value ?? undefined, what, ['rmin', 'rmax', 'dmax']);
  const bound = (key: 'rmin' | 'rmax' | 'dmax'): number | null => {
    const v = o[key] ?? null;
    if (v !== null && (typeof v !== 'number' || Number.isNaN(v))) throw new TypeError(`${what}.${key} must be a number, got ${describeValue(v)}`);
    return v;
  };
  const rmin = bound('rmin');
  const rmax = bound('rmax');
  const dmax = bound('dmax');
  if (rmin !== null && rmax !== null && rmax < rmin) throw new RangeError(`${what}.rmax (${rmax}) is below rmin (${rmin}); r would have no value`);
  if (dmax !== null && dmax < 0) throw new RangeError(`${what}.dmax must be >= 0 (d is clipped to [-dmax, dmax]), got ${dmax}`);
  return { rmin, rmax, dmax };
}

export function assertBoolean(value: unknown, name: string): asserts value is boolean {
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be true or false, got ${describeValue(value)}`);
}

/** Checks a caller-provided output tensor: usable, of `shape` and `dtype`. */
export function assertOutput(gpu: Gpu, t: unknown, name: string, shape: readonly number[], dtype: DType): asserts t is Tensor {
  assertUsableTensor(gpu, t, name);
  if (t.dtype !== dtype) throw new TypeError(`${name} has dtype '${t.dtype}' but the operation writes '${dtype}'`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new RangeError(`${name} has shape [${t.shape.join(',')}] but the operation writes shape [${shape.join(',')}]`);
  }
}

/** Catches plain-JavaScript callers that pass something else where a tensor goes. */
function assertTensorObject(t: unknown, name: string): asserts t is Tensor {
  if (!(t instanceof Tensor)) {
    throw new TypeError(`${name} must be a Tensor (Tensor.fromArray, Tensor.fromBuffer or an operation's output), got ${describeValue(t)}`);
  }
}

/** Checks that `t` has the dtype and shape of `like` (a gradient against its input). */
export function assertSameShapeAndDType(t: unknown, name: string, like: Pick<Tensor, 'shape' | 'dtype'>, likeName: string): asserts t is Tensor {
  assertTensorObject(t, name);
  if (t.dtype !== like.dtype) throw new TypeError(`${name} has dtype '${t.dtype}' but ${likeName} has dtype '${like.dtype}'`);
  if (t.shape.length !== like.shape.length || t.shape.some((d, i) => d !== like.shape[i])) {
    throw new RangeError(`${name} has shape [${t.shape.join(',')}] but ${likeName} has shape [${like.shape.join(',')}]; they must match`);
  }
}

/**
 * The backward's stored y of a forward with a residual: required with residual and a ReLU (its sign is the
 * mask, which x cannot give back), refused otherwise; `what` names the function. Returns it, or null.
 */
export function readStoredY(gpu: Gpu, what: string, residual: boolean, relu: boolean, y: unknown, x: Tensor): Tensor | null {
  const storedY = (y ?? null) as Tensor | null;
  if (residual && relu) {
    if (storedY === null) throw new TypeError(`${what} with residual: true and activation: 'relu' needs y (the forward's output, whose sign is the ReLU's mask)`);
    assertSameShapeAndDType(storedY, 'y', x, 'x');
    assertUsableTensor(gpu, storedY, 'y');
  } else if (storedY !== null) {
    throw new Error("y is read only with residual: true and activation: 'relu' (its sign is then the ReLU's mask)");
  }
  return storedY;
}

/** Activations fused into the apply pass. */
export type Activation = 'relu';

export function assertActivation(activation: unknown, name = 'activation'): asserts activation is Activation | null {
  if (activation !== null && activation !== 'relu') throw new TypeError(`${name} must be 'relu' or null, got ${describeValue(activation)}`);
}

/** A channel axis given before x's rank is known (the module's): an integer, negative from the end. */
export function assertAxis(axis: unknown, name: string): asserts axis is number {
  if (typeof axis !== 'number' || !Number.isInteger(axis)) {
    throw new TypeError(`${name} must be an integer (the channel dimension, negative from the end), got ${describeValue(axis)}`);
  }
}

export function assertRunningVarEstimator(estimator: unknown): asserts estimator is 'unbiased' | 'biased' {
  if (estimator !== 'unbiased' && estimator !== 'biased') {
    throw new TypeError(`runningVarEstimator must be 'unbiased' or 'biased', got ${describeValue(estimator)}`);
  }
}

/** The factor that blends batch statistics into the running ones (PyTorch's exponential_average_factor). */
export function runningFactor(training: boolean, hasRunning: boolean, momentumOption: unknown, tracked: unknown): number {
  if (tracked !== undefined && (typeof tracked !== 'number' || !Number.isInteger(tracked) || tracked < 1)) {
    throw new RangeError(`numBatchesTracked must be an integer >= 1 (batches seen including this one), got ${describeValue(tracked)}`);
  }
  const momentum = momentumOption === undefined ? DEFAULT_MOMENTUM : momentumOption;
  if (momentum !== null) {
    assertMomentum(momentum);
    return momentum;
  }
  if (!training || !hasRunning) return 0; // nothing is updated
  if (tracked === undefined) {
    throw new RangeError('momentum: null (cumulative average) needs numBatchesTracked >= 1 including this batch, got undefined');
  }
  return 1 / tracked;
}
