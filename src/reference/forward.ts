// CPU reference of batch norm, accumulating in float64: the truth the GPU tests compare against, and the
// CPU side of the GPU-vs-CPU benchmark, so its loops are tight passes over typed arrays.
import { DEFAULT_EPS } from '../runtime/defaults.js';
import { readOptions } from '../runtime/options.js';
import { assertTensorValues, optionalChannelValues, optionalMaskValues, optionalTensorValues, type ReferenceValues } from './checks.js';
import { channelLayout } from '../runtime/shape.js';
import { assertActivation, assertBoolean, assertEps, assertRunningVarEstimator, runningFactor, type Activation } from '../runtime/validate.js';

export type { ReferenceValues } from './checks.js';

/** Options of {@link batchNormReference}: those of the GPU's batchNorm, with arrays for tensors. */
export interface ReferenceForwardOptions {
  /** Per-channel scale, C values; default none (scale 1). */
  weight?: ReferenceValues | null;
  /** Per-channel shift, C values; default none (shift 0). */
  bias?: ReferenceValues | null;
  /** Running mean, C values: read in inference, blended with the batch mean in training (the result's runningMean). */
  runningMean?: ReferenceValues | null;
  /** Running variance, C values: as runningMean. */
  runningVar?: ReferenceValues | null;
  /** Batch statistics (true) or the running ones (false, which then are required). */
  training: boolean;
  /** Weight of the batch statistics in the running ones; default 0.1 (the main entry's DEFAULT_MOMENTUM). null: factor 1/numBatchesTracked. */
  momentum?: number | null;
  /** With `momentum: null`: batches seen including this one (required there, an integer >= 1). */
  numBatchesTracked?: number;
  /** Added to the variance before the square root; default 1e-5 (the main entry's DEFAULT_EPS). */
  eps?: number;
  /** Channel axis (default 1; -1 channels-last). */
  axis?: number;
  /** 'relu': y = max(x*scale + shift, 0), NaN passing through. */
  activation?: Activation | null;
  /** Which batch variance updates runningVar: 'unbiased' (PyTorch, default) or 'biased' (Keras 3). */
  runningVarEstimator?: 'unbiased' | 'biased';
  /** A residual z in x's layout, added before the activation: y = act(x*scale + shift + z). Default none. */
  residual?: ReferenceValues | null;
  /**
   * Keras's `mask`, x's shape without the channel axis (for any `axis`), entries 0 or 1 (inference ignores it). The
   * batch mean and biased variance (saveMean, saveInvstd) are taken over the positions where it is 1, and
   * every position is normalized with them; the running statistics blend those, the unbiased estimator
   * correcting with the masked count. Default none (every position counts). See {@link channelMoments} for
   * a channel with no or one masked position.
   */
  mask?: ReferenceValues | null;
}

/** What {@link batchNormReference} returns, all in float64. */
export interface ReferenceForwardResult {
  /** The normalized x, in x's layout. */
  y: Float64Array;
  /**
   * Per channel: the mean used to normalize: the batch mean in training (the GPU's saveMean), the running
   * mean in inference (where the GPU saves nothing).
   */
  saveMean: Float64Array;
  /** Per channel: 1/sqrt(var + eps) used to normalize (biased batch variance in training, running variance in inference). */
  saveInvstd: Float64Array;
  /** Training with running statistics: the updated running mean; otherwise null. */
  runningMean: Float64Array | null;
  /** Training with running statistics: the updated running variance; otherwise null. */
  runningVar: Float64Array | null;
}

const REFERENCE_FORWARD_KEYS = [
  'weight', 'bias', 'runningMean', 'runningVar', 'training', 'momentum', 'numBatchesTracked', 'eps', 'axis', 'activation', 'runningVarEstimator',
  'residual', 'mask',
] as const;

/**
 * Per-channel mean and biased variance by two passes in float64, over every position or a mask's ones.
 *
 * The masked moments divide by the exact count, where Keras divides by count + 1e-7 (a relative difference
 * below float32's precision). With a count of 0, Keras's formula gives mean 0 and variance 0, and so does
 * this; a count of 1 gives that value and variance 0.
 *
 * @param x - Row-major values of `shape`.
 * @param axis - The channel axis, negative from the end; default 1.
 * @param mask - Keras's mask: x's shape without the channel axis, entries 0 or 1; default none (every position).
 */
export function channelMoments(
  x: ReferenceValues,
  shape: readonly number[],
  axis = 1,
  mask: ReferenceValues | null = null,
): {
  /** Per channel: the mean. */
  mean: Float64Array;
  /** Per channel: the biased (population) variance. */
  variance: Float64Array;
  /** Values per channel the moments are over: the mask's ones, or every position (the same for every channel). */
  count: number;
} {
  const { batch, channels, spatial } = channelLayout(shape, axis);
  optionalMaskValues(mask, shape, axis);
  const mean = new Float64Array(channels);
  const variance = new Float64Array(channels);
  const count = statisticsCount(mask, batch * spatial);
  if (count === 0) return { mean, variance, count };
  // The mask's position p = n*spatial + s is x's (n, c, s) for every channel c. A masked-out position is
  // left out, as the GPU's statistics loops skip it: a NaN or Inf in the padding does not reach the sums
  // (Keras multiplies by the mask, which would spread it). Without one, the tight loops of before.
  for (let c = 0; c < channels; c++) {
    let sum = 0;
    for (let n = 0; n < batch; n++) {
      const base = (n * channels + c) * spatial;
      if (mask) for (let s = base, p = n * spatial, end = base + spatial; s < end; s++, p++) sum += mask[p] ? x[s]! : 0;
      else for (let s = base, end = base + spatial; s < end; s++) sum += x[s]!;
    }
    const m = sum / count;
    let squares = 0;
    for (let n = 0; n < batch; n++) {
      const base = (n * channels + c) * spatial;
      for (let s = base, p = n * spatial, end = base + spatial; s < end; s++, p++) {
        const d = x[s]! - m;
        if (!mask || mask[p]) squares += d * d;
      }
    }
    mean[c] = m;
    variance[c] = squares / count;
  }
  return { mean, variance, count };
}

