// Tolerances of the GPU's float32 results against the float64 reference (src/reference*.ts), stated once
// for the GPU tests (test/support/tolerances.ts), the benchmark's check (bench/accuracy.ts) and the
// demo's (bench/check.ts). Each bound is relative to the size of the float32 terms a result is made
// of, not to the result itself, so one bound holds from 1e-3 to 1e4 scales and through cancellation.
//
// The model has two halves. The forward (y, saved and running statistics) is compared with the float64
// forward. The backward is compared with a float64 backward fed the statistics the GPU backward read (a
// training forward's float32 saveMean/saveInvstd): rounding a mean to float32 moves xhat by up to
// ~6e-8 * |mean| / spread, which STAT_RTOL already bounds and which is no error of the backward. Feeding
// the float64 statistics instead fails correct results once the mean is ~100x the spread.
import { pytorchParameterGradients, pytorchStatistics } from './pytorch-float32.js';
import { channelMoments, type ReferenceForwardResult } from './forward.js';
import { batchNormBackwardReference } from './backward.js';
import { channelLayout } from '../runtime/shape.js';

type Values = ArrayLike<number>;

// y = x*scale + shift in float32: |error| <= Y_RTOL * (|x*scale| + |shift|) + Y_ATOL. With a residual z,
// y = x*scale + shift + z: one more addition, rounded at the size of the three terms, so |z| joins them.
export const Y_RTOL = 4e-6;
export const Y_ATOL = 1e-6;
// Saved and running statistics: relative to the channel's spread (means) or to the value (variances).
export const STAT_RTOL = 1e-6;
// dx = w*invstd*(dy - mean(dy) - xhat*mean(dy*xhat)): its error scales with
//   w*invstd*(|dy| + mean|dy| + |xhat|*mean|dy*xhat|)   (training; inference has the |dy| term only).
export const DX_RTOL = 2e-6;
// dbias = sum(dy) and dweight = sum(dy*xhat) are float32 sums: their error scales with sum|term|. A term
// of dweight rounds at most twice (x - center, exact for the bulk of x, then the product), and the sums
// are compensated through every stage (shaders/two-sum.wgsl) and rounded once with invstd: 3 units of
// 2^-24 of sum|term|, bounded here with more than a factor of 2 to spare. That holds where the variance
// is far below eps too, because the center comes from the channel's own spread (1/saveInvstd^2 - eps,
// given the forward's eps; docs/numerics.md): x - center is then exact or rounds once at its own size.
export const SUM_RTOL = 5e-7;

// f16 outputs (y, dx) are computed in float32 and rounded once to half precision on the store:
// round-to-nearest moves a value by at most half an ulp of its 11 significant bits, 2^-11 relative, or
// half the subnormal spacing, 2^-25, near zero. That rounding adds to the float32 bound; statistics and
// gradients of parameters stay float32 (they are never rounded to f16), so their bounds do not change.
export const HALF_RTOL = 2 ** -11;
export const HALF_ATOL = 2 ** -25;

/** A float32 bound widened by one rounding of the `expected` value to f16. */
export function withHalfRounding(tolerance: (i: number) => number, expected: Values): (i: number) => number {
  return (i) => tolerance(i) + HALF_RTOL * Math.abs(expected[i]!) + HALF_ATOL;
}

/** Per channel: the mean and 1/sqrt(var + eps) a result was normalized with. */
export interface ChannelStatistics {
  readonly saveMean: Values;
  readonly saveInvstd: Values;
}

/** The channel of each flat index of a tensor whose channel axis is `axis` (default 1: (N, C, *)). */
export function channelOfIndex(shape: readonly number[], axis = 1): (i: number) => number {
  const { channels, spatial } = channelLayout(shape, axis, true); // a replica's empty batch too
  return (i) => Math.floor(i / spatial) % channels;
}

/**
 * Tolerance of each element of y: the reference's statistics (batch ones in training, running ones in
 * inference) give scale = weight*invstd and shift = bias - mean*scale; a null weight is 1, a null bias 0.
 * `residual`: the forward's residual z, in x's layout, or null.
 */
