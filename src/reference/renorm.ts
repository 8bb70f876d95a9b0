// Float64 reference of Keras 3's batch renormalization (keras.layers.BatchNormalization(renorm=True),
// keras/src/layers/normalization/batch_normalization.py): one training step, its backward, and the initial
// weights. Inference is plain batch norm with moving_mean and moving_variance (batchNormReference).
import { KERAS_DEFAULT_RENORM_MOMENTUM } from '../runtime/defaults.js';
import { describeValue, readOptions } from '../runtime/options.js';
import { channelLayout } from '../runtime/shape.js';
import { assertBoolean, assertKerasMomentum, readKerasLayerSettings, readRenormClipping, type RenormClipping } from '../runtime/validate.js';
import { batchNormBackwardReference } from './backward.js';
import { assertTensorValues, assertValues, optionalChannelValues, type ReferenceValues } from './checks.js';
import { batchNormReference, channelMoments } from './forward.js';

export type { RenormClipping } from '../runtime/validate.js';

/**
 * A renorm layer's weights going into a step, C values each.
 *
 * Keras's names camel-cased; its `get_weights()` order is gamma, beta, moving_mean, moving_variance,
 * moving_stddev, renorm_mean, renorm_stddev.
 */
export interface KerasRenormState {
  /** The scale; required with `scale: true` (Keras's default), refused without. */
  gamma?: ReferenceValues | null;
  /** The offset; required with `center: true` (Keras's default), refused without. */
  beta?: ReferenceValues | null;
  /** Blends the batch mean with `momentum`. */
  movingMean: ReferenceValues;
  /** Not read: a step derives it from the updated moving_stddev. Taken so that a step's weights can go into the next. */
  movingVariance?: ReferenceValues | null;
  /** Blends the batch's sqrt(variance + epsilon) with `momentum`. */
  movingStddev: ReferenceValues;
  /** The mean r and d correct towards; blends the batch mean with `renormMomentum` after r and d are taken. */
  renormMean: ReferenceValues;
  /** The standard deviation r and d correct towards; blends as renormMean. */
  renormStddev: ReferenceValues;
}

/** A renorm layer's weights, all in float64, in Keras's order; gamma and beta null where the layer has none. */
export interface KerasRenormWeights {
  /** The scale (a step copies it: the optimizer updates it, not the step); null without `scale`. */
  gamma: Float64Array | null;
  /** The offset (a step copies it); null without `center`. */
  beta: Float64Array | null;
  /** moving_mean. */
  movingMean: Float64Array;
  /** moving_variance = relu(moving_stddev^2 - epsilon): what inference normalizes with. */
  movingVariance: Float64Array;
  /** moving_stddev. */
  movingStddev: Float64Array;
  /** renorm_mean. */
  renormMean: Float64Array;
  /** renorm_stddev. */
  renormStddev: Float64Array;
}

/** Options of {@link kerasRenormReference}: keras.layers.BatchNormalization's, renorm on, with its defaults. */
export interface KerasRenormOptions {
  /** Channel axis, negative from the end; default -1 (channels last, Keras's default). */
  axis?: number;
  /** Added to the variance before the square root; default 1e-3. */
  epsilon?: number;
  /** Keras's convention for moving_mean and moving_stddev: moving = moving*momentum + batch*(1 - momentum); default 0.99. */
  momentum?: number;
  /** The same convention for renorm_mean and renorm_stddev; default 0.99. */
  renormMomentum?: number;
  /** Bounds on r and d; a missing key (or no clipping at all, the default) does not clip. */
  renormClipping?: RenormClipping | null;
  /** The layer has beta; default true. */
  center?: boolean;
  /** The layer has gamma; default true. */
  scale?: boolean;
  /** Keras's mask: x's shape without the channel axis, entries 0 or 1; the batch statistics are over its ones (see batchNormReference). */
  mask?: ReferenceValues | null;
}

