// The shared tolerance model (src/reference/tolerances.ts) and the benchmark's non-throwing comparison
// (bench/accuracy.ts): the bounds are the stated formulas, and NaN, infinities and zero tolerances
// are judged as the tests' compareElements judges them.
import { describe, expect, it } from 'vitest';
import { elementAccuracy } from '../../bench/accuracy.js';
import {
  agreementTolerance,
  backwardTolerances,
  blendedTolerance,
  MOVING_GRADIENT_OPS_RTOL,
  movingStatisticsGradientTolerances,
  channelOfIndex,
  DX_RTOL,
  meanTolerance,
  relativeTolerance,
  STAT_RTOL,
  SUM_RTOL,
  Y_ATOL,
  Y_RTOL,
  yTolerance,
} from '../../src/reference/tolerances.js';

describe('tolerances', () => {
  const shape = [2, 2, 3]; // N=2, C=2, spatial 3
  it('maps flat indices to channels as (N, C, spatial)', () => {
    const channelOf = channelOfIndex(shape);
    expect(Array.from({ length: 12 }, (_, i) => channelOf(i))).toEqual([0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1]);
  });

  it('bounds y by the float32 terms x*scale and shift', () => {
    const x = Float32Array.from({ length: 12 }, (_, i) => i - 5);
    const stats = { saveMean: [100, -1], saveInvstd: [0.5, 2] };
    const tolerance = yTolerance(x, shape, stats, [3, -1], [1, 0]);
    // Element 4 is channel 1: scale = -1*2 = -2, shift = 0 - (-1)(-2) = -2.
    expect(tolerance(4)).toBeCloseTo(Y_RTOL * (Math.abs(-1 * -2) + 2) + Y_ATOL, 15);
    // Element 6 is channel 0: scale = 1.5, shift = 1 - 150 = -149.
    expect(tolerance(6)).toBeCloseTo(Y_RTOL * (1.5 + 149) + Y_ATOL, 15);
  });

  it('bounds means by |mean| + spread and variances relative to themselves', () => {
    expect(meanTolerance([200], [1])(0)).toBeCloseTo(STAT_RTOL * 201, 15);
    expect(relativeTolerance([-4])(0)).toBeCloseTo(STAT_RTOL * 4, 15);
  });

  it('bounds gradients by the magnitudes of their terms', () => {
    const x = [0, 2, 4, 0, 2, 4, 0, 2, 4, 0, 2, 4];
    const dy = [1, -1, 1, 2, -2, 2, 1, -1, 1, 2, -2, 2];
    const stats = { saveMean: [2, 2], saveInvstd: [0.5, 0.5] }; // xhat = -1, 0, 1
    const training = backwardTolerances({ dy, x, shape, weight: [2, 1], training: true }, stats);
    // Channel 0: sum|dy| = 6, sum|dy*xhat| = 4 over 6 values.
    expect(training.dbias(0)).toBeCloseTo(SUM_RTOL * 6, 15);
    expect(training.dweight(0)).toBeCloseTo(SUM_RTOL * 4, 15);
    expect(training.dx(0)).toBeCloseTo(DX_RTOL * 2 * 0.5 * (1 + 1 + 1 * (4 / 6)), 15);
    const inference = backwardTolerances({ dy, x, shape, weight: null, training: false }, stats);
    expect(inference.dx(3)).toBeCloseTo(DX_RTOL * 0.5 * 2, 15);
    const moving = movingStatisticsGradientTolerances(dy, x, shape, [2, -3], stats);
    expect(moving.dmean(0)).toBeCloseTo(2 * 0.5 * (SUM_RTOL + MOVING_GRADIENT_OPS_RTOL) * 6, 15);
    expect(moving.dvariance(1)).toBeCloseTo(1.5 * 0.25 * (SUM_RTOL + MOVING_GRADIENT_OPS_RTOL) * 8, 15);
  });

  it("carries a running statistic's error through blends and doubles a bound between two implementations", () => {
    const carried = (c: number) => [1e-6, 2e-6][c]!;
    const after = blendedTolerance(carried, 0.9, () => 5e-7);
    expect(after(1)).toBeCloseTo(0.9 * 2e-6 + 5e-7, 18);
    expect(agreementTolerance(carried)(0)).toBe(2e-6);
  });
});

describe('elementAccuracy', () => {
  it('reports the worst error against its tolerance', () => {
    const a = elementAccuracy([1, 2.5, 3], [1, 2, 3.1], (i) => [1, 1, 0.05][i]!);
    expect(a.worstIndex).toBe(2);
    expect(a.worstRatio).toBeCloseTo(2, 10);
    expect(a.maxAbsError).toBeCloseTo(0.5, 10);
    expect(a.passed).toBe(false);
  });

  it('passes exact values under a zero tolerance, NaN against NaN and an infinity against itself', () => {
    expect(elementAccuracy([0, NaN, Infinity], [0, NaN, Infinity], () => 0).passed).toBe(true);
  });

  it('fails NaN against a number and an infinity against another value', () => {
    expect(elementAccuracy([NaN], [1], () => 1).worstRatio).toBe(Infinity);
    expect(elementAccuracy([Infinity], [-Infinity], () => 1).passed).toBe(false);
    expect(elementAccuracy([1], [NaN], () => 1).passed).toBe(false);
  });
});