export function yTolerance(
  x: Values,
  shape: readonly number[],
  stats: ChannelStatistics,
  weight: Values | null,
  bias: Values | null,
  axis = 1,
  residual: Values | null = null,
): (i: number) => number {
  const channelOf = channelOfIndex(shape, axis);
  return (i) => {
    const c = channelOf(i);
    const scale = (weight ? weight[c]! : 1) * stats.saveInvstd[c]!;
    const shift = (bias ? bias[c]! : 0) - stats.saveMean[c]! * scale;
    return Y_RTOL * (Math.abs(x[i]! * scale) + Math.abs(shift) + (residual ? Math.abs(residual[i]!) : 0)) + Y_ATOL;
  };
}

/** Tolerance of a per-channel mean (saved or running): relative to |mean| plus the channel's spread 1/invstd. */
export function meanTolerance(mean: Values, invstd: Values): (c: number) => number {
  return (c) => STAT_RTOL * (Math.abs(mean[c]!) + 1 / invstd[c]!);
}

/**
 * Tolerance of an updated running mean, (1 - m)*runningMean + m*mean: relative to the terms blended,
 * whose size |runningMean_new| + |mean| bounds, not to the result, which cancels when the two have
 * opposite signs. `mean` and `invstd` are the batch's.
 */
export function runningMeanTolerance(runningMean: Values, mean: Values, invstd: Values): (c: number) => number {
  return (c) => STAT_RTOL * (Math.abs(runningMean[c]!) + Math.abs(mean[c]!) + 1 / invstd[c]!);
}

/**
 * A running statistic after one more blend, (1 - m)*running + m*batch: the blend's own bound (as
 * runningMeanTolerance or relativeTolerance give it) plus the error the running value already carried,
 * of which the blend keeps `keep` = 1 - m. Applied step by step, it bounds moving statistics after many
 * training steps (Keras's momentum is `keep`).
 */
export function blendedTolerance(carried: (c: number) => number, keep: number, step: (c: number) => number): (c: number) => number {
  return (c) => keep * carried(c) + step(c);
}

/**
 * Two float32 results that each lie within `tolerance` of the exact value lie within twice it of each
 * other: the bound between this library's result and another implementation's (TensorFlow.js's layer)
 * once both have met the float64 bound.
 */
export function agreementTolerance(tolerance: (i: number) => number): (i: number) => number {
  return (i) => 2 * tolerance(i);
}

/** Tolerance of a per-channel invstd or variance: relative to the value. */
export function relativeTolerance(value: Values): (c: number) => number {
  return (c) => STAT_RTOL * Math.abs(value[c]!);
}

/** Per channel: sum|dy| and sum|dy*xhat| and their means over the N*spatial values, the scales of the backward's bounds. */
export interface BackwardMagnitudes {
  readonly sumAbsDy: Float64Array;
  readonly sumAbsDyXhat: Float64Array;
  readonly meanAbsDy: Float64Array;
  readonly meanAbsDyXhat: Float64Array;
}

/**
 * `stats` are those the backward normalized x with (ReferenceBackwardResult's mean and invstd); `dy` is
 * the gradient reaching the batch norm (masked by a fused ReLU's output where there is one). The means
 * divide by `count`: every position's (the default), or the positions a mask kept.
 */
export function backwardMagnitudes(
  dy: Values,
  x: Values,
  shape: readonly number[],
  stats: ChannelStatistics,
  axis = 1,
  count?: number,
): BackwardMagnitudes {
  const { batch, channels, spatial } = channelLayout(shape, axis, true); // a replica's empty batch too
  const n = count ?? batch * spatial;
  const sumAbsDy = new Float64Array(channels);
  const sumAbsDyXhat = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    const mean = stats.saveMean[c]!;
    const invstd = stats.saveInvstd[c]!;
    let absDy = 0;
    let absDyXhat = 0;
    for (let n = 0; n < batch; n++) {
      const base = (n * channels + c) * spatial;
      for (let i = base; i < base + spatial; i++) {
        absDy += Math.abs(dy[i]!);
        absDyXhat += Math.abs(dy[i]! * (x[i]! - mean) * invstd);
      }
    }
    sumAbsDy[c] = absDy;
    sumAbsDyXhat[c] = absDyXhat;
  }
  return { sumAbsDy, sumAbsDyXhat, meanAbsDy: sumAbsDy.map((v) => v / n), meanAbsDyXhat: sumAbsDyXhat.map((v) => v / n) };
}

