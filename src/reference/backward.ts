// CPU reference of the batch-norm backward (PyTorch's native_batch_norm_backward), accumulating in
// float64: the truth the backward GPU tests compare against. Like the forward reference, tight passes
// over typed arrays.
import { DEFAULT_EPS } from '../runtime/defaults.js';
import { readOptions } from '../runtime/options.js';
import { assertTensorValues, assertValues, optionalChannelValues, optionalMaskValues, optionalTensorValues } from './checks.js';
import { statisticsCount, type ReferenceValues } from './forward.js';
import { channelLayout } from '../runtime/shape.js';
import { assertActivation, assertBoolean, assertEps, type Activation } from '../runtime/validate.js';

const COMMON_KEYS = ['weight', 'training', 'axis', 'activation', 'bias', 'reluOutput', 'residual'] as const;
const TRAINING_KEYS = [...COMMON_KEYS, 'saveMean', 'saveInvstd', 'mask'] as const;
const INFERENCE_KEYS = [...COMMON_KEYS, 'runningMean', 'runningVar', 'eps'] as const;

/** Options of both modes. */
export interface ReferenceBackwardCommon {
  /** The forward's per-channel scale, C values; default none (scale 1, and no dweight or dbias). */
  weight?: ReferenceValues | null;
  /** Channel axis (default 1; -1 channels-last). */
  axis?: number;
  /**
   * The forward's fused activation, as the GPU's batchNormBackward takes it: with 'relu', dy passes where
   * the forward's y = x*scale + shift was > 0, recomputed here in float64 from x, the statistics, the
   * weight and `bias`. Default null.
   */
  activation?: Activation | null;
  /** With activation 'relu' and no residual: the forward's bias, C values (default none: shift 0). */
  bias?: ReferenceValues | null;
  /**
   * Instead of recomputing the ReLU's mask: the output of that forward, as PyTorch saves it (dy passes
   * where y > 0: threshold_backward), in x's layout. A forward's stored output (a GPU's y, say) then
   * decides the values next to 0, as in PyTorch. With `residual: true` and activation 'relu' it is
   * required (the GPU's `y` option): y cannot be recomputed without z.
   */
  reluOutput?: ReferenceValues | null;
  /**
   * true: the forward added a residual z before the activation; the result's dz is its gradient, dy
   * masked by the activation (dy itself without one). As the GPU's batchNormBackward takes it. Default false.
   */
  residual?: boolean;
}

