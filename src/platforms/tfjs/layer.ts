// The TensorFlow.js layer: tfjs-layers' own BatchNormalization class (its constructor, config, weights,
// build, regularizers, constraints and getConfig) with `call` replaced, and Keras 3's two features that tfjs
// lacks added: the mask tfjs passes to `call` (training statistics over the positions it keeps) and batch
// renormalization (its config keys, its three weights, its training step). On tfjs's webgpu backend, call
// runs this library's kernels through tfjs's engine (./kernels.ts); elsewhere, and for inputs they do not
// take, it runs tfjs's own call, or Keras's step in tfjs ops (./keras-ops.ts) where a mask or renorm needs
// it, and says so once.
import { backend, getBackend, notEqual, ones, serialization, sqrt, Tensor, tensor1d, tidy, where, zeros } from '@tensorflow/tfjs-core';
import { initializers, type layers, type LayerVariable, type Shape } from '@tensorflow/tfjs-layers';
import { renormSettingsValues, type RenormBounds } from '../../ops/batch-renorm.js';
import { KERAS_DEFAULT_RENORM_MOMENTUM } from '../../runtime/defaults.js';
import { withoutChannelAxis } from '../../runtime/shape.js';
import { assertKerasMomentum, readRenormClipping, type RenormClipping } from '../../runtime/validate.js';
import { kerasTrainingByOps } from './keras-ops.js';
import {
  INFERENCE_FORWARD, MASKED_RENORM_TRAINING_FORWARD, MASKED_TRAINING_FORWARD, RENORM_TRAINING_FORWARD, TRAINING_FORWARD, registerKernelsFor, runKernel,
} from './kernels.js';
import { asWebGpuBackend, storedDtype, type WebGpuBackend } from './webgpu-backend.js';

/** tfjs-layers' BatchNormalization: the layer `tf.layers.batchNormalization` makes. */
export type TfjsBatchNormalization = ReturnType<typeof layers.batchNormalization>;
/**
 * The config of tf.layers.batchNormalization, and of this layer, with Keras 3's renorm keys.
 *
 * axis (-1), momentum (0.99), epsilon (1e-3), center, scale, initializers, regularizers, constraints and the
 * Layer's own, and renorm, renormClipping and renormMomentum (saved as Keras's renorm, renorm_clipping and
 * renorm_momentum).
 */
export type BatchNormalizationLayerArgs = NonNullable<Parameters<typeof layers.batchNormalization>[0]> & {
  /**
   * Batch renormalization (Keras 3's `renorm`): training corrects the batch statistics towards moving ones
   * by r and d (y = xhat*(r*gamma) + (d*gamma + beta)), and the layer has three more non-trainable weights,
   * moving_stddev, renorm_mean and renorm_stddev. Inference is unchanged. Default false.
   */
  renorm?: boolean;
  /** With renorm: Keras's renorm_clipping, bounds on r (rmin, rmax) and d (dmax); a missing key (or null, the default) does not clip. */
  renormClipping?: RenormClipping | null;
  /** With renorm: Keras's renorm_momentum, the weight of the old renorm_mean and renorm_stddev; default 0.99. */
  renormMomentum?: number;
};
type Kwargs = Parameters<TfjsBatchNormalization['call']>[1];

/** The members of tfjs's class that its declarations keep private. */
interface TfjsBatchNormalizationState {
  readonly axis: number;
  readonly momentum: number;
  readonly epsilon: number;
  readonly gamma?: LayerVariable;
  readonly beta?: LayerVariable;
  readonly movingMean: LayerVariable;
  readonly movingVariance: LayerVariable;
}

/** tfjs's class, found where tfjs-layers registered it for deserialization (it is not exported by name). */
function tfjsBatchNormalizationClass(): new (args?: BatchNormalizationLayerArgs) => TfjsBatchNormalization {
  const entry = serialization.SerializationMap.getMap().classNameMap['BatchNormalization'];
  if (!entry) throw new Error('@tensorflow/tfjs-layers did not register its BatchNormalization class');
  return entry[0] as unknown as new (args?: BatchNormalizationLayerArgs) => TfjsBatchNormalization;
}
/** tfjs's class, the value beside the type of its instances (named so, the reference says what the layer overrides). */
const TfjsBatchNormalization = tfjsBatchNormalizationClass();

