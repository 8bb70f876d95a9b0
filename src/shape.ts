// Shape rules of batch norm: which shapes are allowed and how NCHW splits into (N, C, spatial).

/** Checks that every dimension is a positive integer; `what` names the tensor in the message. */
export function assertValidShape(shape: readonly number[], what = 'shape'): void {
  if (!Array.isArray(shape)) throw new TypeError(`${what} must be an array of dimensions, got ${String(shape)}`);
  // An index loop, not forEach: forEach skips the holes of a sparse array such as [4, , 4].
  for (let i = 0; i < shape.length; i++) {
    const d: unknown = shape[i];
    if (typeof d !== 'number' || !Number.isInteger(d) || d <= 0) {
      throw new RangeError(`${what} [${Array.from(shape, String).join(',')}] has dimension ${i} = ${String(d)}; dimensions must be positive integers`);
    }
  }
}

export function numElements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The batch-norm view of x: N batches of C channels, each a contiguous run of `spatial` values. */
export interface ChannelLayout {
  readonly batch: number;
  readonly channels: number;
  readonly spatial: number;
}

/** Splits (N, C, *) as torch.nn.functional.batch_norm does; rank must be 2 to 5 (BatchNorm1d/2d/3d). */
export function channelLayout(shape: readonly number[]): ChannelLayout {
  assertValidShape(shape, 'x shape');
  if (shape.length < 2 || shape.length > 5) {
    throw new RangeError(
      `x has shape [${shape.join(',')}] (rank ${shape.length}); batch norm takes (N,C), (N,C,L), (N,C,H,W) or (N,C,D,H,W)`,
    );
  }
  const [batch, channels, ...rest] = shape as [number, number, ...number[]];
  return { batch, channels, spatial: numElements(rest) };
}