export interface BackwardToleranceInputs {
  readonly dy: Values;
  readonly x: Values;
  readonly shape: readonly number[];
  readonly weight: Values | null;
  readonly training: boolean;
  /** The channel axis (default 1). */
  readonly axis?: number;
  /** With a fused ReLU: the forward's output, whose sign masks dy. */
  readonly reluOutput?: Values | null;
  /** A masked forward's mask: its positions alone have the statistics' terms, divided by their count. */
  readonly mask?: Values | null;
}

export interface BackwardTolerances {
  /** Per element of dx. */
  readonly dx: (i: number) => number;
  /** Per channel of dweight and dbias. */
  readonly dweight: (c: number) => number;
  readonly dbias: (c: number) => number;
}

/** Tolerances of dx, dweight and dbias; `stats` are those the backward normalized x with. */
export function backwardTolerances(inputs: BackwardToleranceInputs, stats: ChannelStatistics): BackwardTolerances {
  const { x, shape, weight, training, axis = 1, reluOutput, mask } = inputs;
  const dy = reluOutput ? Float64Array.from(inputs.dy, (v, i) => (reluOutput[i]! > 0 ? v : 0)) : inputs.dy;
  const { channels, spatial } = channelLayout(shape, axis, true);
  const kept = (i: number) => !mask || mask[Math.floor(i / (channels * spatial)) * spatial + (i % spatial)] !== 0;
  const count = mask ? Array.from(mask).filter((v) => v !== 0).length : undefined;
  const m = backwardMagnitudes(dy, x, shape, stats, axis, count);
  const channelOf = channelOfIndex(shape, axis);
  return {
    dx: (i) => {
      const c = channelOf(i);
      const scale = Math.abs(weight ? weight[c]! : 1) * stats.saveInvstd[c]!;
      const xhat = Math.abs((x[i]! - stats.saveMean[c]!) * stats.saveInvstd[c]!);
      const terms = training && kept(i) ? Math.abs(dy[i]!) + m.meanAbsDy[c]! + xhat * m.meanAbsDyXhat[c]! : Math.abs(dy[i]!);
      return DX_RTOL * scale * terms;
    },
    dweight: (c) => SUM_RTOL * m.sumAbsDyXhat[c]!,
    dbias: (c) => SUM_RTOL * m.sumAbsDy[c]!,
  };
}

// SyncBatchNorm (src/ops/sync-batch-norm.ts): each replica's mean and variance, within meanTolerance and
// STAT_RTOL of their exact values, cross the exchange as f32 and batchNormGatherStats merges them, rounding a
// few times more (GATHER_RTOL: compensated, as the finalize's merge). The merged mean, sum(s_w*mean_w) with
// s_w = n_w/N, carries the replicas' mean errors weighted by their shares, STAT_RTOL*sum(s_w*(|mean_w| +
// spread_w)). The merged variance, sum(s_w*(var_w + (mean_w - mean)^2)), carries their variance errors and,
// through (mean_w - mean)^2, 2*|mean_w - mean| times each mean's error. Where |mean| is large against the
// spread that term exceeds STAT_RTOL of the variance, as it does for any exchange of f32 means (PyTorch's
// too). invstd, the running statistics and y then carry these errors to first order.
export const GATHER_RTOL = 4 * 2 ** -24;

/** One replica's exact (float64) statistics of its shard: batchNormStatsReference's. */
export interface ReplicaMoments {
  readonly count: number;
  readonly mean: Values;
  readonly variance: Values;
}

/** What the forward over the whole batch was given, besides the replicas' statistics. */
export interface GatheredForwardInputs {
  /** The concatenated batch (the replicas' x, one after the other along dimension 0), its shape and channel axis. */
  readonly x: Values;
  readonly shape: readonly number[];
  readonly axis?: number;
  readonly weight: Values | null;
  readonly bias: Values | null;
  readonly eps: number;
  /** The running-statistics factor (momentum, or 1/numBatchesTracked) and whether runningVar takes the unbiased variance. */
  readonly factor: number;
  readonly unbiased: boolean;
}

/** Tolerances of the merged statistics, the running ones and y of a forward through the building blocks. */
export interface GatheredForwardTolerances {
  readonly mean: (c: number) => number;
  readonly invstd: (c: number) => number;
  readonly runningMean: (c: number) => number;
  readonly runningVar: (c: number) => number;
  readonly y: (i: number) => number;
}

