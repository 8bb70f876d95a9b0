// CPU references of the SyncBatchNorm building blocks (src/ops/sync-batch-norm.ts), accumulating in float64:
// the truth their GPU tests compare against. Their arguments are checked as the GPU functions check
// theirs, on arrays instead of tensors; like those, they take an x without elements.
import { DEFAULT_EPS } from '../runtime/defaults.js';
import { describeValue, readOptions } from '../runtime/options.js';
import { reluMaskedGradient } from './backward.js';
import { assertTensorValues, assertValues, optionalChannelValues, optionalTensorValues } from './checks.js';
import { channelMoments, type ReferenceValues } from './forward.js';
import { assertValidShape, channelLayout, type ChannelLayout } from '../runtime/shape.js';
import { assertActivation, assertEps, assertRunningVarEstimator, runningFactor, type Activation } from '../runtime/validate.js';

/** Options of {@link batchNormStatsReference}. */
export interface ReferenceStatsOptions {
  /** Channel axis (default 1; -1 channels-last). */
  axis?: number;
}

/** What {@link batchNormStatsReference} returns. */
export interface ReferenceStatsResult {
  /** Values per channel (0 for an empty x). */
  count: number;
  /** Per channel: the mean (0 for an empty x). */
  mean: Float64Array;
  /** Per channel: the biased variance (0 for an empty x). */
  variance: Float64Array;
}

/** Options of {@link batchNormGatherStatsReference}: those of the GPU's batchNormGatherStats, with arrays for tensors. */
export interface ReferenceGatherStatsOptions {
  /** Each replica's count, W non-negative integers adding up to at least 1. */
  counts: ReferenceValues;
  /** Running mean, C values, blended with the global mean (the result's runningMean); with runningVar, or neither. */
  runningMean?: ReferenceValues | null;
  /** Running variance, C values, blended with the global variance. */
  runningVar?: ReferenceValues | null;
  /** Weight of the batch statistics in the running ones; default 0.1. null: factor 1/numBatchesTracked. */
  momentum?: number | null;
  /** With `momentum: null`: batches seen including this one, an integer >= 1. */
  numBatchesTracked?: number;
  /** Added to the global variance before the square root; default 1e-5. */
  eps?: number;
  /** The variance blended into runningVar: 'unbiased' (default) or 'biased'. */
  runningVarEstimator?: 'unbiased' | 'biased';
}

/** What {@link batchNormGatherStatsReference} returns, all in float64. */
export interface ReferenceGatherStatsResult {
  /** Per channel: the global mean. */
  mean: Float64Array;
  /** Per channel: the global biased variance. */
  variance: Float64Array;
  /** Per channel: 1/sqrt(global variance + eps). */
  invstd: Float64Array;
  /** With running statistics: the updated running mean; otherwise null. */
  runningMean: Float64Array | null;
  /** With running statistics: the updated running variance; otherwise null. */
  runningVar: Float64Array | null;
}

/** Options of {@link batchNormElemtReference}. */
export interface ReferenceElemtOptions {
  /** Per-channel mean, C values. */
  mean: ReferenceValues;
  /** Per-channel 1/sqrt(variance + eps), C values. */
  invstd: ReferenceValues;
  /** Per-channel scale, C values; default none (1). */
  weight?: ReferenceValues | null;
  /** Per-channel shift, C values; default none (0). */
  bias?: ReferenceValues | null;
  /** Channel axis (default 1). */
  axis?: number;
  /** 'relu': y = max(normalized, 0), NaN passing through. */
  activation?: Activation | null;
  /** A residual z added before the activation, in x's layout: y = act(normalized + z); default none. */
  residual?: ReferenceValues | null;
}

/** What {@link batchNormElemtReference} returns. */
export interface ReferenceElemtResult {
  /** The normalized x (then the activation), in x's layout, float64. */
  y: Float64Array;
}

/** Options of both backward references. */
export interface ReferenceBackwardSyncCommon {
  /** The mean the forward normalized with, C values. */
  mean: ReferenceValues;
  /** The invstd the forward normalized with, C values. */
  invstd: ReferenceValues;
  /** The forward's weight, C values; default none (1). */
  weight?: ReferenceValues | null;
  /** Channel axis (default 1). */
  axis?: number;
  /** The forward's activation: with 'relu', dy passes where y = x*scale + shift > 0, recomputed in float64. */
  activation?: Activation | null;
  /** With activation 'relu': the forward's bias, C values (default none). */
  bias?: ReferenceValues | null;
  /** Instead of recomputing the ReLU's mask: the forward's output (dy passes where it is > 0), in x's layout. */
  reluOutput?: ReferenceValues | null;
}

