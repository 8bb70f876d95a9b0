// BatchNorm: the module (nn.BatchNorm1d/2d/3d, or keras.layers.BatchNormalization through BatchNorm.keras):
// owns weight, bias and running statistics, tracks numBatchesTracked, keeps what its last forward saved for
// backward(dy), and moves its state in and out as PyTorch's state_dict and Keras's get_weights/set_weights.
import { batchNorm } from '../ops/batch-norm.js';
import { batchNormBackward, type BatchNormBackwardCommon, type BatchNormBackwardResult } from '../ops/batch-norm-backward.js';
import { createRenormState, renormForward, renormGammaGradient, type RenormBounds, type RenormState } from '../ops/batch-renorm.js';
import { DEFAULT_EPS, DEFAULT_MOMENTUM, KERAS_DEFAULT_RENORM_MOMENTUM } from '../runtime/defaults.js';
import { assertGpu, type Gpu } from '../runtime/gpu.js';
import { describeValue, readOptions } from '../runtime/options.js';
import type { EncoderOptions } from '../engine/runner.js';
import { Tensor } from '../runtime/tensor.js';
import {
  assertActivation,
  assertAxis,
  assertBoolean,
  assertEps,
  assertKerasMomentum,
  assertMomentum,
  readKerasLayerSettings,
  readRenormClipping,
  type Activation,
  type RenormClipping,
} from '../runtime/validate.js';
import { recordWrite } from '../runtime/write-log.js';

/**
 * A module's learnable tensor, as its type knows it.
 *
 * A Tensor where the module has one (`Has` true), null where it has none (false), either where that is
 * decided at run time (boolean).
 */
export type ModuleParameter<Has extends boolean> = Has extends true ? Tensor : null;

/**
 * Options of `new BatchNorm` that `new SyncBatchNorm` takes too: nn.BatchNorm2d's arguments and the fused activation.
 *
 * PyTorch's names, camel-cased.
 *
 * `Affine` is the type of `affine`, from which the module's type knows whether it has a weight and a bias.
 */
export interface BatchNormBaseOptions<Affine extends boolean = boolean> {
  /** Added to the variance before the square root, a finite number >= 0; default {@link DEFAULT_EPS}. */
  eps?: number;
  /**
   * Weight of the batch statistics in the running ones, in [0, 1]; default {@link DEFAULT_MOMENTUM}. null
   * means a cumulative moving average (factor 1/numBatchesTracked).
   */
  momentum?: number | null;
  /** Learnable weight (ones) and bias (zeros); default true. */
  affine?: Affine;
  /** Keep running statistics and use them in eval mode; default true. */
  trackRunningStats?: boolean;
  /** Index of the channel dimension of x, negative from the end; default 1 (PyTorch's (N, C, *)). */
  axis?: number;
  /** 'relu' fuses a ReLU after the normalization (y = max(x*scale + shift, 0)), forward and backward; default null. */
  activation?: Activation | null;
}

/**
 * Options of `new BatchNorm`: nn.BatchNorm2d's arguments, the fused activation, and batch renormalization.
 *
 * `Affine` is the type of `affine`, from which the module's type knows whether it has a weight and a bias.
 */
export interface BatchNormModuleOptions<Affine extends boolean = boolean> extends BatchNormBaseOptions<Affine> {
  /**
   * Batch renormalization (Keras 3's `renorm`, Ioffe 2017) in training forwards: the batch statistics are
   * corrected towards moving ones, y = xhat*(r*weight) + (d*weight + bias), see {@link BatchNorm.renorm}.
   * Needs running statistics (trackRunningStats); default false.
   */
  renorm?: boolean;
  /**
   * With `renorm`: bounds on r and d (Keras's renorm_clipping), r clipped to [rmin, rmax] and d to [-dmax,
   * dmax]; a missing key (or null, the default) does not clip.
   */
  renormClipping?: RenormClipping | null;
  /**
   * With `renorm`: the weight of the batch statistics in renormMean and renormStddev, in [0, 1], as
   * `momentum` is (renorm = (1 - renormMomentum)*renorm + renormMomentum*batch: PyTorch's convention, not
   * Keras's); default 0.01 (Keras's renorm_momentum 0.99).
   */
  renormMomentum?: number;
}

/**
 * Options of BatchNorm.keras that SyncBatchNorm.keras takes too: keras.layers.BatchNormalization's, with its defaults.
 *
 * `Scale` and `Center` are the types of `scale` and `center`, from which the module's type knows its
 * weight and bias.
 */
export interface KerasBatchNormBaseOptions<Scale extends boolean = boolean, Center extends boolean = boolean> {
  /** Index of the channel dimension, negative from the end; default -1 (channels last). */
  axis?: number;
  /** Keras's convention: moving = momentum*moving + (1 - momentum)*batch; default 0.99. */
  momentum?: number;
  /** Added to the variance before the square root; default 1e-3. */
  epsilon?: number;
  /** Learnable offset beta (zeros); default true. */
  center?: Center;
  /** Learnable scale gamma (ones); default true. */
  scale?: Scale;
}

/**
 * Options of BatchNorm.keras, as keras.layers.BatchNormalization's arguments (and its defaults), renorm's included.
 *
 * `Scale` and `Center` are the types of `scale` and `center`, from which the module's type knows its
 * weight and bias.
 */
export interface KerasBatchNormOptions<Scale extends boolean = boolean, Center extends boolean = boolean> extends KerasBatchNormBaseOptions<Scale, Center> {
  /** Batch renormalization (Keras's `renorm`) in training forwards, see {@link BatchNorm.renorm}; default false. */
  renorm?: boolean;
  /** With `renorm`: Keras's renorm_clipping, bounds on r and d; a missing key (or null, the default) does not clip. */
  renormClipping?: RenormClipping | null;
  /**
   * With `renorm`: Keras's renorm_momentum, the weight of the old renorm_mean and renorm_stddev
   * (renorm = renormMomentum*renorm + (1 - renormMomentum)*batch), in [0, 1]; default 0.99.
   */
  renormMomentum?: number;
}

/** How a training forward's variance is blended into runningVar: unbiased (PyTorch) or biased (Keras 3). */
export type RunningVarEstimator = 'unbiased' | 'biased';

