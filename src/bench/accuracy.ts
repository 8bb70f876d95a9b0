// GPU output against the CPU reference, with the same tolerances as the GPU tests: y is x*scale + shift
// in float32, so its error grows with the magnitude of the terms added.

export const Y_RELATIVE_TOLERANCE = 4e-6;
export const Y_ABSOLUTE_TOLERANCE = 1e-6;

export interface Accuracy {
  /** Largest |gpu - reference|. */
  readonly maxAbsError: number;
  /** Largest error divided by its element's tolerance: <= 1 passes. */
  readonly worstRatio: number;
  readonly worstIndex: number;
  readonly passed: boolean;
}

/**
 * Compares y with the reference's; `scale` and `shift` are the reference's per-channel a[c], b[c]
 * (y = x*a + b), which set each element's tolerance.
 */
export function forwardAccuracy(
  x: Float32Array,
  shape: readonly number[],
  y: Float32Array,
  expected: Float64Array,
  scale: Float64Array,
  shift: Float64Array,
): Accuracy {
  const [, channels = 1, ...rest] = shape;
  const spatial = rest.reduce((a, b) => a * b, 1);
  const channelOf = (i: number) => Math.floor(i / spatial) % channels;
  return scaledAccuracy(
    y,
    expected,
    (i) => Math.abs(x[i]! * scale[channelOf(i)]!) + Math.abs(shift[channelOf(i)]!),
    Y_RELATIVE_TOLERANCE,
    Y_ABSOLUTE_TOLERANCE,
  );
}

/**
 * Worst error of `actual` against `expected` where each element's tolerance is
 * relativeTolerance * magnitude[i] + absoluteTolerance.
 */
export function scaledAccuracy(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  magnitude: (i: number) => number,
  relativeTolerance: number,
  absoluteTolerance: number,
): Accuracy {
  let maxAbsError = 0;
  let worstRatio = 0;
  let worstIndex = -1;
  for (let i = 0; i < expected.length; i++) {
    const error = Math.abs(actual[i]! - expected[i]!);
    // An exact match passes even where the tolerance is 0 (0/0 would read as NaN, a failure).
    const ratio = error === 0 ? 0 : error / (relativeTolerance * magnitude(i) + absoluteTolerance);
    if (!(ratio <= worstRatio)) {
      worstRatio = Number.isNaN(ratio) ? Infinity : ratio;
      worstIndex = i;
    }
    if (error > maxAbsError) maxAbsError = error;
  }
  return { maxAbsError, worstRatio, worstIndex, passed: worstRatio <= 1 };
}