/**
 * The bounds of a forward whose statistics were merged from `replicas` (batchNormStats on each,
 * batchNormGatherStats, batchNormElemt), against `ref`, the float64 forward over the concatenated batch
 * (its running statistics when it updated them).
 */
export function gatheredForwardTolerances(
  replicas: readonly ReplicaMoments[],
  inputs: GatheredForwardInputs,
  ref: Pick<ReferenceForwardResult, 'saveMean' | 'saveInvstd' | 'runningMean' | 'runningVar'>,
): GatheredForwardTolerances {
  const { x, shape, axis = 1, weight, bias, eps, factor, unbiased } = inputs;
  const { channels } = channelLayout(shape, axis);
  const total = replicas.reduce((n, r) => n + r.count, 0);
  const correction = unbiased ? total / (total - 1) : 1;
  const meanError = new Float64Array(channels);
  const varianceError = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    const mean = ref.saveMean[c]!;
    const variance = 1 / ref.saveInvstd[c]! ** 2 - eps;
    let m = GATHER_RTOL * (Math.abs(mean) + Math.sqrt(variance));
    let v = GATHER_RTOL * variance;
    for (const r of replicas) {
      if (r.count === 0) continue;
      const share = r.count / total;
      const replicaMeanError = STAT_RTOL * (Math.abs(r.mean[c]!) + Math.sqrt(r.variance[c]!));
      m += share * replicaMeanError;
      v += share * (STAT_RTOL * r.variance[c]! + 2 * Math.abs(r.mean[c]! - mean) * replicaMeanError);
    }
    meanError[c] = m;
    varianceError[c] = v;
  }
  // d(invstd)/invstd = -d(variance)/(2*(variance + eps)), and sqrt's own rounding.
  const invstdRelative = (c: number) => GATHER_RTOL + (varianceError[c]! / 2) * ref.saveInvstd[c]! ** 2;
  const single = yTolerance(x, shape, ref, weight, bias, axis);
  const channelOf = channelOfIndex(shape, axis);
  const runningMean = ref.runningMean ? runningMeanTolerance(ref.runningMean, ref.saveMean, ref.saveInvstd) : () => 0;
  const runningVar = ref.runningVar ? relativeTolerance(ref.runningVar) : () => 0;
  return {
    mean: (c) => meanError[c]!,
    invstd: (c) => ref.saveInvstd[c]! * invstdRelative(c),
    runningMean: (c) => runningMean(c) + factor * meanError[c]!,
    runningVar: (c) => runningVar(c) + factor * correction * varianceError[c]!,
    // y = w*invstd*(x - mean) + b: the statistics' errors scaled by |w|*invstd, beside y's own bound.
    y: (i) => {
      const c = channelOf(i);
      const scale = Math.abs(weight ? weight[c]! : 1) * ref.saveInvstd[c]!;
      return single(i) + scale * (Math.abs(x[i]! - ref.saveMean[c]!) * invstdRelative(c) + meanError[c]!);
    },
  };
}

/**
 * Tolerances of batchNormBackwardReduce's sums against float64: sum(g) as dbias, and sum(g*(x - mean)) as
 * dweight/invstd (SUM_RTOL of the sum of |term|). `g` is dy masked by the forward's ReLU, if any.
 */
export function gradientSumTolerances(
  g: Values,
  x: Values,
  shape: readonly number[],
  stats: ChannelStatistics,
  axis = 1,
): { sumDy: (c: number) => number; sumDyXmu: (c: number) => number } {
  const m = backwardMagnitudes(g, x, shape, stats, axis);
  return { sumDy: (c) => SUM_RTOL * m.sumAbsDy[c]!, sumDyXmu: (c) => (SUM_RTOL * m.sumAbsDyXhat[c]!) / stats.saveInvstd[c]! };
}

/**
 * Tolerance of dx from given sums (batchNormBackwardElemt): dx = w*invstd*(g - sumDy/N - xhat*invstd*sumDyXmu/N)
 * with the sums exact inputs, so DX_RTOL of the size of those terms. `g` is dy masked by the ReLU, if any.
 */
