// CPU reference of the batch-norm backward (PyTorch's native_batch_norm_backward), accumulating in
// float64: the truth the backward GPU tests compare against. Like the forward reference, tight passes
// over typed arrays.
import type { ReferenceValues } from './reference.js';
import { channelLayout } from './shape.js';

/** Options of both modes. */
export interface ReferenceBackwardCommon {
  /** The forward's per-channel scale, C values; default none (scale 1, and no dweight or dbias). */
  weight?: ReferenceValues | null;
  /** Channel axis (default 1; -1 channels-last). */
  axis?: number;
  /**
   * The output of a forward with a fused ReLU, as PyTorch saves it: dy passes where y > 0 and is 0
   * elsewhere (threshold_backward). Absent without a ReLU.
   */
  reluOutput?: ReferenceValues | null;
}

/** Options of {@link batchNormBackwardReference}: those of the GPU's batchNormBackward, with arrays for tensors. */
export type ReferenceBackwardOptions = ReferenceBackwardCommon &
  (
    | {
        /** The training forward's batch mean, C values. */
        saveMean: ReferenceValues;
        /** The training forward's 1/sqrt(biased batch variance + eps), C values. */
        saveInvstd: ReferenceValues;
        /** Differentiates a training forward. */
        training: true;
      }
    | {
        /** The running mean the inference forward used, C values. */
        runningMean: ReferenceValues;
        /** The running variance the inference forward used, C values. */
        runningVar: ReferenceValues;
        /** The inference forward's eps; default 1e-5. */
        eps?: number;
        /** Differentiates an inference forward. */
        training: false;
      }
  );

/** What {@link batchNormBackwardReference} returns, all in float64. */
export interface ReferenceBackwardResult {
  /** The gradient of x, in x's layout. */
  dx: Float64Array;
  /** sum(dy * xhat) per channel; null without a weight (as the GPU op). */
  dweight: Float64Array | null;
  /** sum(dy) per channel; null without a weight. */
  dbias: Float64Array | null;
  /** Per channel: the mean that xhat = (x - mean) * invstd used. */
  mean: Float64Array;
  /** Per channel: the invstd that xhat = (x - mean) * invstd used. */
  invstd: Float64Array;
}

/**
 * Batch norm backward on the CPU in float64 (PyTorch's native_batch_norm_backward): the truth the GPU's
 * backward is checked against.
 *
 * @param dy - The gradient of the forward's output, in x's layout.
 * @param x - The forward's input, row-major values of `shape`.
 */
export function batchNormBackwardReference(
  dy: ReferenceValues,
  x: ReferenceValues,
  shape: readonly number[],
  options: ReferenceBackwardOptions,
): ReferenceBackwardResult {
  const { batch, channels, spatial } = channelLayout(shape, options.axis ?? 1);
  const count = batch * spatial;
  const reluOutput = options.reluOutput ?? null;
  // The gradient reaching the batch norm: dy, masked by the ReLU that followed it.
  const g = reluOutput ? Float64Array.from(dy, (v, i) => (reluOutput[i]! > 0 ? v : 0)) : dy;
  const mean = new Float64Array(channels);
  const invstd = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    if (options.training) {
      mean[c] = options.saveMean[c]!;
      invstd[c] = options.saveInvstd[c]!;
    } else {
      mean[c] = options.runningMean[c]!;
      invstd[c] = 1 / Math.sqrt(options.runningVar[c]! + (options.eps ?? 1e-5));
    }
  }
  const weight = options.weight ?? null;
  const dx = new Float64Array(batch * channels * spatial);
  const dweight = weight ? new Float64Array(channels) : null;
  const dbias = weight ? new Float64Array(channels) : null;
  for (let c = 0; c < channels; c++) {
    const m = mean[c]!;
    const is = invstd[c]!;
    let sumDy = 0;
    let sumDyXhat = 0;
    for (let n = 0; n < batch; n++) {
      const base = (n * channels + c) * spatial;
      for (let s = base, end = base + spatial; s < end; s++) {
        sumDy += g[s]!;
        sumDyXhat += g[s]! * (x[s]! - m) * is;
      }
    }
    if (dweight && dbias) {
      dweight[c] = sumDyXhat;
      dbias[c] = sumDy;
    }
    const scale = (weight ? weight[c]! : 1) * is;
    // Training: the gradient also flows through the batch mean and variance.
    const meanDy = options.training ? sumDy / count : 0;
    const meanDyXhat = options.training ? sumDyXhat / count : 0;
    for (let n = 0; n < batch; n++) {
      const base = (n * channels + c) * spatial;
      for (let s = base, end = base + spatial; s < end; s++) {
        dx[s] = scale * (g[s]! - meanDy - (x[s]! - m) * is * meanDyXhat);
      }
    }
  }
  return { dx, dweight, dbias, mean, invstd };
}