/** What {@link batchNormBackwardReduceReference} returns, all in float64. */
export interface ReferenceBackwardReduceResult {
  /** Per channel: sum(dy). */
  sumDy: Float64Array;
  /** Per channel: sum(dy*(x - mean)). */
  sumDyXmu: Float64Array;
  /** Per channel: sum(dy*xhat); null without a weight. */
  dweight: Float64Array | null;
  /** Per channel: sum(dy); null without a weight. */
  dbias: Float64Array | null;
}

/** What {@link batchNormBackwardElemtReference} returns. */
export interface ReferenceBackwardElemtResult {
  /** The gradient of x, in x's layout, float64. */
  dx: Float64Array;
}

/** Options of {@link batchNormBackwardElemtReference}. */
export interface ReferenceBackwardElemtOptions extends ReferenceBackwardSyncCommon {
  /** sum(dy) per channel over every replica, C values. */
  sumDy: ReferenceValues;
  /** sum(dy*(x - mean)) per channel over every replica, C values. */
  sumDyXmu: ReferenceValues;
  /** Each replica's count, W values; dx divides by their total. */
  counts: ReferenceValues;
}

const STATS_KEYS = ['axis'] as const;
const GATHER_KEYS = ['counts', 'runningMean', 'runningVar', 'momentum', 'numBatchesTracked', 'eps', 'runningVarEstimator'] as const;
const ELEMT_KEYS = ['mean', 'invstd', 'weight', 'bias', 'axis', 'activation', 'residual'] as const;
const BACKWARD_KEYS = ['mean', 'invstd', 'weight', 'axis', 'activation', 'bias', 'reluOutput'] as const;
const BACKWARD_ELEMT_KEYS = [...BACKWARD_KEYS, 'sumDy', 'sumDyXmu', 'counts'] as const;

/** Each replica's count: W non-negative integers, the total at least 1; returns the total. */
function countsTotal(counts: unknown, replicas: number): number {
  assertValues(counts, 'counts (per replica)', replicas);
  let total = 0;
  for (let w = 0; w < replicas; w++) {
    const n = counts[w]!;
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`counts[${w}] must be a non-negative integer, got ${describeValue(n)}`);
    total += n;
  }
  if (total < 1) throw new RangeError('counts add up to 0: no replica has a value to normalize with');
  return total;
}

/**
 * A replica's statistics on the CPU in float64, as the GPU's batchNormStats.
 *
 * Per channel, the count, mean and biased variance of x, which may be empty.
 *
 * @param x - Row-major values of `shape`.
 * @param shape - x's dimensions, rank 2 to 5; any but the channel's may be 0.
 */
export function batchNormStatsReference(x: ReferenceValues, shape: readonly number[], options: ReferenceStatsOptions = {}): ReferenceStatsResult {
  const o = readOptions(options, 'batchNormStatsReference options', STATS_KEYS);
  const axis = (o.axis ?? 1) as number;
  const { batch, channels, spatial } = channelLayout(shape, axis, true);
  assertTensorValues(x, 'x', shape);
  const count = batch * spatial;
  if (count === 0) return { count, mean: new Float64Array(channels), variance: new Float64Array(channels) };
  return channelMoments(x, shape, axis);
}

/**
 * Every replica's statistics merged on the CPU in float64, as the GPU's batchNormGatherStats.
 *
 * The global mean sum(n_w*mean_w)/N and biased variance sum(n_w*(var_w + (mean_w - mean)^2))/N of the given
 * values, invstd, and the running statistics blended as the training forward over the whole batch blends
 * them. A replica with count 0 contributes nothing.
 *
 * @param mean - Each replica's mean, row-major [W, C].
 * @param variance - Each replica's biased variance, [W, C].
 * @param shape - [W, C].
 */