/** What {@link kerasRenormReference} returns, all in float64. */
export interface KerasRenormStepResult {
  /** y = xhat*(r*gamma) + (d*gamma + beta), xhat normalized with the batch statistics; in x's layout. */
  y: Float64Array;
  /** Per channel: r = clip(sigma_B / max(renorm_stddev, sqrt(epsilon)), rmin, rmax), from the weights before this step. */
  r: Float64Array;
  /** Per channel: d = clip((mu_B - renorm_mean) / max(renorm_stddev, sqrt(epsilon)), -dmax, dmax), from the weights before this step. */
  d: Float64Array;
  /** Per channel: the batch mean mu_B. */
  saveMean: Float64Array;
  /** Per channel: 1/sigma_B, sigma_B = sqrt(biased batch variance + epsilon). */
  saveInvstd: Float64Array;
  /** The weights after the step. */
  weights: KerasRenormWeights;
  /** The same arrays as Keras's `get_weights()` lists them: gamma and beta left out where the layer has none. */
  weightList: Float64Array[];
}

/** Options of {@link kerasRenormInitialWeights}. */
export interface KerasRenormInitialOptions {
  /** The layer has beta (zeros); default true. */
  center?: boolean;
  /** The layer has gamma (ones); default true. */
  scale?: boolean;
  /** moving_mean's initial values, C of them; default zeros. renorm_mean starts the same (Keras clones the initializer). */
  movingMean?: ReferenceValues | null;
  /** moving_variance's initial values, C of them (>= 0); default ones. moving_stddev and renorm_stddev start at their square roots. */
  movingVariance?: ReferenceValues | null;
}

/** Options of {@link kerasRenormBackwardReference}: what the step used and returned. */
export interface KerasRenormBackwardOptions {
  /** The step's gamma; absent or null without `scale` (r*1 is then the effective scale). */
  gamma?: ReferenceValues | null;
  /** The layer has beta (so a dbeta); default true. */
  center?: boolean;
  /** The step's saveMean. */
  saveMean: ReferenceValues;
  /** The step's saveInvstd. */
  saveInvstd: ReferenceValues;
  /** The step's r: a constant of the gradient (Keras's stop_gradient). */
  r: ReferenceValues;
  /** The step's d: a constant of the gradient. */
  d: ReferenceValues;
  /** Channel axis; default -1. */
  axis?: number;
  /** The step's mask; default none. */
  mask?: ReferenceValues | null;
}

/** What {@link kerasRenormBackwardReference} returns, all in float64. */
export interface KerasRenormBackwardResult {
  /** The gradient of x: batch norm's backward with weight r*gamma; in x's layout. */
  dx: Float64Array;
  /** Per channel: sum(dy * (r*xhat + d)); null without gamma. */
  dgamma: Float64Array | null;
  /** Per channel: sum(dy); null without `center`. */
  dbeta: Float64Array | null;
}

/** @internal The keys of each options type (test/unit/options-types.test.ts checks them against the types). */
export const STEP_KEYS = ['axis', 'epsilon', 'momentum', 'renormMomentum', 'renormClipping', 'center', 'scale', 'mask'] as const;
/** @internal */
export const STATE_KEYS = ['gamma', 'beta', 'movingMean', 'movingVariance', 'movingStddev', 'renormMean', 'renormStddev'] as const;
/** @internal */
export const INITIAL_KEYS = ['center', 'scale', 'movingMean', 'movingVariance'] as const;
/** @internal */
export const BACKWARD_KEYS = ['gamma', 'center', 'saveMean', 'saveInvstd', 'r', 'd', 'axis', 'mask'] as const;

/** gamma or beta: required when the layer has it (`flag`), refused otherwise. */
function affineValues(value: unknown, name: 'gamma' | 'beta', flag: 'scale' | 'center', has: boolean, channels: number): ReferenceValues | null {
  const values = optionalChannelValues(value, name, channels);
  if (has && !values) throw new TypeError(`${flag}: true needs ${name} (C values); pass ${flag}: false for a layer without one`);
  if (!has && values) throw new TypeError(`${name} is read only with ${flag}: true`);
  return values;
}

/**
 * The weights of a freshly built renorm layer, as Keras's `build` makes them.
 *
 * gamma ones, beta zeros, moving_mean and renorm_mean the moving mean's initial values (zeros),
 * moving_variance its (ones), and moving_stddev and renorm_stddev their square roots.
 *
 * @param channels - C, the size of the channel axis.
 */
