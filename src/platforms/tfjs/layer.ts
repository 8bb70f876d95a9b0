// The TensorFlow.js layer: tfjs-layers' own BatchNormalization class (its constructor, config, weights,
// build, regularizers, constraints and getConfig) with `call` replaced. On tfjs's webgpu backend, call
// runs this library's kernels through tfjs's engine (./kernels.ts); elsewhere, and for inputs they do not
// take, it runs tfjs's own call and says so once.
import { backend, getBackend, ones, serialization, tidy, zeros, type Tensor } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers tfjs's BatchNormalization class, which this one extends
import type { layers, LayerVariable } from '@tensorflow/tfjs-layers';
import { INFERENCE_FORWARD, TRAINING_FORWARD, registerKernelsFor, runKernel } from './kernels.js';
import { asWebGpuBackend } from './webgpu-backend.js';

/** tfjs-layers' BatchNormalization: the layer `tf.layers.batchNormalization` makes. */
export type TfjsBatchNormalization = ReturnType<typeof layers.batchNormalization>;
/**
 * The config of tf.layers.batchNormalization, and of this layer.
 *
 * axis (-1), momentum (0.99), epsilon (1e-3), center, scale, initializers, regularizers, constraints and the Layer's own.
 */
export type BatchNormalizationLayerArgs = NonNullable<Parameters<typeof layers.batchNormalization>[0]>;
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

/** Warns once per reason that a call runs tfjs's own batch norm. */
function warnFallback(reason: string): void {
  if (warned.has(reason)) return;
  warned.add(reason);
  console.warn(`webgpu-batchnorm/tfjs: ${reason}; BatchNormalization runs TensorFlow.js's own batch norm.`);
}

/** Why this library's kernels cannot run the call, or null when they can. */
function unsupported(input: Tensor, axis: number, training: boolean): string | null {
  if (input.dtype !== 'float32') return `an input of dtype ${input.dtype} (the kernels take float32)`;
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
  /** As `tf.layers.batchNormalization(config)`: the same config and defaults (axis -1, momentum 0.99, epsilon 1e-3). */
  constructor(config?: BatchNormalizationLayerArgs) {
    super(config);
  }

  /** The class name in a saved model's topology (registered below, so tf.loadLayersModel finds it). */
  static className = 'WebGPUBatchNormalization';

  /**
   * Runs the layer: batch statistics with `kwargs.training` (as `fit` passes it), the moving ones
   * otherwise. On a webgpu backend this library's kernels compute it on tfjs's buffers; elsewhere, or for
   * an input they do not take, tfjs's own batch norm does (with one warning per reason).
   */
  override call(inputs: Tensor | Tensor[], kwargs: Kwargs): Tensor | Tensor[] {
    const input = Array.isArray(inputs) && inputs.length === 1 ? inputs[0]! : inputs;
    if (Array.isArray(input)) return super.call(inputs, kwargs); // tfjs names the error
    const state = this as unknown as TfjsBatchNormalizationState;
    const training = kwargs['training'] == null ? false : Boolean(kwargs['training']);
    const axis = state.axis >= 0 ? state.axis : state.axis + input.rank;
    const name = getBackend();
    const webgpu = asWebGpuBackend(backend(), name);
    const reason = typeof webgpu === 'string' ? webgpu : unsupported(input, axis, training);
    if (reason !== null) {
      warnFallback(reason);
      return super.call(inputs, kwargs);
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
      };
      const attrs = { axis, epsilon: state.epsilon, momentum: state.momentum };
      if (!training) return runKernel(INFERENCE_FORWARD, kernelInputs, attrs) as Tensor;
      const [y, , , movingMean, movingVariance] = runKernel(TRAINING_FORWARD, kernelInputs, attrs) as Tensor[];
      state.movingMean.write(movingMean!);
      state.movingVariance.write(movingVariance!);
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