export function elemtDxTolerance(
  g: Values,
  x: Values,
  shape: readonly number[],
  stats: ChannelStatistics,
  weight: Values | null,
  sums: { readonly sumDy: Values; readonly sumDyXmu: Values; readonly count: number },
  axis = 1,
): (i: number) => number {
  const channelOf = channelOfIndex(shape, axis);
  return (i) => {
    const c = channelOf(i);
    const invstd = stats.saveInvstd[c]!;
    const xhat = Math.abs((x[i]! - stats.saveMean[c]!) * invstd);
    const terms = Math.abs(g[i]!) + Math.abs(sums.sumDy[c]!) / sums.count + (xhat * invstd * Math.abs(sums.sumDyXmu[c]!)) / sums.count;
    return DX_RTOL * Math.abs(weight ? weight[c]! : 1) * invstd * terms;
  };
}

// Gradients of an inference forward with respect to the moving statistics, made from dbias = sum(dy) and
// dweight = sum(dy*xhat) by a few float32 operations (an addition, a square root's reciprocal or a
// division, two multiplications: within 8 unit roundoffs u = 2^-24 of the result, WGSL's inverseSqrt
// and division being within 2 and 2.5 ULP):
//   dmean     = -gamma*invstd*dbias,         |error| <= |gamma|*invstd*(SUM_RTOL + 8u)*sum|dy|
//   dvariance = -gamma/2*invstd^2*dweight,   |error| <= |gamma|/2*invstd^2*(SUM_RTOL + 8u)*sum|dy*xhat|
export const MOVING_GRADIENT_OPS_RTOL = 8 * 2 ** -24;

/**
 * Tolerances of dmean and dvariance per channel; `stats` are the moving mean and 1/sqrt(moving variance +
 * eps) the inference forward normalized with.
 */
export function movingStatisticsGradientTolerances(
  dy: Values,
  x: Values,
  shape: readonly number[],
  gamma: Values,
  stats: ChannelStatistics,
  axis = 1,
): { dmean: (c: number) => number; dvariance: (c: number) => number } {
  const m = backwardMagnitudes(dy, x, shape, stats, axis);
  const rtol = SUM_RTOL + MOVING_GRADIENT_OPS_RTOL;
  return {
    dmean: (c) => Math.abs(gamma[c]!) * stats.saveInvstd[c]! * rtol * m.sumAbsDy[c]!,
    dvariance: (c) => (Math.abs(gamma[c]!) / 2) * stats.saveInvstd[c]! ** 2 * rtol * m.sumAbsDyXhat[c]!,
  };
}

// Batch renormalization (Keras 3's renorm, src/reference/renorm.ts), one step from float32 weights, in
// float32. sigma = sqrt(variance + eps) carries the variance's relative error (at most STAT_RTOL), and
// s = max(renorm_stddev, sqrt(eps)) is an input, so r = sigma/s is within 2*STAT_RTOL of itself (a clipped
// r is its bound); d = (mean - renorm_mean)/s carries the mean's error and the difference's rounding,
// relative to |mean| + spread + |renorm_mean|, over s. y is batch norm's with weight r*gamma and bias
// d*gamma + beta: yTolerance's bound plus what the errors of r and d move it by. The moving statistics
// are float32 blends of positive terms (the standard deviations: relative) or of means (as running means);
// moving_variance = moving_stddev^2 - eps carries twice the standard deviation's relative error of
// moving_stddev^2, and its rounding, relative to moving_stddev^2 + eps.

/** A renorm step's inputs, as the GPU read them: float32 values, per channel. */
export interface RenormToleranceInputs {
  readonly x: Values;
  readonly shape: readonly number[];
  readonly axis: number;
  readonly epsilon: number;
  readonly gamma: Values | null;
  readonly beta: Values | null;
  /** renorm_mean and renorm_stddev before the step. */
  readonly renormMean: Values;
  readonly renormStddev: Values;
}

/** What a renorm step's tolerances are made from: the reference step's results. */
export interface RenormStepValues extends ChannelStatistics {
  readonly r: Values;
  readonly d: Values;
  readonly weights: {
    readonly movingMean: Values;
    readonly movingVariance: Values;
    readonly movingStddev: Values;
    readonly renormMean: Values;
    readonly renormStddev: Values;
  };
}

export interface RenormTolerances {
  /** Per channel. */
  readonly r: (c: number) => number;
  readonly d: (c: number) => number;
  /** Per element of y. */
  readonly y: (i: number) => number;
  /** Per channel, the weights after the step. */
  readonly movingMean: (c: number) => number;
  readonly movingVariance: (c: number) => number;
  readonly movingStddev: (c: number) => number;
  readonly renormMean: (c: number) => number;
  readonly renormStddev: (c: number) => number;
}