const warned = new Set<string>();

/** Warns once per message. */
function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  console.warn(`webgpu-batchnorm/tfjs: ${message}.`);
}

/**
 * The mask tfjs passed (`kwargs.mask`: an earlier layer's, or apply's), or null where there is none or it
 * is not of x's shape without the channel axis. Such a mask is ignored with a warning, as tfjs's own layer
 * ignores every mask, rather than refused: tfjs's executor passes the last mask it met to every later layer,
 * those whose inputs have none too (after an RNN without returnSequences, a pooling), so a mask of
 * another shape is most likely not this input's.
 */
function maskOf(value: unknown, input: Tensor, axis: number): Tensor | null {
  const mask: unknown = Array.isArray(value) ? value[0] : value;
  if (!(mask instanceof Tensor)) return null;
  const expected = withoutChannelAxis(input.shape, axis);
  if (mask.rank === expected.length && (mask.shape as number[]).every((d, i) => d === expected[i])) return mask;
  warnOnce(
    `a mask of shape [${mask.shape.join(',')}] for an input of shape [${input.shape.join(',')}], whose masks have its shape without the ` +
      `channel axis ${axis}, [${expected.join(',')}]; BatchNormalization ignores it, as TensorFlow.js's own does (tfjs passes an ` +
      "earlier layer's mask on to later ones)",
  );
  return null;
}

/** Why this library's kernels cannot run the call, or null when they can. */
function unsupported(webgpu: WebGpuBackend, input: Tensor, axis: number, training: boolean): string | null {
  if (input.dtype !== 'float32') return `an input of dtype ${input.dtype} (the kernels take float32)`;
  // tfjs's cast to float32 keeps an int32 or bool tensor's storage, which its shaders convert as they read.
  const stored = storedDtype(webgpu, input);
  if (stored !== 'float32') return `an input cast to float32 from ${stored}, which the webgpu backend stores as ${stored}`;
  if (input.rank < 2 || input.rank > 5) return `an input of rank ${input.rank} (the kernels take rank 2 to 5)`;
  if (input.size === 0) return 'an empty input';
  // Keras normalizes a single value per channel to beta; the library refuses it, as PyTorch does.
  if (training && input.size / input.shape[axis]! === 1) return 'a training input with one value per channel';
  return null;
}

/**
 * tf.layers.batchNormalization's layer, computed by webgpu-batchnorm's kernels on TensorFlow.js's webgpu backend.
 *
 * The same config, weights (gamma, beta, moving_mean, moving_variance), training switch (the `training`
 * kwarg, `fit`, `predict`) and moving statistics (moving = momentum*moving + (1 - momentum)*batch, the
 * biased batch variance) as tfjs's, serialized under its own registered class name. This page lists the
 * members it declares; the ones it inherits (`apply`, `getWeights`, `setWeights`, `getConfig`, `dispose`,
 * ...) are tfjs's Layer's, in [tfjs's reference](https://js.tensorflow.org/api/latest/#class:layers.Layer).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import '@tensorflow/tfjs-backend-webgpu';
 * import { BatchNormalization } from 'webgpu-batchnorm/tfjs';
 *
 * await tf.setBackend('webgpu');
 * const bn = new BatchNormalization({ axis: -1, momentum: 0.9 }); // channels last, as tf.layers.batchNormalization
 * const x = tf.randomNormal([8, 4, 4, 16]);
 * const y = bn.apply(x, { training: true }) as tf.Tensor; // batch statistics; the moving ones updated
 * const [gamma, beta, movingMean, movingVariance] = bn.getWeights();
 * ```
 */
export class BatchNormalization extends TfjsBatchNormalization {
  /** Batch renormalization in training (Keras 3's `renorm`), from the config; default false. */
  readonly renorm: boolean;
  /** Keras's renorm_clipping as configured: null when not given without renorm, `{}` when not given with it (no clip). */
  readonly renormClipping: RenormClipping | null;
  /** Keras's renorm_momentum: the weight of the old renorm_mean and renorm_stddev; default 0.99. */
  readonly renormMomentum: number;
  /** With renorm, once built: the running standard deviation (Keras's moving_stddev), which moving_variance follows. */
  movingStddev: LayerVariable | null = null;
  /** With renorm, once built: the mean r and d correct towards (Keras's renorm_mean). */
  renormMean: LayerVariable | null = null;
  /** With renorm, once built: the standard deviation r and d correct towards (Keras's renorm_stddev). */
  renormStddev: LayerVariable | null = null;
  readonly #bounds: RenormBounds | null;

