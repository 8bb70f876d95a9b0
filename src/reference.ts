// CPU reference of batch norm, accumulating in float64: the truth the GPU tests compare against, and the
// CPU side of the GPU-vs-CPU benchmark, so its loops are tight passes over typed arrays.
import { channelLayout } from './shape.js';

/** Numbers the references take: a Float32Array (what `Tensor.toArray()` gives), a Float64Array or a plain array. */
export type ReferenceValues = Float32Array | Float64Array | readonly number[];

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
  /** Weight of the batch statistics in the running ones; default 0.1. null: factor 1/numBatchesTracked. */
  momentum?: number | null;
  /** With `momentum: null`: batches seen including this one; default 1. */
  numBatchesTracked?: number;
  /** Added to the variance before the square root; default 1e-5. */
  eps?: number;
  /** Channel axis (default 1; -1 channels-last). */
  axis?: number;
  /** 'relu': y = max(x*scale + shift, 0), NaN passing through. */
  activation?: 'relu' | null;
  /** Which batch variance updates runningVar: 'unbiased' (PyTorch, default) or 'biased' (Keras 3). */
  runningVarEstimator?: 'unbiased' | 'biased';
}

/** What {@link batchNormReference} returns, all in float64. */
export interface ReferenceForwardResult {
  /** The normalized x, in x's layout. */
  y: Float64Array;
  /** Per channel: the mean used to normalize (the batch mean in training, the running mean in inference). */
  mean: Float64Array;
  /** Per channel: 1/sqrt(var + eps) used to normalize (biased batch variance in training, running variance in inference). */
  invstd: Float64Array;
  /** Training with running statistics: the updated running mean; otherwise null. */
  runningMean: Float64Array | null;
  /** Training with running statistics: the updated running variance; otherwise null. */
  runningVar: Float64Array | null;
}

/**
 * Per-channel mean and biased variance by two passes in float64.
 *
 * @param x - Row-major values of `shape`.
 * @param axis - The channel axis, negative from the end; default 1.
 */
export function channelMoments(
  x: ReferenceValues,
  shape: readonly number[],
  axis = 1,
): {
  /** Per channel: the mean. */
  mean: Float64Array;
  /** Per channel: the biased (population) variance. */
  variance: Float64Array;
} {
  const { batch, channels, spatial } = channelLayout(shape, axis);
  const mean = new Float64Array(channels);
  const variance = new Float64Array(channels);
  const count = batch * spatial;
  for (let c = 0; c < channels; c++) {
    let sum = 0;
    for (let n = 0; n < batch; n++) {
      const base = (n * channels + c) * spatial;
      for (let s = base, end = base + spatial; s < end; s++) sum += x[s]!;
    }
    const m = sum / count;
    let squares = 0;
    for (let n = 0; n < batch; n++) {
      const base = (n * channels + c) * spatial;
      for (let s = base, end = base + spatial; s < end; s++) {
        const d = x[s]! - m;
        squares += d * d;
      }
    }
    mean[c] = m;
    variance[c] = squares / count;
  }
  return { mean, variance };
}

/**
 * Batch norm forward on the CPU in float64 (torch.nn.functional.batch_norm's semantics): the truth the
 * GPU's {@link ReferenceForwardResult | results} are checked against.
 *
 * @param x - Row-major values of `shape`.
 * @param shape - x's dimensions, rank 2 to 5.
 */
export function batchNormReference(x: ReferenceValues, shape: readonly number[], options: ReferenceForwardOptions): ReferenceForwardResult {
  const axis = options.axis ?? 1;
  const { batch, channels, spatial } = channelLayout(shape, axis);
  const eps = options.eps ?? 1e-5;
  const mean = new Float64Array(channels);
  const invstd = new Float64Array(channels);
  let runningMean: Float64Array | null = null;
  let runningVar: Float64Array | null = null;
  if (options.training) {
    const count = batch * spatial;
    const moments = channelMoments(x, shape, axis);
    const correction = options.runningVarEstimator === 'biased' ? 1 : count / (count - 1);
    for (let c = 0; c < channels; c++) {
      mean[c] = moments.mean[c]!;
      invstd[c] = 1 / Math.sqrt(moments.variance[c]! + eps);
    }
    if (options.runningMean && options.runningVar) {
      const m = options.momentum === null ? 1 / (options.numBatchesTracked ?? 1) : (options.momentum ?? 0.1);
      runningMean = new Float64Array(channels);
      runningVar = new Float64Array(channels);
      for (let c = 0; c < channels; c++) {
        runningMean[c] = (1 - m) * options.runningMean[c]! + m * moments.mean[c]!;
        runningVar[c] = (1 - m) * options.runningVar[c]! + m * moments.variance[c]! * correction;
      }
    }
  } else {
    if (!options.runningMean || !options.runningVar) throw new Error('inference needs runningMean and runningVar');
    for (let c = 0; c < channels; c++) {
      mean[c] = options.runningMean[c]!;
      invstd[c] = 1 / Math.sqrt(options.runningVar[c]! + eps);
    }
  }
  const y = new Float64Array(batch * channels * spatial);
  const relu = options.activation === 'relu';
  for (let c = 0; c < channels; c++) {
    const scale = (options.weight ? options.weight[c]! : 1) * invstd[c]!;
    const shift = (options.bias ? options.bias[c]! : 0) - mean[c]! * scale;
    for (let n = 0; n < batch; n++) {
      const base = (n * channels + c) * spatial;
      for (let s = base, end = base + spatial; s < end; s++) {
        const v = x[s]! * scale + shift;
        y[s] = relu && v <= 0 ? 0 : v;
      }
    }
  }
  return { y, mean, invstd, runningMean, runningVar };
}