/** Tolerances of a renorm step's r, d, y and weights after it. */
export function renormTolerances(inputs: RenormToleranceInputs, step: RenormStepValues): RenormTolerances {
  const { x, shape, axis, epsilon, gamma, beta } = inputs;
  const g = (c: number) => (gamma ? Math.abs(gamma[c]!) : 1);
  const sigma = (c: number) => 1 / step.saveInvstd[c]!;
  const s = (c: number) => Math.max(inputs.renormStddev[c]!, Math.sqrt(epsilon));
  const r = (c: number) => 2 * STAT_RTOL * Math.abs(step.r[c]!);
  const d = (c: number) =>
    STAT_RTOL * ((Math.abs(step.saveMean[c]!) + sigma(c) + Math.abs(inputs.renormMean[c]!)) / s(c) + Math.abs(step.d[c]!));
  const channels = step.r.length;
  const weight = Float64Array.from({ length: channels }, (_, c) => step.r[c]! * (gamma ? gamma[c]! : 1));
  const bias = Float64Array.from({ length: channels }, (_, c) => step.d[c]! * (gamma ? gamma[c]! : 1) + (beta ? beta[c]! : 0));
  const plain = yTolerance(x, shape, step, weight, bias, axis);
  const channelOf = channelOfIndex(shape, axis);
  const w = step.weights;
  const stddev = relativeTolerance(w.movingStddev);
  return {
    r,
    d,
    y: (i) => {
      const c = channelOf(i);
      const xhat = Math.abs(x[i]! - step.saveMean[c]!) * step.saveInvstd[c]!;
      const rounding = STAT_RTOL * (Math.abs(step.d[c]! * (gamma ? gamma[c]! : 1)) + (beta ? Math.abs(beta[c]!) : 0));
      return plain(i) + g(c) * (xhat * r(c) + d(c)) + rounding;
    },
    movingMean: runningMeanTolerance(w.movingMean, step.saveMean, step.saveInvstd),
    movingVariance: (c) => 2 * w.movingStddev[c]! * stddev(c) + STAT_RTOL * (w.movingStddev[c]! ** 2 + epsilon),
    movingStddev: stddev,
    renormMean: runningMeanTolerance(w.renormMean, step.saveMean, step.saveInvstd),
    renormStddev: relativeTolerance(w.renormStddev),
  };
}

/**
 * Tolerances of a renorm step's backward: `inputs` as backwardTolerances takes them with the weight
 * r*gamma, `step` the r and d of the step (the reference backward fed them rounded to float32, the GPU
 * its own, within `renorm`'s bounds). dx is linear in r; dgamma = r*sum(dy*xhat) + d*sum(dy) carries
 * both sums' errors and those of r and d.
 */
export function renormBackwardTolerances(
  inputs: BackwardToleranceInputs,
  stats: ChannelStatistics,
  step: { readonly r: Values; readonly d: Values },
  renorm: Pick<RenormTolerances, 'r' | 'd'>,
): { dx: (i: number) => number; dgamma: (c: number) => number; dbeta: (c: number) => number } {
  const base = backwardTolerances(inputs, stats);
  const dy = inputs.reluOutput ? Float64Array.from(inputs.dy, (v, i) => (inputs.reluOutput![i]! > 0 ? v : 0)) : inputs.dy;
  const m = backwardMagnitudes(dy, inputs.x, inputs.shape, stats, inputs.axis ?? 1);
  const channelOf = channelOfIndex(inputs.shape, inputs.axis ?? 1);
  return {
    dx: (i) => {
      const c = channelOf(i);
      return base.dx(i) * (1 + renorm.r(c) / (DX_RTOL * Math.abs(step.r[c]!)));
    },
    dgamma: (c) => {
      const r = Math.abs(step.r[c]!);
      const d = Math.abs(step.d[c]!);
      return ((SUM_RTOL + STAT_RTOL) * r + renorm.r(c)) * m.sumAbsDyXhat[c]! + ((SUM_RTOL + STAT_RTOL) * d + renorm.d(c)) * m.sumAbsDy[c]!;
    },
    dbeta: base.dbias,
  };
}