  /**
   * As `tf.layers.batchNormalization(config)`: the same config and defaults (axis -1, momentum 0.99, epsilon
   * 1e-3), and Keras 3's renorm keys.
   *
   * @throws RangeError or TypeError for a renormClipping that Keras refuses (another key, rmax below rmin,
   * a negative dmax) or a renormMomentum outside [0, 1], with renorm.
   */
  constructor(config?: BatchNormalizationLayerArgs) {
    super(config);
    const renorm = config?.renorm ?? false;
    if (typeof renorm !== 'boolean') throw new TypeError(`BatchNormalization renorm must be a boolean, got ${String(renorm)}`);
    this.renorm = renorm;
    this.renormMomentum = config?.renormMomentum ?? KERAS_DEFAULT_RENORM_MOMENTUM;
    // Keras's defaults, which its get_config saves: no clipping is {} with renorm, null without.
    this.renormClipping = config?.renormClipping ?? (renorm ? {} : null);
    this.#bounds = renorm ? readRenormClipping(this.renormClipping, 'BatchNormalization renormClipping') : null;
    if (renorm) assertKerasMomentum(this.renormMomentum, 'BatchNormalization renormMomentum');
  }

  /** The class name in a saved model's topology (registered below, so tf.loadLayersModel finds it). */
  static className = 'WebGPUBatchNormalization';

  /**
   * tfjs's build (gamma, beta, moving_mean, moving_variance), then with renorm Keras 3's three more
   * non-trainable weights, in its order: moving_stddev and renorm_stddev start at the square roots of
   * moving_variance's initial values, renorm_mean at moving_mean's.
   */
  override build(inputShape: Shape | Shape[]): void {
    super.build(inputShape);
    if (!this.renorm) return;
    const state = this as unknown as TfjsBatchNormalizationState;
    const add = (name: string) => this.addWeight(name, state.movingMean.shape, 'float32', initializers.zeros(), undefined, false);
    const [movingStddev, renormMean, renormStddev] = [add('moving_stddev'), add('renorm_mean'), add('renorm_stddev')];
    tidy(() => {
      const stddev = sqrt(state.movingVariance.read());
      movingStddev.write(stddev);
      renormStddev.write(stddev);
      renormMean.write(state.movingMean.read());
    });
    this.movingStddev = movingStddev;
    this.renormMean = renormMean;
    this.renormStddev = renormStddev;
  }