export function batchNormGatherStatsReference(
  mean: ReferenceValues,
  variance: ReferenceValues,
  shape: readonly number[],
  options: ReferenceGatherStatsOptions,
): ReferenceGatherStatsResult {
  const o = readOptions(options, 'batchNormGatherStatsReference options', GATHER_KEYS, false);
  assertValidShape(shape, 'shape');
  if (shape.length !== 2) throw new RangeError(`shape must be [W, C] (replicas, channels), got [${shape.join(',')}]`);
  const [replicas, channels] = shape as [number, number];
  assertTensorValues(mean, 'mean', shape);
  assertTensorValues(variance, 'variance', shape);
  const total = countsTotal(o.counts, replicas);
  const counts = o.counts as ReferenceValues;
  const runningMeanIn = optionalChannelValues(o.runningMean, 'runningMean', channels);
  const runningVarIn = optionalChannelValues(o.runningVar, 'runningVar', channels);
  if ((runningMeanIn === null) !== (runningVarIn === null)) {
    throw new Error(`runningMean and runningVar go together; got only ${runningMeanIn ? 'runningMean' : 'runningVar'}`);
  }
  const eps = o.eps ?? DEFAULT_EPS;
  assertEps(eps);
  const m = runningFactor(true, runningMeanIn !== null, o.momentum, o.numBatchesTracked);
  const estimator = o.runningVarEstimator ?? 'unbiased';
  assertRunningVarEstimator(estimator);

  const globalMean = new Float64Array(channels);
  const globalVariance = new Float64Array(channels);
  const invstd = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    let sum = 0;
    for (let w = 0; w < replicas; w++) if (counts[w]! > 0) sum += counts[w]! * mean[w * channels + c]!;
    const mu = sum / total;
    let squares = 0;
    for (let w = 0; w < replicas; w++) {
      if (counts[w]! === 0) continue;
      const d = mean[w * channels + c]! - mu;
      squares += counts[w]! * (variance[w * channels + c]! + d * d);
    }
    globalMean[c] = mu;
    globalVariance[c] = squares / total;
    invstd[c] = 1 / Math.sqrt(globalVariance[c]! + eps);
  }
  let runningMean: Float64Array | null = null;
  let runningVar: Float64Array | null = null;
  if (runningMeanIn && runningVarIn) {
    const correction = estimator === 'biased' ? 1 : total / (total - 1);
    runningMean = Float64Array.from(runningMeanIn, (r, c) => (1 - m) * r + m * globalMean[c]!);
    runningVar = Float64Array.from(runningVarIn, (r, c) => (1 - m) * r + m * globalVariance[c]! * correction);
  }
  return { mean: globalMean, variance: globalVariance, invstd, runningMean, runningVar };
}

/**
 * Normalization with given statistics on the CPU in float64, as the GPU's batchNormElemt.
 *
 * y = (x - mean)*invstd*weight + bias per channel, then the activation.
 *
 * @param x - Row-major values of `shape`.
 * @param shape - x's dimensions, rank 2 to 5; any but the channel's may be 0.
 */
export function batchNormElemtReference(x: ReferenceValues, shape: readonly number[], options: ReferenceElemtOptions): ReferenceElemtResult {
  const o = readOptions(options, 'batchNormElemtReference options', ELEMT_KEYS, false);
  const { batch, channels, spatial } = channelLayout(shape, (o.axis ?? 1) as number, true);
  assertTensorValues(x, 'x', shape);
  const { mean, invstd, weight } = givenStatistics(o, channels);
  const bias = optionalChannelValues(o.bias, 'bias', channels);
  const activation = o.activation ?? null;
  assertActivation(activation);
  const residual = optionalTensorValues(o.residual, 'residual', shape);
  const y = new Float64Array(batch * channels * spatial);
  for (let i = 0; i < y.length; i++) {
    const c = Math.floor(i / spatial) % channels;
    const v = (x[i]! - mean[c]!) * invstd[c]! * (weight ? weight[c]! : 1) + (bias ? bias[c]! : 0) + (residual ? residual[i]! : 0);
    y[i] = activation === 'relu' && v <= 0 ? 0 : v;
  }
  return { y };
}

/** The per-channel mean, invstd and weight an elementwise reference is given, checked. */
function givenStatistics(o: { mean?: unknown; invstd?: unknown; weight?: unknown }, channels: number) {
  const { mean, invstd } = o;
  assertValues(mean, 'mean (per channel)', channels);
  assertValues(invstd, 'invstd (per channel)', channels);
  return { mean, invstd, weight: optionalChannelValues(o.weight, 'weight', channels) };
}