// Long reductions (thousands of values per channel, where a serial float32 chain would drift): each batch
// statistic and parameter gradient must be at least as accurate as PyTorch CUDA's on the same data. The
// bound is not a constant but PyTorch's own error, found by replaying its float32 kernels
// (src/reference/pytorch-float32.ts) against the float64 reference, channel by channel. Where that is below the
// error of the textbook formula evaluated from exactly rounded float32 sums (mean = sum(x)/N: the sum
// rounded, then the quotient; dweight = sum(dy*(x - mean))*invstd: the sum, then the product; dbias: the
// sum), which is luck at the last bit that no float32 method can count on, that is the bound.
// Errors are in the units of the bounds above: a mean relative to |mean| + spread, a variance to itself,
// dweight to sum|dy*xhat| and dbias to sum|dy|.

export const REDUCTION_QUANTITIES = ['mean', 'variance', 'dweight', 'dbias'] as const;
export type ReductionQuantity = (typeof REDUCTION_QUANTITIES)[number];
export type PerQuantity<T> = Record<ReductionQuantity, T>;

/** Roundings of the textbook formula from exact sums (2^-24 of the result each). */
const RESULT_ROUNDINGS: PerQuantity<number> = { mean: 2, variance: 2, dweight: 2, dbias: 1 };
const FLOAT32_UNIT_ROUNDOFF = 2 ** -24;

export interface LongReductionInputs {
  readonly x: Float32Array;
  readonly dy: Float32Array;
  readonly shape: readonly number[];
  readonly axis: number;
  /** The statistics the backward read (a training forward's saveMean and saveInvstd). */
  readonly saveMean: Float32Array;
  readonly saveInvstd: Float32Array;
}

export interface LongReductionAccuracy {
  /** Per quantity and channel: PyTorch's error (scaled as above). */
  readonly pytorch: PerQuantity<Float64Array>;
  /** Per quantity and channel: the bound, PyTorch's error or the textbook formula's roundings, the larger. */
  readonly bounds: PerQuantity<Float64Array>;
  /** Per quantity and channel: the error of the given results (the biased batch variance as `variance`). */
  errorsOf(results: PerQuantity<Values>): PerQuantity<Float64Array>;
}

export function longReductionAccuracy(inputs: LongReductionInputs): LongReductionAccuracy {
  const { x, dy, shape, axis, saveMean, saveInvstd } = inputs;
  const { channels } = channelLayout(shape, axis);
  const moments = channelMoments(x, shape, axis);
  const gradients = batchNormBackwardReference(dy, x, shape, { training: true, weight: new Float64Array(channels).fill(1), saveMean, saveInvstd, axis });
  const magnitudes = backwardMagnitudes(dy, x, shape, { saveMean, saveInvstd }, axis);
  const reference: PerQuantity<Values> = { mean: moments.mean, variance: moments.variance, dweight: gradients.dweight!, dbias: gradients.dbias! };
  const scales: PerQuantity<(c: number) => number> = {
    mean: (c) => Math.abs(moments.mean[c]!) + Math.sqrt(moments.variance[c]!),
    variance: (c) => moments.variance[c]!,
    dweight: (c) => magnitudes.sumAbsDyXhat[c]!,
    dbias: (c) => magnitudes.sumAbsDy[c]!,
  };
  const perQuantity = (error: (q: ReductionQuantity, c: number) => number) =>
    Object.fromEntries(REDUCTION_QUANTITIES.map((q) => [q, Float64Array.from({ length: channels }, (_, c) => error(q, c))])) as PerQuantity<Float64Array>;
  const errorsOf = (results: PerQuantity<Values>) => perQuantity((q, c) => Math.abs(results[q][c]! - reference[q][c]!) / scales[q](c));
  const pytorch = errorsOf({ ...pytorchStatistics(x, shape, axis), ...pytorchParameterGradients(dy, x, shape, axis, saveMean, saveInvstd) });
  const rounding = (q: ReductionQuantity, c: number) => (RESULT_ROUNDINGS[q] * FLOAT32_UNIT_ROUNDOFF * Math.abs(reference[q][c]!)) / scales[q](c);
  return { pytorch, bounds: perQuantity((q, c) => Math.max(pytorch[q][c]!, rounding(q, c))), errorsOf };
}