export function kerasRenormInitialWeights(channels: number, options: KerasRenormInitialOptions = {}): KerasRenormWeights {
  const o = readOptions(options, 'kerasRenormInitialWeights options', INITIAL_KEYS);
  if (!Number.isInteger(channels) || channels < 1) throw new RangeError(`channels must be a positive integer, got ${describeValue(channels)}`);
  const center = o.center ?? true;
  assertBoolean(center, 'kerasRenormInitialWeights options.center');
  const scale = o.scale ?? true;
  assertBoolean(scale, 'kerasRenormInitialWeights options.scale');
  const mean = optionalChannelValues(o.movingMean, 'movingMean', channels);
  const variance = optionalChannelValues(o.movingVariance, 'movingVariance', channels);
  const stddev = Float64Array.from({ length: channels }, (_, c) => {
    const v = variance ? variance[c]! : 1;
    if (!(v >= 0)) throw new RangeError(`movingVariance[${c}] is ${v}; a variance is >= 0`);
    return Math.sqrt(v);
  });
  return {
    gamma: scale ? new Float64Array(channels).fill(1) : null,
    beta: center ? new Float64Array(channels) : null,
    movingMean: mean ? Float64Array.from(mean) : new Float64Array(channels),
    movingVariance: variance ? Float64Array.from(variance) : new Float64Array(channels).fill(1),
    movingStddev: stddev,
    renormMean: mean ? Float64Array.from(mean) : new Float64Array(channels),
    renormStddev: Float64Array.from(stddev),
  };
}

/**
 * One training step of Keras 3's BatchNormalization with `renorm=True`, on the CPU in float64.
 *
 * With the batch mean mu_B and biased variance (over the mask's ones, given one), sigma_B =
 * sqrt(variance + epsilon) and s = max(renorm_stddev, sqrt(epsilon)): r = clip(sigma_B/s, rmin, rmax),
 * d = clip((mu_B - renorm_mean)/s, -dmax, dmax), both from the weights before this step, and
 * y = xhat*(r*gamma) + (d*gamma + beta). Then, v = v*m + new*(1 - m): renorm_mean and renorm_stddev take
 * mu_B and sigma_B with `renormMomentum`; moving_mean takes mu_B and moving_stddev sigma_B with `momentum`;
 * moving_variance = relu(moving_stddev^2 - epsilon). Inference is batchNormReference with moving_mean and
 * moving_variance (`training: false`, `eps: epsilon`).
 *
 * @param x - Row-major values of `shape`.
 * @param shape - x's dimensions, rank 2 to 5.
 * @param state - The weights before the step (a previous step's `weights`, or {@link kerasRenormInitialWeights}).
 */
