// GPU output against the float64 CPU reference under the tests' tolerance model (src/reference/tolerances.ts).
// Unlike the tests' compareElements, which throws, this returns the worst error, for a report or a badge.
import { yTolerance, type ChannelStatistics } from '../src/reference/tolerances.js';

type Values = ArrayLike<number>;

export interface Accuracy {
  /** Largest |gpu - reference|. */
  readonly maxAbsError: number;
  /** Largest error divided by its element's tolerance: <= 1 passes. */
  readonly worstRatio: number;
  readonly worstIndex: number;
  readonly passed: boolean;
}

/**
 * Compares a forward's y with the reference's; `stats` are the reference's per-channel mean and invstd,
 * `weight` and `bias` the forward's (null: 1 and 0) and `residual` its residual z (or null), which set
 * each element's tolerance.
 */
export function forwardAccuracy(
  x: Values,
  shape: readonly number[],
  y: Values,
  expected: Values,
  stats: ChannelStatistics,
  weight: Values | null,
  bias: Values | null,
  residual: Values | null = null,
): Accuracy {
  return elementAccuracy(y, expected, yTolerance(x, shape, stats, weight, bias, 1, residual));
}

/**
 * Worst error of `actual` against `expected` where element i may be off by tolerance(i). As in the tests'
 * compareElements, NaN matches only NaN and an infinity only the same infinity.
 */
export function elementAccuracy(actual: Values, expected: Values, tolerance: (i: number) => number): Accuracy {
  if (actual.length !== expected.length) throw new RangeError(`${actual.length} values against ${expected.length} expected`);
  let maxAbsError = 0;
  let worstRatio = 0;
  let worstIndex = -1;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    // Exact (the only way an infinity matches, and a pass even where the tolerance is 0) or both NaN.
    if (a === e || (Number.isNaN(a) && Number.isNaN(e))) continue;
    const error = Math.abs(a - e);
    const ratio = error / tolerance(i);
    if (!(ratio <= worstRatio)) {
      worstRatio = Number.isNaN(ratio) ? Infinity : ratio;
      worstIndex = i;
    }
    if (!(error <= maxAbsError)) maxAbsError = Number.isNaN(error) ? Infinity : error;
  }
  return { maxAbsError, worstRatio, worstIndex, passed: worstRatio <= 1 };
}