  /** tfjs's config with Keras 3's renorm keys (renorm, renormClipping, renormMomentum; snake_case in a saved model). */
  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), renorm: this.renorm, renormClipping: this.renormClipping ? { ...this.renormClipping } : null, renormMomentum: this.renormMomentum };
  }

  /**
   * Runs the layer: batch statistics with `kwargs.training` (as `fit` passes it), over the positions
   * `kwargs.mask` keeps (as a masking or embedding layer before it passes it: x's shape without the
   * channel axis, 1 or true where a position counts), renormalized with renorm; the moving ones
   * otherwise, where the mask is ignored. On a webgpu backend this library's kernels compute it on tfjs's
   * buffers; elsewhere, or for an input they do not take, tfjs's own batch norm does, or tfjs ops where a
   * mask or renorm needs them (with one warning per reason).
   */
  override call(inputs: Tensor | Tensor[], kwargs: Kwargs): Tensor | Tensor[] {
    const input = Array.isArray(inputs) && inputs.length === 1 ? inputs[0]! : inputs;
    if (Array.isArray(input)) return super.call(inputs, kwargs); // tfjs names the error
    const state = this as unknown as TfjsBatchNormalizationState;
    const training = kwargs['training'] == null ? false : Boolean(kwargs['training']);
    const axis = state.axis >= 0 ? state.axis : state.axis + input.rank;
    const mask = training ? maskOf(kwargs['mask'], input, axis) : null;
    const renorm = training && this.renorm;
    const name = getBackend();
    const webgpu = asWebGpuBackend(backend(), name);
    const reason = typeof webgpu === 'string' ? webgpu : unsupported(webgpu, input, axis, training);
    if (reason !== null && !mask && !renorm) {
      warnOnce(`${reason}; BatchNormalization runs TensorFlow.js's own batch norm`);
      return super.call(inputs, kwargs);
    }
    if (reason !== null) {
      warnOnce(`${reason}; BatchNormalization runs Keras's ${renorm ? 'renorm' : 'masked'} training step in TensorFlow.js ops`);
      return tidy(() =>
        kerasTrainingByOps(input, mask, {
          axis,
          epsilon: state.epsilon,
          momentum: state.momentum,
          movingMean: state.movingMean,
          movingVariance: state.movingVariance,
          gamma: state.gamma?.read() ?? null,
          beta: state.beta?.read() ?? null,
          renorm: renorm ? { movingStddev: this.movingStddev!, renormMean: this.renormMean!, renormStddev: this.renormStddev!, momentum: this.renormMomentum, bounds: this.#bounds! } : null,
        }),
      );
    }
    registerKernelsFor(name);
    return tidy(() => {
      const channels = input.shape[axis]!;
      const kernelInputs = {
        x: input,
        gamma: state.gamma ? state.gamma.read() : ones([channels]),
        beta: state.beta ? state.beta.read() : zeros([channels]),
        movingMean: state.movingMean.read(),
        movingVariance: state.movingVariance.read(),
        // tfjs's masks are bool, which the webgpu backend stores as int32, and its cast to float32 keeps that
        // storage (its shaders convert as they read): where() writes the float32 ones and zeros the kernels read.
        ...(mask ? { mask: where(notEqual(mask, 0), 1, 0) } : {}),
      };
      const attrs = { axis, epsilon: state.epsilon, momentum: state.momentum };
      if (!training) return runKernel(INFERENCE_FORWARD, kernelInputs, attrs) as Tensor;
      if (!renorm) {
        const [y, , , movingMean, movingVariance] = runKernel(mask ? MASKED_TRAINING_FORWARD : TRAINING_FORWARD, kernelInputs, attrs) as Tensor[];
        state.movingMean.write(movingMean!);
        state.movingVariance.write(movingVariance!);
        return y!;
      }
      const weights = [state.movingMean, state.movingVariance, this.movingStddev!, this.renormMean!, this.renormStddev!];
      const renormInputs = {
        ...kernelInputs,
        movingStddev: this.movingStddev!.read(),
        renormMean: this.renormMean!.read(),
        renormStddev: this.renormStddev!.read(),
        settings: tensor1d(renormSettingsValues(1 - this.renormMomentum, this.#bounds!)),
      };
      const [y, , ...moving] = runKernel(mask ? MASKED_RENORM_TRAINING_FORWARD : RENORM_TRAINING_FORWARD, renormInputs, attrs) as Tensor[];
      weights.forEach((weight, i) => weight.write(moving[i]!));
      return y!;
    });
  }
}

serialization.registerClass(BatchNormalization as unknown as serialization.SerializableConstructor<serialization.Serializable>);

/**
 * `tf.layers.batchNormalization(config)` with webgpu-batchnorm's kernels: the one name to swap in a model.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import * as tfl from '@tensorflow/tfjs-layers';
 * import '@tensorflow/tfjs-backend-webgpu';
 * import { batchNormalization } from 'webgpu-batchnorm/tfjs';
 *
 * await tf.setBackend('webgpu');
 * const model = tfl.sequential({
 *   layers: [tfl.layers.dense({ inputShape: [6], units: 4 }), batchNormalization({ momentum: 0.9 }), tfl.layers.dense({ units: 1 })],
 * });
 * model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
 * await model.fit(tf.randomNormal([32, 6]), tf.randomNormal([32, 1]), { epochs: 1 });
 * ```
 *
 * @param config - tf.layers.batchNormalization's config, with its defaults.
 */
export function batchNormalization(config?: BatchNormalizationLayerArgs): BatchNormalization {
  return new BatchNormalization(config);
}