export function kerasRenormReference(
  x: ReferenceValues,
  shape: readonly number[],
  state: KerasRenormState,
  options: KerasRenormOptions = {},
): KerasRenormStepResult {
  const o = readOptions(options, 'kerasRenormReference options', STEP_KEYS);
  const { axis, epsilon, momentum, center, scale } = readKerasLayerSettings(o, 'kerasRenormReference options');
  const { channels } = channelLayout(shape, axis);
  const renormMomentum = o.renormMomentum ?? KERAS_DEFAULT_RENORM_MOMENTUM;
  assertKerasMomentum(renormMomentum, 'kerasRenormReference options.renormMomentum');
  const { rmin, rmax, dmax } = readRenormClipping(o.renormClipping, 'kerasRenormReference options.renormClipping');

  const s = readOptions(state, 'kerasRenormReference state', STATE_KEYS, false);
  const gamma = affineValues(s.gamma, 'gamma', 'scale', scale, channels);
  const beta = affineValues(s.beta, 'beta', 'center', center, channels);
  optionalChannelValues(s.movingVariance, 'movingVariance', channels);
  const perChannel = (key: 'movingMean' | 'movingStddev' | 'renormMean' | 'renormStddev'): ReferenceValues => {
    const v = s[key];
    assertValues(v, `${key} (per channel)`, channels);
    return v;
  };
  const movingMean = perChannel('movingMean');
  const movingStddev = perChannel('movingStddev');
  const renormMean = perChannel('renormMean');
  const renormStddev = perChannel('renormStddev');
  assertTensorValues(x, 'x', shape);
  // Checks the mask, then takes the batch statistics over its ones.
  const { mean, variance } = channelMoments(x, shape, axis, (o.mask ?? null) as ReferenceValues | null);

  const r = new Float64Array(channels);
  const d = new Float64Array(channels);
  const saveInvstd = new Float64Array(channels);
  const weight = new Float64Array(channels);
  const bias = new Float64Array(channels);
  const weights: KerasRenormWeights = {
    gamma: gamma ? Float64Array.from(gamma) : null,
    beta: beta ? Float64Array.from(beta) : null,
    movingMean: new Float64Array(channels),
    movingVariance: new Float64Array(channels),
    movingStddev: new Float64Array(channels),
    renormMean: new Float64Array(channels),
    renormStddev: new Float64Array(channels),
  };
  const floor = Math.sqrt(epsilon);
  for (let c = 0; c < channels; c++) {
    const sigma = Math.sqrt(variance[c]! + epsilon);
    const spread = Math.max(renormStddev[c]!, floor);
    let rc = sigma / spread;
    if (rmin !== null) rc = Math.max(rc, rmin);
    if (rmax !== null) rc = Math.min(rc, rmax);
    let dc = (mean[c]! - renormMean[c]!) / spread;
    if (dmax !== null) dc = Math.min(Math.max(dc, -dmax), dmax);
    r[c] = rc;
    d[c] = dc;
    saveInvstd[c] = 1 / sigma;
    const g = gamma ? gamma[c]! : 1;
    weight[c] = rc * g;
    bias[c] = dc * g + (beta ? beta[c]! : 0);
    weights.renormMean[c] = renormMean[c]! * renormMomentum + mean[c]! * (1 - renormMomentum);
    weights.renormStddev[c] = renormStddev[c]! * renormMomentum + sigma * (1 - renormMomentum);
    weights.movingMean[c] = movingMean[c]! * momentum + mean[c]! * (1 - momentum);
    const stddev = movingStddev[c]! * momentum + sigma * (1 - momentum);
    weights.movingStddev[c] = stddev;
    weights.movingVariance[c] = Math.max(stddev * stddev - epsilon, 0);
  }
  // Keras's own last step: batch_normalization with the batch statistics and the composed scale and offset.
  const { y } = batchNormReference(x, shape, { training: false, runningMean: mean, runningVar: variance, eps: epsilon, weight, bias, axis });
  const weightList = Object.values(weights).filter((w): w is Float64Array => w !== null);
  return { y, r, d, saveMean: mean, saveInvstd, weights, weightList };
}

/**
 * The backward of {@link kerasRenormReference}'s step, on the CPU in float64, r and d held constant.
 *
 * As Keras's stop_gradient on r and d: dx is batch norm's training backward with weight r*gamma (and the
 * step's mask), dgamma = sum(dy*(r*xhat + d)), dbeta = sum(dy).
 *
 * @param dy - The gradient of the step's y, in x's layout.
 * @param x - The step's input, row-major values of `shape`.
 */
export function kerasRenormBackwardReference(
  dy: ReferenceValues,
  x: ReferenceValues,
  shape: readonly number[],
  options: KerasRenormBackwardOptions,
): KerasRenormBackwardResult {
  const o = readOptions(options, 'kerasRenormBackwardReference options', BACKWARD_KEYS, false);
  const axis = (o.axis ?? -1) as number;
  const { channels } = channelLayout(shape, axis);
  const gamma = optionalChannelValues(o.gamma, 'gamma', channels);
  const center = o.center ?? true;
  assertBoolean(center, 'kerasRenormBackwardReference options.center');
  const { r, d } = o;
  assertValues(r, 'r (per channel)', channels);
  assertValues(d, 'd (per channel)', channels);
  const weight = Float64Array.from({ length: channels }, (_, c) => r[c]! * (gamma ? gamma[c]! : 1));
  const { dx, dweight, dbias } = batchNormBackwardReference(dy, x, shape, {
    training: true, weight, saveMean: o.saveMean as ReferenceValues, saveInvstd: o.saveInvstd as ReferenceValues, axis, mask: (o.mask ?? null) as ReferenceValues | null,
  });
  // dweight = sum(dy*xhat), dbias = sum(dy): y's gamma-derivative is r*xhat + d.
  const dgamma = gamma ? Float64Array.from({ length: channels }, (_, c) => r[c]! * dweight![c]! + d[c]! * dbias![c]!) : null;
  return { dx, dgamma, dbeta: center ? dbias : null };
}