/** Options of {@link batchNormBackwardReference}: those of the GPU's batchNormBackward, with arrays for tensors. */
export type ReferenceBackwardOptions = ReferenceBackwardCommon &
  (
    | {
        /** The training forward's batch mean, C values. */
        saveMean: ReferenceValues;
        /** The training forward's 1/sqrt(biased batch variance + eps), C values. */
        saveInvstd: ReferenceValues;
        /**
         * The training forward's mask (x's shape without the channel axis, entries 0 or 1), whose positions
         * alone made the batch statistics: the gradient through them reaches those positions only, with
         * n the masked count, while every position gets the direct term weight*invstd*dy. Default none.
         */
        mask?: ReferenceValues | null;
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
  /** With `residual: true`: the residual's gradient, dy masked by the activation, in x's layout; otherwise null. */
  dz: Float64Array | null;
  /** Per channel: the mean that xhat = (x - mean) * invstd used (saveMean, or the running mean). */
  saveMean: Float64Array;
  /** Per channel: the invstd that xhat = (x - mean) * invstd used (saveInvstd, or from the running variance). */
  saveInvstd: Float64Array;
}

/**
 * Batch norm backward on the CPU in float64, as PyTorch's native_batch_norm_backward.
 *
 * The truth the GPU's backward is checked against.
 *
 * Its options are checked as the GPU's batchNormBackward checks its own: an unknown key, an array of the
 * wrong length or a value out of range is an error that names it.
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
  const training = readOptions(options, 'batchNormBackwardReference options', [...TRAINING_KEYS, ...INFERENCE_KEYS], false).training;
  assertBoolean(training, 'batchNormBackwardReference options.training');
  const o = readOptions(options, `batchNormBackwardReference options (training: ${training})`, training ? TRAINING_KEYS : INFERENCE_KEYS, false);
  const axis = (o.axis ?? 1) as number;
  const { batch, channels, spatial } = channelLayout(shape, axis);
  assertTensorValues(dy, 'dy', shape);
  assertTensorValues(x, 'x', shape);
  const weight = optionalChannelValues(o.weight, 'weight', channels);
  const [meanName, spreadName] = training ? (['saveMean', 'saveInvstd'] as const) : (['runningMean', 'runningVar'] as const);
  const givenMean = o[meanName];
  const givenSpread = o[spreadName];
  assertValues(givenMean, `${meanName} (per channel)`, channels);
  assertValues(givenSpread, `${spreadName} (per channel)`, channels);
  const eps = training ? 0 : (o.eps ?? DEFAULT_EPS);
  assertEps(eps);
  const activation = o.activation ?? null;
  assertActivation(activation);
  const residual = o.residual ?? false;
  assertBoolean(residual, 'batchNormBackwardReference options.residual');
  const bias = optionalChannelValues(o.bias, 'bias', channels);
  if (bias && !(activation === 'relu' && !residual)) {
    throw new Error(
      "bias is read only with activation: 'relu' and no residual (to recompute the forward's ReLU mask; with a residual the mask is reluOutput's)",
    );
  }
  const reluOutput = optionalTensorValues(o.reluOutput, 'reluOutput', shape);
  const mask = training ? optionalMaskValues(o.mask, shape, axis) : null;
  if (residual && activation === 'relu' && !reluOutput) {
    throw new TypeError("batchNormBackwardReference with residual: true and activation: 'relu' needs reluOutput (the forward's output, whose sign is the ReLU's mask)");
  }

  const count = statisticsCount(mask, batch * spatial);
  const mean = new Float64Array(channels);
  const invstd = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    mean[c] = givenMean[c]!;
    invstd[c] = training ? givenSpread[c]! : 1 / Math.sqrt(givenSpread[c]! + eps);
  }
  const g = reluMaskedGradient(dy, x, { channels, spatial }, { activation, reluOutput, weight, bias, mean, invstd });
  // The residual's gradient is what reaches the batch norm: the sum's gradient flows to both terms.
  const dz = residual ? Float64Array.from(g) : null;
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
    // Training: the gradient also flows through the batch mean and variance, to the positions they were
    // taken over (with a mask, its ones; sumDy and sumDyXhat still run over every position, all normalized).
    const meanDy = training ? sumDy / count : 0;
    const meanDyXhat = training ? sumDyXhat / count : 0;
    for (let n = 0; n < batch; n++) {
      const base = (n * channels + c) * spatial;
      for (let s = base, p = n * spatial, end = base + spatial; s < end; s++, p++) {
        dx[s] = mask && mask[p] === 0 ? scale * g[s]! : scale * (g[s]! - meanDy - (x[s]! - m) * is * meanDyXhat);
      }
    }
  }
  return { dx, dweight, dbias, dz, saveMean: mean, saveInvstd: invstd };
}

/**
 * The gradient reaching the batch norm: dy, masked by the ReLU that followed it (from its stored output,
 * or recomputed in float64 as the forward computed y from x, the statistics, the weight and the bias).
 */
export function reluMaskedGradient(
  dy: ReferenceValues,
  x: ReferenceValues,
  { channels, spatial }: { channels: number; spatial: number },
  forward: {
    activation: Activation | null;
    reluOutput: ReferenceValues | null;
    weight: ReferenceValues | null;
    bias: ReferenceValues | null;
    mean: ReferenceValues;
    invstd: ReferenceValues;
  },
): ReferenceValues {
  const { activation, reluOutput, weight, bias, mean, invstd } = forward;
  const passes = reluOutput
    ? (i: number) => reluOutput[i]! > 0
    : activation === 'relu'
      ? (i: number) => {
          const c = Math.floor(i / spatial) % channels;
          const scale = (weight ? weight[c]! : 1) * invstd[c]!;
          return x[i]! * scale + ((bias ? bias[c]! : 0) - mean[c]! * scale) > 0;
        }
      : null;
  return passes ? Float64Array.from(dy, (v, i) => (passes(i) ? v : 0)) : dy;
}