/** How many values per channel the batch statistics are over: the mask's ones, or all `positions` without one. */
export function statisticsCount(mask: ReferenceValues | null, positions: number): number {
  if (!mask) return positions;
  let count = 0;
  for (let p = 0; p < mask.length; p++) count += mask[p]!;
  return count;
}

/**
 * Batch norm forward on the CPU in float64, as torch.nn.functional.batch_norm.
 *
 * The truth the GPU's {@link ReferenceForwardResult | results} are checked against.
 *
 * Its options are checked as the GPU's batchNorm checks its own: an unknown key, an array of the wrong
 * length or a value out of range is an error that names it.
 *
 * @param x - Row-major values of `shape`.
 * @param shape - x's dimensions, rank 2 to 5.
 */
export function batchNormReference(x: ReferenceValues, shape: readonly number[], options: ReferenceForwardOptions): ReferenceForwardResult {
  const o = readOptions(options, 'batchNormReference options', REFERENCE_FORWARD_KEYS, false);
  const training = o.training;
  assertBoolean(training, 'batchNormReference options.training');
  const axis = (o.axis ?? 1) as number;
  const { batch, channels, spatial } = channelLayout(shape, axis);
  assertTensorValues(x, 'x', shape);
  const weight = optionalChannelValues(o.weight, 'weight', channels);
  const bias = optionalChannelValues(o.bias, 'bias', channels);
  const runningMeanIn = optionalChannelValues(o.runningMean, 'runningMean', channels);
  const runningVarIn = optionalChannelValues(o.runningVar, 'runningVar', channels);
  if ((runningMeanIn === null) !== (runningVarIn === null)) {
    throw new Error(`runningMean and runningVar go together; got only ${runningMeanIn ? 'runningMean' : 'runningVar'}`);
  }
  if (!training && !runningMeanIn) throw new Error('inference (training: false) needs runningMean and runningVar');
  const eps = o.eps ?? DEFAULT_EPS;
  assertEps(eps);
  const m = runningFactor(training, runningMeanIn !== null, o.momentum, o.numBatchesTracked);
  const activation = o.activation ?? null;
  assertActivation(activation);
  const estimator = o.runningVarEstimator ?? 'unbiased';
  assertRunningVarEstimator(estimator);
  const residual = optionalTensorValues(o.residual, 'residual', shape);
  // Inference normalizes with the running statistics and ignores the mask, as Keras (and the GPU) do.
  const mask = training ? optionalMaskValues(o.mask, shape, axis) : null;

  const mean = new Float64Array(channels);
  const invstd = new Float64Array(channels);
  let runningMean: Float64Array | null = null;
  let runningVar: Float64Array | null = null;
  if (training) {
    const moments = channelMoments(x, shape, axis, mask);
    const count = moments.count;
    // The unbiased estimate needs two values: with fewer it is NaN (0/0 with one, as PyTorch's update).
    const correction = estimator === 'biased' ? 1 : count > 1 ? count / (count - 1) : Number.NaN;
    for (let c = 0; c < channels; c++) {
      mean[c] = moments.mean[c]!;
      invstd[c] = 1 / Math.sqrt(moments.variance[c]! + eps);
    }
    if (runningMeanIn && runningVarIn) {
      runningMean = new Float64Array(channels);
      runningVar = new Float64Array(channels);
      for (let c = 0; c < channels; c++) {
        runningMean[c] = (1 - m) * runningMeanIn[c]! + m * moments.mean[c]!;
        runningVar[c] = (1 - m) * runningVarIn[c]! + m * moments.variance[c]! * correction;
      }
    }
  } else {
    for (let c = 0; c < channels; c++) {
      mean[c] = runningMeanIn![c]!;
      invstd[c] = 1 / Math.sqrt(runningVarIn![c]! + eps);
    }
  }
  const y = new Float64Array(batch * channels * spatial);
  const relu = activation === 'relu';
  for (let c = 0; c < channels; c++) {
    const scale = (weight ? weight[c]! : 1) * invstd[c]!;
    const shift = (bias ? bias[c]! : 0) - mean[c]! * scale;
    for (let n = 0; n < batch; n++) {
      const base = (n * channels + c) * spatial;
      for (let s = base, end = base + spatial; s < end; s++) {
        const v = x[s]! * scale + shift + (residual ? residual[s]! : 0);
        y[s] = relu && v <= 0 ? 0 : v;
      }
    }
  }
  return { y, saveMean: mean, saveInvstd: invstd, runningMean, runningVar };
}
