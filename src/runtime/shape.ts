// Shape rules of batch norm: which shapes are allowed and how NCHW splits into (N, C, spatial).
import { describeValue } from './options.js';

/**
 * Checks that every dimension is a positive integer; `what` names the tensor in the message. With
 * `allowEmpty`, 0 is a dimension too: a tensor with no elements, such as a replica's empty batch.
 */
export function assertValidShape(shape: readonly number[], what = 'shape', allowEmpty = false): void {
  if (!Array.isArray(shape)) throw new TypeError(`${what} must be an array of dimensions, got ${describeValue(shape)}`);
  // An index loop, not forEach: forEach skips the holes of a sparse array such as [4, , 4].
  for (let i = 0; i < shape.length; i++) {
    const d: unknown = shape[i];
    if (typeof d !== 'number' || !Number.isInteger(d) || d < (allowEmpty ? 0 : 1)) {
      const rule = allowEmpty ? 'non-negative integers' : 'positive integers';
      throw new RangeError(`${what} [${Array.from(shape, String).join(',')}] has dimension ${i} = ${describeValue(d)}; dimensions must be ${rule}`);
    }
  }
}

export function numElements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * The batch-norm view of x as [outer, C, inner] in memory: `batch` runs (the product of the dimensions
 * before the channel axis) of C channels, each a contiguous run of `spatial` values (the product of the
 * dimensions after it). NCHW is (N, C, H*W); channels-last NHWC is (N*H*W, C, 1).
 */
export interface ChannelLayout {
  readonly batch: number;
  readonly channels: number;
  readonly spatial: number;
}

/** The channel axis as an index: negative values count from the end (axis -1 is the last dimension). */
export function channelAxis(shape: readonly number[], axis: number): number {
  if (typeof axis !== 'number' || !Number.isInteger(axis) || axis < -shape.length || axis >= shape.length) {
    throw new RangeError(`axis must be an integer in [${-shape.length}, ${shape.length - 1}] for x of shape [${shape.join(',')}], got ${describeValue(axis)}`);
  }
  return axis < 0 ? axis + shape.length : axis;
}

/**
 * x's shape without its channel axis: the shape of a per-position mask (Keras's `mask`, of rank one less than
 * x's), for any channel axis.
 */
export function withoutChannelAxis(shape: readonly number[], axis: number): number[] {
  const a = channelAxis(shape, axis);
  return shape.filter((_, i) => i !== a);
}

/**
 * Splits x around its channel axis (default 1, PyTorch's (N, C, *); -1 is channels-last, Keras's default).
 * Rank must be 2 to 5, as nn.BatchNorm1d/2d/3d (or their channels-last forms) take. With `allowEmpty` (the
 * SyncBatchNorm building blocks, where a replica's batch may be empty) dimensions other than the channel's
 * may be 0; otherwise x needs at least one value per channel.
 */
export function channelLayout(shape: readonly number[], axis = 1, allowEmpty = false): ChannelLayout {
  assertValidShape(shape, 'x shape', true);
  if (!allowEmpty && shape.includes(0)) {
    throw new RangeError(
      `x has shape [${shape.join(',')}], which has no elements; batch norm needs at least one value per channel ` +
        '(only the SyncBatchNorm building blocks, batchNormStats and the others, take an empty batch)',
    );
  }
  if (shape.length < 2 || shape.length > 5) {
    throw new RangeError(
      `x has shape [${shape.join(',')}] (rank ${shape.length}); batch norm takes rank 2 to 5: (N,C), (N,C,L), (N,C,H,W), (N,C,D,H,W) or their channels-last forms`,
    );
  }
  const a = channelAxis(shape, axis);
  if (shape[a] === 0) throw new RangeError(`x has shape [${shape.join(',')}] with 0 channels (axis ${axis}); batch norm needs at least one channel`);
  return { batch: numElements(shape.slice(0, a)), channels: shape[a]!, spatial: numElements(shape.slice(a + 1)) };
}