/** The checks both backward references share, and the gradient reaching the batch norm. */
function readBackward(what: string, dy: unknown, x: unknown, shape: readonly number[], o: Partial<Record<(typeof BACKWARD_KEYS)[number], unknown>>) {
  const layout: ChannelLayout = channelLayout(shape, (o.axis ?? 1) as number, true);
  const { channels } = layout;
  assertTensorValues(dy, 'dy', shape);
  assertTensorValues(x, 'x', shape);
  const { mean, invstd, weight } = givenStatistics(o, channels);
  const activation = o.activation ?? null;
  assertActivation(activation);
  const bias = optionalChannelValues(o.bias, 'bias', channels);
  if (bias && activation !== 'relu') throw new Error(`${what}: bias is read only with activation: 'relu' (to recompute the forward's ReLU mask)`);
  const reluOutput = optionalTensorValues(o.reluOutput, 'reluOutput', shape);
  const g = reluMaskedGradient(dy, x, layout, { activation, reluOutput, weight, bias, mean, invstd });
  return { layout, g, x, mean, invstd, weight };
}

/**
 * A replica's gradient sums on the CPU in float64, as the GPU's batchNormBackwardReduce.
 *
 * Per channel sum(dy) and sum(dy*(x - mean)) (dy masked by a ReLU), and with a weight dweight = sum(dy*xhat) and
 * dbias = sum(dy).
 *
 * @param dy - The gradient of the forward's output, in x's layout.
 * @param x - The forward's input, row-major values of `shape`; may be empty.
 */
export function batchNormBackwardReduceReference(
  dy: ReferenceValues,
  x: ReferenceValues,
  shape: readonly number[],
  options: ReferenceBackwardSyncCommon,
): ReferenceBackwardReduceResult {
  const o = readOptions(options, 'batchNormBackwardReduceReference options', BACKWARD_KEYS, false);
  const { layout, g, mean, invstd, weight } = readBackward('batchNormBackwardReduceReference', dy, x, shape, o);
  const { batch, channels, spatial } = layout;
  const sumDy = new Float64Array(channels);
  const sumDyXmu = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    let sum = 0;
    let centered = 0;
    for (let n = 0; n < batch; n++) {
      const base = (n * channels + c) * spatial;
      for (let i = base; i < base + spatial; i++) {
        sum += g[i]!;
        centered += g[i]! * (x[i]! - mean[c]!);
      }
    }
    sumDy[c] = sum;
    sumDyXmu[c] = centered;
  }
  return {
    sumDy,
    sumDyXmu,
    dweight: weight ? sumDyXmu.map((v, c) => v * invstd[c]!) : null,
    dbias: weight ? sumDy.slice() : null,
  };
}

/**
 * A replica's dx from the sums of every replica on the CPU in float64, as the GPU's batchNormBackwardElemt.
 *
 * dx = weight*invstd*(g - sumDy/N - (x - mean)*invstd^2*sumDyXmu/N), g being dy
 * masked by a ReLU and N the total of the counts.
 *
 * @param dy - The gradient of the forward's output, in x's layout.
 * @param x - The forward's input, row-major values of `shape`; may be empty.
 */
export function batchNormBackwardElemtReference(
  dy: ReferenceValues,
  x: ReferenceValues,
  shape: readonly number[],
  options: ReferenceBackwardElemtOptions,
): ReferenceBackwardElemtResult {
  const o = readOptions(options, 'batchNormBackwardElemtReference options', BACKWARD_ELEMT_KEYS, false);
  const { layout, g, mean, invstd, weight } = readBackward('batchNormBackwardElemtReference', dy, x, shape, o);
  const { channels, spatial } = layout;
  const sumDy = o.sumDy;
  const sumDyXmu = o.sumDyXmu;
  assertValues(sumDy, 'sumDy (per channel)', channels);
  assertValues(sumDyXmu, 'sumDyXmu (per channel)', channels);
  const total = countsTotal(o.counts, (o.counts as { length?: number } | null)?.length ?? 0);
  const dx = new Float64Array(g.length);
  for (let i = 0; i < dx.length; i++) {
    const c = Math.floor(i / spatial) % channels;
    const is = invstd[c]!;
    dx[i] = (weight ? weight[c]! : 1) * is * (g[i]! - sumDy[c]! / total - (x[i]! - mean[c]!) * is * is * (sumDyXmu[c]! / total));
  }
  return { dx };
}
