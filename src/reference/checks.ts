// Argument checks of the float64 references (the `webgpu-batchnorm/reference` entry): the GPU API's rules
// for the same options (unknown keys refused, sizes and values named), on arrays instead of tensors.
import { describeValue } from '../runtime/options.js';
import { numElements, withoutChannelAxis } from '../runtime/shape.js';

/** Numbers the references take: a Float32Array (what `Tensor.toArray()` gives), a Float64Array or a plain array. */
export type ReferenceValues = Float32Array | Float64Array | readonly number[];

/** Checks that `value` is an array or typed array of `length` numbers; `what` names it in messages. */
export function assertValues(value: unknown, what: string, length: number): asserts value is ReferenceValues {
  const isArray = Array.isArray(value) || value instanceof Float32Array || value instanceof Float64Array;
  if (!isArray) throw new TypeError(`${what} must be a Float32Array, a Float64Array or an array of numbers, got ${describeValue(value)}`);
  if (value.length !== length) throw new RangeError(`${what} has ${value.length} elements, expected ${length}`);
  if (Array.isArray(value)) {
    const bad = value.findIndex((v) => typeof v !== 'number');
    if (bad >= 0) throw new TypeError(`${what}[${bad}] must be a number, got ${describeValue(value[bad])}`);
  }
}

/** x (or dy) for `shape`: as many values as the shape has elements. */
export function assertTensorValues(value: unknown, what: string, shape: readonly number[]): asserts value is ReferenceValues {
  assertValues(value, `${what} (shape [${shape.join(',')}])`, numElements(shape));
}

/** An optional per-channel array: null/undefined is absent, otherwise C numbers. */
export function optionalChannelValues(value: unknown, what: string, channels: number): ReferenceValues | null {
  if (value === undefined || value === null) return null;
  assertValues(value, `${what} (per channel)`, channels);
  return value;
}

/** An optional array of x's shape: null/undefined is absent. */
export function optionalTensorValues(value: unknown, what: string, shape: readonly number[]): ReferenceValues | null {
  if (value === undefined || value === null) return null;
  assertTensorValues(value, what, shape);
  return value;
}

/**
 * An optional mask (Keras's `mask`): x's shape without its channel axis, entries 0 or 1 (1: the position
 * counts in the batch statistics). null/undefined is absent.
 */
export function optionalMaskValues(value: unknown, shape: readonly number[], axis: number): ReferenceValues | null {
  if (value === undefined || value === null) return null;
  const maskShape = withoutChannelAxis(shape, axis);
  assertValues(value, `mask (shape [${maskShape.join(',')}]: x's shape [${shape.join(',')}] without its channel axis ${axis})`, numElements(maskShape));
  for (let bad = 0; bad < value.length; bad++) {
    if (value[bad] !== 0 && value[bad] !== 1) throw new RangeError(`mask[${bad}] is ${value[bad]}; a mask's entries are 0 (left out of the batch statistics) or 1`);
  }
  return value;
}