/** The module's state under PyTorch's state_dict keys; keys the module does not have are absent. */
export interface BatchNormStateDict {
  /** The weight, numFeatures values; absent when the module has none. */
  weight?: Float32Array<ArrayBuffer>;
  /** The bias, numFeatures values; absent when the module has none. */
  bias?: Float32Array<ArrayBuffer>;
  /** The running mean, numFeatures values; absent without running statistics. */
  running_mean?: Float32Array<ArrayBuffer>;
  /** The running variance, numFeatures values; absent without running statistics. */
  running_var?: Float32Array<ArrayBuffer>;
  /** With renorm: the running standard deviation (Keras's moving_stddev), numFeatures values; absent without. */
  running_stddev?: Float32Array<ArrayBuffer>;
  /** With renorm: the mean that r and d correct towards (Keras's renorm_mean), numFeatures values; absent without. */
  renorm_mean?: Float32Array<ArrayBuffer>;
  /** With renorm: the standard deviation that r and d correct towards (Keras's renorm_stddev); absent without. */
  renorm_stddev?: Float32Array<ArrayBuffer>;
  /** {@link BatchNorm.numBatchesTracked}; absent without running statistics. */
  num_batches_tracked?: number;
}

/**
 * How a state dict's JSON writes a value that JSON has no number for.
 *
 * JSON.stringify would write null for each, losing which it was; Python's float() reads these strings back.
 */
export type NonFiniteName = 'NaN' | 'Infinity' | '-Infinity';

/**
 * Per-channel values loadStateDict and setWeights take: arrays of numbers or numeric typed arrays.
 *
 * In a plain array (JSON), NaN and the infinities may be written as their names ({@link NonFiniteName}).
 */
export type StateValues =
  | readonly (number | NonFiniteName)[]
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array;

/** What loadStateDict takes: a state_dict (e.g. PyTorch's, exported as JSON with plain arrays). */
export interface BatchNormStateDictInput {
  /** The weight, numFeatures values; required exactly when the module has one. */
  weight?: StateValues;
  /** The bias, numFeatures values; required exactly when the module has one. */
  bias?: StateValues;
  /** The running mean, numFeatures values; required exactly when the module keeps running statistics. */
  running_mean?: StateValues;
  /** The running variance, numFeatures values; required exactly when the module keeps running statistics. */
  running_var?: StateValues;
  /** The running standard deviation, numFeatures values; required exactly when the module has renorm. */
  running_stddev?: StateValues;
  /** renorm_mean, numFeatures values; required exactly when the module has renorm. */
  renorm_mean?: StateValues;
  /** renorm_stddev, numFeatures values; required exactly when the module has renorm. */
  renorm_stddev?: StateValues;
  /** A non-negative integer; required exactly when the module keeps running statistics. */
  num_batches_tracked?: number;
}

/** Options of one forward call. */
export interface BatchNormForwardOptions extends EncoderOptions {
  /** Overrides the module's mode for this call. */
  training?: boolean;
  /**
   * A tensor z of x's shape and dtype added before the activation, y = act(bn(x) + z), in the pass that
   * writes y (batchNorm's `residual`). The next {@link BatchNorm.backward} then also returns dz. Default none.
   */
  residual?: Tensor | null;
  /**
   * Keras's `mask` (batchNorm's): an f32 tensor of x's shape without the channel axis, 1 where a position
   * counts. Training takes the statistics over the positions it keeps, and the next
   * {@link BatchNorm.backward} differentiates through them; eval ignores it. Keep it alive and unwritten
   * until backward. Default none.
   */
  mask?: Tensor | null;
  /** A tensor of yours to write y into (and return) instead of allocating one. */
  out?: {
    /** x's shape and dtype; must not overlap x. */
    y?: Tensor;
  };
}

/**
 * What {@link BatchNorm.backward} returns.
 *
 * batchNormBackward's gradients: dweight where the module has a weight and dbias where it has a bias
 * (null otherwise), typed as the module's weight and bias are.
 */
export interface BatchNormModuleGradients<HasWeight extends boolean = boolean, HasBias extends boolean = boolean> extends BatchNormBackwardResult {
  /** The gradient of the weight, sum(dy * xhat) per channel, f32 [C]; null where the module has no weight. */
  dweight: ModuleParameter<HasWeight>;
  /** The gradient of the bias, sum(dy) per channel, f32 [C]; null where the module has no bias. */
  dbias: ModuleParameter<HasBias>;
}

/** Options of one backward call: where to write and record (the module knows its axis, weight and activation). */
export type BatchNormModuleBackwardOptions = Pick<BatchNormBackwardCommon, 'out' | 'encoder' | 'timestampWrites'>;

/**
 * What the last forward saved for backward: its input (a reference, as PyTorch's saved tensors; the
 * caller keeps it alive), the statistics it normalized with, and the version of every tensor backward
 * reads, so that backward refuses a tensor written since (PyTorch's version counters). `recorded`: a call
 * that read the saved statistics went into a caller's encoder, which may not have been submitted yet.
 * With a residual: `residual` is true, and with a ReLU `y` is the forward's output (a reference, as x),
 * whose sign is the mask. After a renorm forward, `renorm` is the module's state, whose rows hold the
 * statistics, r and d and the renormalized weight and bias (the module's, not the saved call's).
 */
type Saved = (
  | { readonly x: Tensor; readonly training: true; readonly saveMean: Tensor; readonly saveInvstd: Tensor; readonly renorm: RenormState | null }
  | { readonly x: Tensor; readonly training: false; readonly runningMean: Tensor; readonly runningVar: Tensor }
) & {
  readonly residual: boolean;
  readonly y: Tensor | null;
  /** A training forward's mask, or null. */
  readonly mask: Tensor | null;
  readonly versions: ReadonlyMap<Tensor, { name: string; version: number }>;
  recorded: boolean;
};

/** @internal The keys each options type has (test/unit/options-types.test.ts checks them against the types). */
export const MODULE_OPTION_KEYS = ['eps', 'momentum', 'affine', 'trackRunningStats', 'axis', 'activation', 'renorm', 'renormClipping', 'renormMomentum'] as const;
/** @internal */
export const KERAS_OPTION_KEYS = ['axis', 'momentum', 'epsilon', 'center', 'scale', 'renorm', 'renormClipping', 'renormMomentum'] as const;
/** @internal */
export const FORWARD_OPTION_KEYS = ['training', 'encoder', 'timestampWrites', 'out', 'residual', 'mask'] as const;
/** @internal */
export const FORWARD_OUT_KEYS = ['y'] as const;
/** @internal */
export const BACKWARD_OPTION_KEYS = ['out', 'encoder', 'timestampWrites'] as const;
const NON_FINITE: Readonly<Record<NonFiniteName, number>> = { NaN: Number.NaN, Infinity: Infinity, '-Infinity': -Infinity };

/** A state dict as JSON carries it: plain arrays, with NaN and the infinities named (JSON has no number for them). */
function stateDictJson(dict: BatchNormStateDict): Record<string, number | (number | NonFiniteName)[]> {
  const named = (v: number): number | NonFiniteName => (Number.isFinite(v) ? v : Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity');
  return Object.fromEntries(Object.entries(dict).map(([key, v]) => [key, typeof v === 'number' ? v : Array.from(v as Float32Array, named)]));
}

/** PyTorch's state_dict keys of nn.BatchNorm, in its order, with renorm's three before the counter. */
const STATE_KEYS = ['weight', 'bias', 'running_mean', 'running_var', 'running_stddev', 'renorm_mean', 'renorm_stddev', 'num_batches_tracked'] as const;
const RENORM_STATE_KEYS: readonly string[] = ['running_stddev', 'renorm_mean', 'renorm_stddev'];
type StateKey = (typeof STATE_KEYS)[number];
type TensorStateKey = Exclude<StateKey, 'num_batches_tracked'>;
/** Keras's weight names, in get_weights order, and the module tensor each one is. */
const KERAS_WEIGHTS = [
  ['gamma', 'weight'],
  ['beta', 'bias'],
  ['moving_mean', 'running_mean'],
  ['moving_variance', 'running_var'],
  ['moving_stddev', 'running_stddev'],
  ['renorm_mean', 'renorm_mean'],
  ['renorm_stddev', 'renorm_stddev'],
] as const satisfies readonly (readonly [string, TensorStateKey])[];

/**
 * What BatchNorm.keras sets beyond the public options: scale and offset separately (PyTorch's affine is
 * both or neither) and the running-variance estimator. A symbol key, which readOptions does not see and
 * callers cannot name.
 */
const INTERNAL = Symbol('BatchNorm internal options');
interface InternalOptions {
  readonly weight: boolean;
  readonly bias: boolean;
  readonly runningVarEstimator: RunningVarEstimator;
  readonly what: string;
}

/**
 * 1 - m as the decimal a user reads: 1 - 0.99 is 0.010000000000000009 in float64, and 15 significant digits
 * give back 0.01. The kernels take momentum as f32, where the two are the same number.
 */
function oneMinus(m: number): number {
  return Number((1 - m).toPrecision(15));
}

/**
 * Batch normalization as a module: PyTorch's nn.BatchNorm1d/2d/3d, or Keras's BatchNormalization.
 *
 * One class for 1d, 2d and 3d (the rank of x decides); Keras's layers.BatchNormalization through
 * {@link BatchNorm.keras}. It holds its learnable weight and
 * bias and its running statistics, counts {@link BatchNorm.numBatchesTracked}, and keeps what its last
 * forward saved so that {@link BatchNorm.backward} needs only dy. Its state moves in and out as PyTorch's
 * state_dict ({@link BatchNorm.stateDict}, {@link BatchNorm.loadStateDict}) or Keras's weights
 * ({@link BatchNorm.getWeights}, {@link BatchNorm.setWeights}).
 *
 * Ownership: the module owns `weight`, `bias`, `runningMean`, `runningVar` and the statistics its last
 * forward saved; read them and update them in place, but do not destroy them: {@link BatchNorm.destroy}
 * frees them all when you are done with the module. What forward and backward return (y, dx, dweight,
 * dbias) is yours to destroy. The module refers to the last forward's x (as PyTorch's saved tensors)
 * without owning it: keep x alive until that forward's backward.
 *
 * Its type knows whether it has a weight and a bias, from the options' literal values: `new BatchNorm(gpu,
 * 64)` is a `BatchNorm<true, true>`, whose `weight`, `bias`, `dweight` and `dbias` are Tensors (no `!`
 * needed); `{ affine: false }` gives `BatchNorm<false, false>` (they are null), and BatchNorm.keras's
 * `scale` and `center` decide each. A flag known only at run time gives `BatchNorm<boolean, boolean>`,
 * where they may be null; write that type where any module goes.
 *
 * @example
 * ```ts
 * import { BatchNorm, requestGpu, Tensor } from 'webgpu-batchnorm';
 *
 * const gpu = await requestGpu();
 * const random = () => Float32Array.from({ length: 8 * 64 * 7 * 7 }, () => Math.random() - 0.5);
 * const x = Tensor.fromArray(gpu, random(), [8, 64, 7, 7]);
 * const bn = new BatchNorm(gpu, 64); // nn.BatchNorm2d(64): weight 1, bias 0, running mean 0, running var 1
 * const y = bn.forward(x);           // training mode: batch statistics; the running ones are updated
 * const { dx, dweight, dbias } = bn.backward(Tensor.fromArray(gpu, random(), [8, 64, 7, 7])); // from dy
 * bn.eval();
 * const inferred = bn.forward(x);    // the running statistics
 * ```
 */
export class BatchNorm<HasWeight extends boolean = true, HasBias extends boolean = HasWeight> {
  /** The Gpu the module's tensors live on; forward takes tensors of this Gpu. */
  readonly gpu: Gpu;
  /** C, the number of channels (PyTorch's num_features); per-channel tensors have this many elements. */
  readonly numFeatures: number;
  /** Added to the variance before the square root: {@link DEFAULT_EPS} unless the options said otherwise (1e-3 from BatchNorm.keras). */
  readonly eps: number;
  /**
   * PyTorch's convention: the weight of the batch statistics (running = (1 - momentum)*running +
   * momentum*batch); null is a cumulative average. BatchNorm.keras stores 1 - Keras's momentum here.
   */
  readonly momentum: number | null;
  /** Index of the channel dimension of x, negative from the end (1 for new BatchNorm, -1 for BatchNorm.keras). */
  readonly axis: number;
  /** The variance a training forward blends into runningVar: 'unbiased' (PyTorch) or 'biased' (Keras 3). */
  readonly runningVarEstimator: RunningVarEstimator;
  /** The activation fused after the normalization: 'relu' or null (none). */
  readonly activation: Activation | null;
  /**
   * The learnable scale (PyTorch's weight, Keras's gamma), f32 [numFeatures], initialized to ones; owned by
   * the module. null when the module has none: `affine: false`, or `scale: false` in BatchNorm.keras.
   * Its type is Tensor where the module's type says it has one (see the class).
   */
  readonly weight: ModuleParameter<HasWeight>;
  /**
   * The learnable shift (PyTorch's bias, Keras's beta), f32 [numFeatures], initialized to zeros; owned by
   * the module. null when the module has none: `affine: false`, or `center: false` in BatchNorm.keras.
   */
  readonly bias: ModuleParameter<HasBias>;
  /**
   * The running mean (Keras's moving_mean), f32 [numFeatures], initialized to zeros; owned by the module.
   * A training forward updates it in place; an eval forward normalizes with it. null with
   * `trackRunningStats: false`.
   */
  readonly runningMean: Tensor | null;
  /**
   * The running variance (Keras's moving_variance), f32 [numFeatures], initialized to ones; owned by the
   * module. Updated and used as runningMean is; null with `trackRunningStats: false`.
   */
  readonly runningVar: Tensor | null;
  /**
   * Batch renormalization (Keras 3's `renorm`): a training forward normalizes with the batch mean mu_B and
   * sigma_B = sqrt(biased variance + eps), then corrects towards renormMean and renormStddev (as they were
   * before the step, s = max(renormStddev, sqrt(eps))): r = clip(sigma_B/s, rmin, rmax), d = clip((mu_B -
   * renormMean)/s, -dmax, dmax), y = xhat*(r*weight) + (d*weight + bias). r and d are constants of the
   * gradient. It blends mu_B and sigma_B into renormMean and renormStddev (renormMomentum), and into
   * runningMean and runningStddev (momentum); runningVar = max(runningStddev^2 - eps, 0). Eval forwards
   * are plain batch norm with runningMean and runningVar. Such a training forward records two compute
   * passes (the statistics with r and d, then the apply): its `timestampWrites` time the first.
   */
  readonly renorm: boolean;
  /** With renorm: the bounds on r (rmin, rmax) and d (dmax), null where absent (no clip); null without renorm. */
  readonly renormClipping: {
    /** r = max(r, rmin); null: no lower bound. */
    readonly rmin: number | null;
    /** r = min(r, rmax); null: no upper bound. */
    readonly rmax: number | null;
    /** d = clip(d, -dmax, dmax); null: d is not clipped. */
    readonly dmax: number | null;
  } | null;
  /**
   * With renorm: the weight of the batch statistics in renormMean and renormStddev, as `momentum` is
   * (BatchNorm.keras stores 1 - Keras's renorm_momentum here); null without renorm.
   */
  readonly renormMomentum: number | null;
  /**
   * With renorm: the running standard deviation (Keras's moving_stddev), f32 [numFeatures], initialized to
   * ones (the square root of runningVar's); owned by the module. null without renorm.
   */
  readonly runningStddev: Tensor | null;
  /** With renorm: the mean r and d correct towards (Keras's renorm_mean), f32 [numFeatures], zeros at first; owned by the module. */
  readonly renormMean: Tensor | null;
  /** With renorm: the standard deviation r and d correct towards (Keras's renorm_stddev), f32 [numFeatures], ones at first; owned by the module. */
  readonly renormStddev: Tensor | null;
  /**
   * Training forwards run with running statistics (PyTorch's num_batches_tracked), counted at each such
   * call (a recorded one too). With `momentum: null` a training forward blends its statistics into the
   * running ones with the factor 1/numBatchesTracked. Initially 0; set by loadStateDict.
   */
  numBatchesTracked = 0;
  /** Module mode, as nn.Module.training: initially true; set by {@link BatchNorm.train} and {@link BatchNorm.eval}. */
  training = true;
  #destroyed = false;
  #saved: Saved | null = null;
  #renorm: RenormState | null = null;

  /**
   * A module as nn.BatchNorm2d(numFeatures, eps, momentum, affine, track_running_stats), with PyTorch's
   * defaults. Its tensors are created on `gpu` at once.
   *
   * @param gpu - The Gpu its tensors live on.
   * @param numFeatures - C, the number of channels: a positive integer.
   * @param options - See {@link BatchNormModuleOptions}; every key is optional.
   */
  constructor(gpu: Gpu, numFeatures: number, options: BatchNormModuleOptions<HasWeight> = {}) {
    const internal = (options as { [INTERNAL]?: InternalOptions } | undefined)?.[INTERNAL];
    const what = internal?.what ?? 'new BatchNorm';
    assertGpu(gpu, `${what}(gpu, ...): gpu`);
    gpu.assertAlive();
    if (typeof numFeatures !== 'number' || !Number.isInteger(numFeatures) || numFeatures <= 0) {
      throw new RangeError(`numFeatures must be a positive integer, got ${describeValue(numFeatures)}`);
    }
    const o = readOptions(options, 'BatchNorm options', MODULE_OPTION_KEYS);
    const eps = o.eps ?? DEFAULT_EPS;
    assertEps(eps);
    const momentum = o.momentum === undefined ? DEFAULT_MOMENTUM : o.momentum;
    if (momentum !== null) assertMomentum(momentum);
    const affine = o.affine ?? true;
    assertBoolean(affine, 'BatchNorm options.affine');
    const track = o.trackRunningStats ?? true;
    assertBoolean(track, 'BatchNorm options.trackRunningStats');
    const axis = o.axis ?? 1;
    assertAxis(axis, 'BatchNorm options.axis');
    const activation = o.activation ?? null;
    assertActivation(activation, 'BatchNorm options.activation');
    const renorm = o.renorm ?? false;
    assertBoolean(renorm, 'BatchNorm options.renorm');
    let clipping: RenormBounds | null = null;
    let renormMomentum: number | null = null;
    if (renorm) {
      if (!track) {
        throw new Error(
          'BatchNorm options.renorm needs running statistics (trackRunningStats: true): batch renormalization corrects the batch ' +
            'statistics towards moving ones, which eval forwards then normalize with',
        );
      }
      clipping = readRenormClipping(o.renormClipping, 'BatchNorm options.renormClipping');
      // Not null: unlike momentum's, a cumulative average of renormMean and renormStddev is not Keras's.
      const m = o.renormMomentum === undefined ? oneMinus(KERAS_DEFAULT_RENORM_MOMENTUM) : o.renormMomentum;
      if (typeof m !== 'number' || !(m >= 0 && m <= 1)) {
        throw new RangeError(
          `BatchNorm options.renormMomentum must be in [0, 1] (the weight of the batch statistics in renormMean and renormStddev), got ${describeValue(m)}`,
        );
      }
      renormMomentum = m;
    } else {
      refuseRenormSettings(o, 'BatchNorm options');
    }
    this.gpu = gpu;
    this.numFeatures = numFeatures;
    this.eps = eps;
    this.momentum = momentum;
    this.axis = axis;
    this.activation = activation;
    this.runningVarEstimator = internal?.runningVarEstimator ?? 'unbiased';
    const filled = (value: number, label: string) =>
      Tensor.fromArray(gpu, new Float32Array(numFeatures).fill(value), [numFeatures], { label });
    this.weight = ((internal?.weight ?? affine) ? filled(1, 'BatchNorm weight') : null) as ModuleParameter<HasWeight>;
    this.bias = ((internal?.bias ?? affine) ? filled(0, 'BatchNorm bias') : null) as ModuleParameter<HasBias>;
    this.runningMean = track ? filled(0, 'BatchNorm runningMean') : null;
    this.runningVar = track ? filled(1, 'BatchNorm runningVar') : null;
    this.renorm = renorm;
    this.renormClipping = clipping && Object.freeze(clipping);
    this.renormMomentum = renormMomentum;
    if (renorm) {
      // moving_stddev and renorm_stddev start at the square root of runningVar's ones, renorm_mean at 0.
      this.#renorm = createRenormState(gpu, numFeatures, 1, renormMomentum!, clipping!);
    }
    this.runningStddev = this.#renorm?.rows.runningStddev ?? null;
    this.renormMean = this.#renorm?.rows.renormMean ?? null;
    this.renormStddev = this.#renorm?.rows.renormStddev ?? null;
  }

  /**
   * A module as keras.layers.BatchNormalization(axis, momentum, epsilon, center, scale), with Keras's
   * defaults (axis -1, momentum 0.99, epsilon 1e-3, center and scale true) and its conventions: Keras's
   * momentum is the weight of the old moving statistics (this module's `momentum` is 1 - it), gamma and
   * beta exist independently, and the moving variance blends the biased batch variance, as Keras 3 does
   * (keras/src/layers/normalization/batch_normalization.py takes `variance` from ops.moments, which is
   * biased on every backend). Running statistics are always kept, as Keras's moving_mean/moving_variance.
   * `renorm: true` is Keras's batch renormalization ({@link BatchNorm.renorm}), its weights then in Keras's
   * order gamma, beta, moving_mean, moving_variance, moving_stddev, renorm_mean, renorm_stddev.
   */
  static keras<Scale extends boolean = true, Center extends boolean = true>(
    gpu: Gpu,
    numFeatures: number,
    options: KerasBatchNormOptions<Scale, Center> = {},
  ): BatchNorm<Scale, Center> {
    const o = readOptions(options, 'BatchNorm.keras options', KERAS_OPTION_KEYS);
    const { axis, epsilon, momentum: kerasMomentum, center, scale } = readKerasLayerSettings(o, 'BatchNorm.keras options');
    const renorm = o.renorm ?? false;
    assertBoolean(renorm, 'BatchNorm.keras options.renorm');
    let renormOptions: Pick<BatchNormModuleOptions, 'renorm' | 'renormClipping' | 'renormMomentum'> = {};
    if (renorm) {
      const renormMomentum = o.renormMomentum ?? KERAS_DEFAULT_RENORM_MOMENTUM;
      assertKerasMomentum(renormMomentum, 'BatchNorm.keras options.renormMomentum');
      const { rmin, rmax, dmax } = readRenormClipping(o.renormClipping, 'BatchNorm.keras options.renormClipping');
      const renormClipping = { ...(rmin === null ? {} : { rmin }), ...(rmax === null ? {} : { rmax }), ...(dmax === null ? {} : { dmax }) };
      renormOptions = { renorm, renormClipping, renormMomentum: oneMinus(renormMomentum) };
    } else {
      refuseRenormSettings(o, 'BatchNorm.keras options');
    }
    const internal: InternalOptions = { weight: scale, bias: center, runningVarEstimator: 'biased', what: 'BatchNorm.keras' };
    return new BatchNorm(gpu, numFeatures, {
      eps: epsilon,
      momentum: oneMinus(kerasMomentum),
      axis,
      ...renormOptions,
      [INTERNAL]: internal,
    } as BatchNormModuleOptions) as unknown as BatchNorm<Scale, Center>;
  }

  /** Sets training mode (like nn.Module.train); returns this. */
  train(mode = true): this {
    this.training = mode;
    return this;
  }

  /** Sets inference mode (like nn.Module.eval); returns this. */
  eval(): this {
    return this.train(false);
  }

  /**
   * Normalizes x and returns y. Training (the module's mode unless overridden) uses batch statistics and
   * updates the running ones; eval uses the running statistics, or batch statistics without
   * trackRunningStats. What the forward used is saved for {@link BatchNorm.backward}, replacing the last
   * forward's.
   *
   * Ownership: y is yours, a new tensor each call (destroy() it when done) unless you pass `out.y`. x stays
   * yours; keep it alive until this forward's backward.
   *
   * @param x - The input, x.shape[axis] = numFeatures, of rank 2 to 5; f32 or f16.
   */
  forward(x: Tensor, options: BatchNormForwardOptions = {}): Tensor {
    if (this.#destroyed) throw new Error('this BatchNorm module was destroyed');
    const o = readOptions(options, 'BatchNorm.forward options', FORWARD_OPTION_KEYS);
    const out = readOptions(o.out, 'BatchNorm.forward options.out', FORWARD_OUT_KEYS);
    const training = o.training ?? this.training;
    assertBoolean(training, 'BatchNorm.forward options.training');
    const track = this.runningMean !== null;
    if (training && track) this.numBatchesTracked++;
    try {
      const renorm = training ? this.#renorm : null;
      const residual = (o.residual ?? null) as Tensor | null;
      const mask = (o.mask ?? null) as Tensor | null;
      const encoding = {
        ...(o.encoder === undefined ? {} : { encoder: o.encoder as GPUCommandEncoder }),
        ...(o.timestampWrites === undefined ? {} : { timestampWrites: o.timestampWrites as GPUComputePassTimestampWrites }),
      };
      const { y, saveMean, saveInvstd } = renorm
        ? {
          y: renormForward(this.gpu, x, {
            state: renorm,
            weight: this.weight,
            bias: this.bias,
            runningMean: this.runningMean!,
            runningVar: this.runningVar!,
            momentum: this.momentum ?? 1 / this.numBatchesTracked,
            eps: this.eps,
            axis: this.axis,
            activation: this.activation,
            residual,
            mask,
            y: out.y as Tensor | undefined,
            ...encoding,
          }),
          saveMean: renorm.rows.saveMean,
          saveInvstd: renorm.rows.saveInvstd,
        }
        : batchNorm(this.gpu, x, {
        weight: this.weight,
        bias: this.bias,
        // As PyTorch: running statistics are used (eval) or updated (training) only when tracked.
        runningMean: this.runningMean,
        runningVar: this.runningVar,
        training: training || !track,
        momentum: this.momentum,
        numBatchesTracked: Math.max(this.numBatchesTracked, 1),
        eps: this.eps,
        axis: this.axis,
        activation: this.activation,
        runningVarEstimator: this.runningVarEstimator,
        residual,
        mask,
        ...(out.y === undefined ? {} : { out: { y: out.y as Tensor } }),
        ...encoding,
      });
      this.#releaseSaved(false);
      const recorded = o.encoder !== undefined;
      const versions = (named: Record<string, Tensor | null>) =>
        new Map(Object.entries(named).flatMap(([name, t]) => (t ? [[t, { name, version: t.version }] as const] : [])));
      // With a ReLU, backward recomputes the mask from x, the statistics, the weight and the bias; with a
      // residual too, it reads the mask from y. After renorm, the weight and bias are the renormalized
      // ones, and r and d make dgamma.
      const relu = this.activation === 'relu';
      const storedY = residual && relu ? y : null;
      const [weight, bias] = renorm ? [renorm.rows.weight, renorm.rows.bias] : [this.weight, this.bias];
      // A training forward's mask made its statistics: backward needs it as it was.
      const savedMask = saveMean ? mask : null;
      const parameters = {
        weight,
        ...(relu && !residual ? { bias } : {}),
        ...(storedY ? { y: storedY } : {}),
        ...(renorm ? { r: renorm.rows.r, d: renorm.rows.d } : {}),
        ...(savedMask ? { mask: savedMask } : {}),
      };
      const common = { x, residual: residual !== null, y: storedY, mask: savedMask, recorded };
      if (saveMean && saveInvstd) {
        this.#saved = { ...common, training: true, saveMean, saveInvstd, renorm, versions: versions({ x, ...parameters, saveMean, saveInvstd }) };
      } else if (this.runningMean && this.runningVar) {
        const { runningMean, runningVar } = this;
        this.#saved = { ...common, training: false, runningMean, runningVar, versions: versions({ x, ...parameters, runningMean, runningVar }) };
      }
      return y;
    } catch (error) {
      if (training && track) this.numBatchesTracked--; // a rejected batch was not tracked
      throw error;
    }
  }

  /**
   * Gradients of the last forward's output: dx, and dweight/dbias when the module is affine. A training
   * forward is differentiated through its batch statistics, an eval forward through the running ones
   * (as autograd of F.batch_norm). The input of that forward must still be alive, and neither it nor the
   * weight nor the statistics used may have been written since (an `out` of another call, an optimizer
   * step into the weight, a running-statistics update): backward refuses them, as PyTorch does. With
   * activation 'relu', dy is masked where the forward clipped y; the mask is recomputed from x, the
   * statistics, the weight and the bias, so the bias may not have been written since either.
   *
   * After a forward with a `residual`, the result also has dz, the residual's gradient (dy masked by the
   * activation; without one, dy itself unless `out.dz` is given), and with a ReLU the mask is that
   * forward's y: keep y alive, unwritten, until backward.
   *
   * Ownership: dx, dweight, dbias and dz are yours, new tensors each call (destroy() them when done) unless
   * you pass them in `out`; a dz that is dy is your dy.
   *
   * @param dy - The gradient of the loss with respect to the last forward's y: its shape and dtype.
   */
  backward(dy: Tensor, options: BatchNormModuleBackwardOptions = {}): BatchNormModuleGradients<HasWeight, HasBias> {
    if (this.#destroyed) throw new Error('this BatchNorm module was destroyed');
    const saved = this.#saved;
    if (!saved) throw new Error('BatchNorm.backward needs a forward first: this module has not run forward yet');
    if (saved.x.isDestroyed) {
      throw new Error(
        `BatchNorm.backward needs the input of the last forward ('${saved.x.label}', shape [${saved.x.shape.join(',')}]), ` +
          'which was destroyed; keep x alive until backward',
      );
    }
    if (saved.y?.isDestroyed) {
      throw new Error(
        `BatchNorm.backward needs the output of the last forward ('${saved.y.label}', shape [${saved.y.shape.join(',')}]), whose sign is ` +
          "the ReLU's mask after a residual, and which was destroyed; keep y alive until backward",
      );
    }
    for (const [t, { name, version }] of saved.versions) {
      if (t.version !== version) {
        throw new Error(
          `BatchNorm.backward: ${name} ('${t.label}', shape [${t.shape.join(',')}]) was written after the forward (now at version ` +
            `${t.version}, saved at version ${version}); one of the tensors needed for gradient computation was modified in place. ` +
            'Run the forward again, or write the new values into other tensors',
        );
      }
    }
    const o = readOptions(options, 'BatchNorm.backward options', BACKWARD_OPTION_KEYS) as BatchNormModuleBackwardOptions;
    assertOwnGradientOutputs(this, o.out, 'BatchNorm.backward');
    if (o.encoder !== undefined) saved.recorded = true;
    const relu = this.activation === 'relu';
    // After renorm: batch norm's backward with the renormalized weight r*gamma (and bias, for the mask).
    const renorm = saved.training ? saved.renorm : null;
    const bias = renorm ? renorm.rows.bias : this.bias;
    const common = {
      ...o,
      axis: this.axis,
      weight: renorm ? renorm.rows.weight : differentiatingWeight(this),
      // The ReLU mask is recomputed from x and the statistics, which needs the forward's shift: its bias;
      // after a residual it is the stored y's sign.
      ...(relu ? { activation: this.activation } : {}),
      ...(relu && !saved.residual && bias ? { bias } : {}),
      ...(saved.residual ? { residual: true, ...(saved.y ? { y: saved.y } : {}) } : {}),
      ...(saved.mask ? { mask: saved.mask } : {}),
    };
    const grads = saved.training
      ? batchNormBackward(this.gpu, dy, saved.x, { ...common, saveMean: saved.saveMean, saveInvstd: saved.saveInvstd, eps: this.eps, training: true })
      : batchNormBackward(this.gpu, dy, saved.x, {
          ...common, runningMean: saved.runningMean, runningVar: saved.runningVar, eps: this.eps, training: false,
        });
    // Its dweight is sum(dy*xhat); gamma's gradient is r*that + d*sum(dy).
    if (renorm && this.weight) renormGammaGradient(this.gpu, renorm, grads.dweight!, grads.dbias!, o.encoder);
    return ownGradients(this, grads, o.encoder !== undefined);
  }

  /**
   * The module's state as PyTorch's `state_dict()`: weight and bias (when the module has them), running_mean,
   * running_var and num_batches_tracked (when it tracks running statistics), read back from the GPU. Keys the
   * module does not have are left out, as PyTorch leaves them out. Rejects with the GPU error of the last
   * write of a tensor, as toArray() does.
   *
   * `JSON.stringify` writes it as loadStateDict (and Python's `{k: torch.tensor(v)}`) reads it: each
   * Float32Array as a plain array of numbers, NaN and the infinities as the strings 'NaN', 'Infinity' and
   * '-Infinity' (the dict's own toJSON, not enumerable; a typed array on its own would be written as an
   * object with keys "0", "1", ...).
   */
  async stateDict(): Promise<BatchNormStateDict> {
    this.#assertUsable('stateDict');
    const numBatchesTracked = this.numBatchesTracked; // as of the call, as the tensors' reads are
    const entries = await Promise.all(
      this.#stateTensors().map(async ([key, tensor]) => [key, await tensor.toArray()] as const),
    );
    const dict: BatchNormStateDict = Object.fromEntries(entries);
    if (this.runningMean) dict.num_batches_tracked = numBatchesTracked;
    Object.defineProperty(dict, 'toJSON', { value: () => stateDictJson(dict) });
    return dict;
  }

  /**
   * Loads a state as PyTorch's `load_state_dict(state_dict)` (strict): exactly the keys stateDict() gives
   * (an unknown or a missing key is an error that names it), each per-channel value an array or typed
   * array of numbers (NaN and infinities included) of numFeatures elements, num_batches_tracked a
   * non-negative integer. Everything is checked before anything is written. The values are written into
   * the module's tensors with queue.writeBuffer, which counts as a write of each (tensor.version), so a
   * backward of an earlier forward that read them is refused; a GPU error of an upload rejects the tensor's
   * toArray() and ready(). Like every queue.writeBuffer, the upload lands before any command buffer
   * submitted after this call, including one recorded (with `encoder`) before it.
   */
  loadStateDict(stateDict: BatchNormStateDictInput): void {
    this.#assertUsable('loadStateDict');
    const what = 'BatchNorm.loadStateDict';
    if (stateDict === null || typeof stateDict !== 'object' || Array.isArray(stateDict) || ArrayBuffer.isView(stateDict)) {
      throw new TypeError(`${what} takes an object with keys ${this.#stateKeys().map((k) => `'${k}'`).join(', ')}, got ${describeValue(stateDict)}`);
    }
    const expected = this.#stateKeys();
    const given = Object.keys(stateDict);
    const unexpected = given.filter((k) => !(expected as readonly string[]).includes(k));
    const missing = expected.filter((k) => !Object.hasOwn(stateDict, k));
    if (unexpected.length > 0 || missing.length > 0) {
      const quote = (keys: readonly string[]) => keys.map((k) => `'${k}'`).join(', ');
      const problems = [
        ...(unexpected.length > 0 ? [`unexpected key(s) ${unexpected.map((k) => `'${k}'${this.#whyAbsent(k)}`).join(', ')}`] : []),
        ...(missing.length > 0 ? [`missing key(s) ${quote(missing)}`] : []),
      ];
      throw new Error(`${what}: ${problems.join('; ')}. This module's keys are ${quote(expected)}`);
    }
    const values = stateDict as Record<string, unknown>;
    const writes = this.#stateTensors().map(([key, tensor]) => [tensor, this.#perChannel(values[key], `${what}: state_dict['${key}']`)] as const);
    let tracked: number | null = null;
    if (this.runningMean) {
      const n = values.num_batches_tracked;
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
        throw new TypeError(`${what}: state_dict['num_batches_tracked'] must be a non-negative integer, got ${describeValue(n)}`);
      }
      tracked = n;
    }
    this.#upload(writes, what);
    if (tracked !== null) this.numBatchesTracked = tracked;
  }

  /**
   * The module's weights in Keras's `get_weights()` order, [gamma, beta, moving_mean, moving_variance],
   * leaving out gamma without a scale (weight) and beta without a center (bias), as Keras does (and the
   * moving statistics when the module keeps no running statistics).
   */
  async getWeights(): Promise<Float32Array<ArrayBuffer>[]> {
    this.#assertUsable('getWeights');
    return Promise.all(this.#kerasTensors().map(([, tensor]) => tensor.toArray()));
  }

  /**
   * Sets the weights from a list in Keras's `set_weights()` order (as getWeights gives it): each an array or
   * typed array of numFeatures numbers. Counts as a write of each tensor, as loadStateDict does;
   * numBatchesTracked is left as it is (Keras has no counter).
   */
  setWeights(weights: readonly StateValues[]): void {
    this.#assertUsable('setWeights');
    const what = 'BatchNorm.setWeights';
    const targets = this.#kerasTensors();
    const names = `[${targets.map(([name]) => name).join(', ')}]`;
    if (!Array.isArray(weights)) throw new TypeError(`${what} takes an array of ${targets.length} arrays ${names}, got ${describeValue(weights)}`);
    if (weights.length !== targets.length) {
      throw new RangeError(`${what} got a list of ${weights.length} weights, but this layer has ${targets.length}: ${names}`);
    }
    const writes = targets.map(([name, tensor], i) => [tensor, this.#perChannel(weights[i], `${what}: weights[${i}] (${name})`)] as const);
    this.#upload(writes, what);
  }

  /**
   * Frees the module's tensors (weight, bias, running statistics) and what its last forward saved; not
   * that forward's input, nor the outputs it returned, which are yours. Call it when done with the
   * module; later calls on it throw. Calls recorded into an encoder not yet submitted use its tensors:
   * submit it first, or its submit fails. Idempotent.
   */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#releaseSaved(true);
    for (const t of [this.weight, this.bias, this.runningMean, this.runningVar, unitWeights.get(this)]) t?.destroy();
    if (this.#renorm) for (const t of [...Object.values(this.#renorm.rows), this.#renorm.all, this.#renorm.settings]) t.destroy();
  }

  #assertUsable(method: string): void {
    if (this.#destroyed) throw new Error(`BatchNorm.${method}: this BatchNorm module was destroyed`);
    this.gpu.assertAlive();
  }

  /** The module's tensors under their state_dict keys, in PyTorch's order. */
  #stateTensors(): [TensorStateKey, Tensor][] {
    const all: [TensorStateKey, Tensor | null][] = [
      ['weight', this.weight],
      ['bias', this.bias],
      ['running_mean', this.runningMean],
      ['running_var', this.runningVar],
      ['running_stddev', this.runningStddev],
      ['renorm_mean', this.renormMean],
      ['renorm_stddev', this.renormStddev],
    ];
    return all.filter((entry): entry is [TensorStateKey, Tensor] => entry[1] !== null);
  }

  #stateKeys(): StateKey[] {
    return [...this.#stateTensors().map(([key]) => key), ...(this.runningMean ? (['num_batches_tracked'] as const) : [])];
  }

  /** The module's tensors under their Keras names, in get_weights order. */
  #kerasTensors(): [string, Tensor][] {
    const byKey = new Map(this.#stateTensors());
    return KERAS_WEIGHTS.flatMap(([name, key]) => {
      const tensor = byKey.get(key);
      return tensor ? [[name, tensor] as [string, Tensor]] : [];
    });
  }

  /** Why a known state_dict key is not this module's, for the message of an unexpected key. */
  #whyAbsent(key: string): string {
    if (key === 'weight' || key === 'bias') return ` (this module has no ${key})`;
    if (RENORM_STATE_KEYS.includes(key) && this.runningMean) return ' (this module has no batch renormalization: renorm: false)';
    if ((STATE_KEYS as readonly string[]).includes(key)) return ' (this module keeps no running statistics)';
    return '';
  }

  /** Checks one per-channel value (a plain array or a typed array of numbers, numFeatures long) and converts it. */
  #perChannel(value: unknown, name: string): Float32Array {
    const typedArray = ArrayBuffer.isView(value) && !(value instanceof DataView) && !(value instanceof BigInt64Array) && !(value instanceof BigUint64Array);
    if (!Array.isArray(value) && !typedArray) {
      const indexKeyed = value !== null && typeof value === 'object' && Object.hasOwn(value, '0');
      const hint = indexKeyed ? ' (JSON.stringify writes a typed array so: write Array.from(values) instead)' : '';
      throw new TypeError(`${name} must be an array or a typed array of numbers, got ${describeValue(value)}${hint}`);
    }
    const values = value as ArrayLike<unknown>;
    if (values.length !== this.numFeatures) {
      throw new RangeError(`${name} has ${values.length} elements but the module has numFeatures = ${this.numFeatures}`);
    }
    return Float32Array.from(values, (v, i) => {
      if (typeof v === 'number') return v;
      if (typeof v === 'string' && Object.hasOwn(NON_FINITE, v)) return NON_FINITE[v as NonFiniteName];
      const lost = v === null ? ' (JSON.stringify writes NaN and the infinities as null: write them as the strings ' +
        "'NaN', 'Infinity' and '-Infinity', as stateDict()'s JSON does)" : '';
      throw new TypeError(`${name}[${i}] must be a number, got ${describeValue(v)}${lost}`);
    });
  }

  /**
   * Writes checked values into the module's tensors in place (their buffers, at their byte offsets), each
   * inside error scopes; each counts as a write with that upload's verdict.
   */
  #upload(writes: readonly (readonly [Tensor, Float32Array])[], what: string): void {
    for (const [tensor] of writes) {
      if (tensor.isDestroyed) throw new Error(`${what}: the module's tensor '${tensor.label}' was destroyed`);
    }
    for (const [tensor, data] of writes) {
      const { error } = this.gpu.scoped(`${what} writing '${tensor.label}'`, () =>
        this.gpu.device.queue.writeBuffer(tensor.buffer, tensor.byteOffset, data.buffer, data.byteOffset, data.byteLength),
      );
      recordWrite(tensor, error);
    }
  }

  /**
   * Drops what the last forward saved. Statistics that a recorded call reads may be used whenever the
   * caller submits, so unless the module is destroyed they go to the garbage collector (as scratch that
   * grows does) instead of being destroyed under the caller's encoder.
   */
  #releaseSaved(destroying: boolean): void {
    const saved = this.#saved;
    this.#saved = null;
    // A renorm forward's statistics are rows of the module's renorm state, freed with the module.
    if (!saved?.training || saved.renorm) return;
    for (const t of [saved.saveMean, saved.saveInvstd]) {
      if (saved.recorded && !destroying) t.release();
      else t.destroy();
    }
  }
}

/** Without renorm, its settings are refused: they would be silently ignored. */
function refuseRenormSettings(o: { renormClipping?: unknown; renormMomentum?: unknown }, what: string): void {
  for (const key of ['renormClipping', 'renormMomentum'] as const) {
    if (o[key] !== undefined) throw new Error(`${what}.${key} is read only with renorm: true`);
  }
}

// A module with a bias but no weight (BatchNorm.keras's scale: false) still needs dbias, sum(dy), which
// the backward kernels give only with a weight: it differentiates with a weight of ones, whose dx is the
// weightless one exactly, made at its first backward and freed with the module.
const unitWeights = new WeakMap<BatchNorm<boolean, boolean>, Tensor>();

/** @internal The weight a module's backward runs with: its own, ones where it has only a bias, or none. */
export function differentiatingWeight(module: BatchNorm<boolean, boolean>): Tensor | null {
  if (module.weight || !module.bias) return module.weight;
  let ones = unitWeights.get(module);
  if (!ones) {
    const C = module.numFeatures;
    unitWeights.set(module, (ones = Tensor.fromArray(module.gpu, new Float32Array(C).fill(1), [C], { label: 'BatchNorm unit weight' })));
  }
  return ones;
}

/** @internal Refuses an out.dweight or out.dbias for a tensor the module does not have. */
export function assertOwnGradientOutputs(module: BatchNorm<boolean, boolean>, out: { dweight?: Tensor; dbias?: Tensor } | undefined, what: string): void {
  for (const [name, has] of [['dweight', module.weight], ['dbias', module.bias]] as const) {
    if (!has && out?.[name]) throw new Error(`${what}: out.${name} was given, but this module has no ${name.slice(1)}, so it has no ${name}`);
  }
}

/**
 * @internal The gradients of the module's own tensors: a dweight or dbias the kernels computed for a
 * tensor the module does not have is freed (released to the garbage collector where the backward was
 * `recorded` into a caller's encoder, which still writes it), and null.
 */
export function ownGradients<HasWeight extends boolean, HasBias extends boolean>(
  module: BatchNorm<HasWeight, HasBias>,
  grads: BatchNormBackwardResult,
  recorded = false,
): BatchNormModuleGradients<HasWeight, HasBias> {
  for (const [t, has] of [[grads.dweight, module.weight], [grads.dbias, module.bias]] as const) {
    if (t && !has) recorded ? t.release() : t.destroy();
  }
  return {
    ...grads,
    dweight: (module.weight ? grads.dweight : null) as ModuleParameter<HasWeight>,
    dbias: (module.bias ? grads.dbias : null) as ModuleParameter<HasBias>,
  };
}
