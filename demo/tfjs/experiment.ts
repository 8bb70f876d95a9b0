// The TensorFlow.js panel's experiment: the seed article's network (a Keras tutorial on batch
// normalization) built in tfjs-layers, once with tfjs's BatchNormalization and once with this library's
// (webgpu-batchnorm/tfjs), from the same seeded weights, trained on the same MNIST mini-batches. Settings
// the issue states (the layers, BN's momentum 0.9 and epsilon 1e-3, channels-last) and the ones chosen here
// (marked), in one place for the panel, the trainer and the tests.
import type * as tfl from '@tensorflow/tfjs-layers';

/** BN's config in every layer of the network (the article's). */
export const BATCH_NORM_CONFIG = { momentum: 0.9, epsilon: 0.001, center: true, scale: true } as const;
/** Chosen: examples per mini-batch (the benchmark's model row uses 64 too). */
export const DEFAULT_BATCH = 64;
/** Chosen: Adam's step (Keras's default rate). */
export const LEARNING_RATE = 0.001;
/** Chosen: the seed of the convolution and dense kernels (Glorot uniform, Keras's default; biases 0). */
export const KERNEL_SEED = 2015;
/** Test accuracy is measured every this many steps (and before the first). */
export const EVALUATE_EVERY = 10;
/** The test digits are predicted this many at a time. */
export const PREDICT_CHUNK = 100;

/**
 * How far the two models' losses may differ over the first LOSS_AGREEMENT_STEPS steps, relative to the
 * loss. They compute the same function from the same weights and mini-batches and differ only by float32
 * rounding in batch norm (each output within agreementTolerance, 2 * Y_RTOL = 8e-6 of its terms, of tfjs's),
 * which reaches the loss through the layers above and, from the second step on, through Adam's updates,
 * which amplify it step by step (as any two float32 trainings drift apart; over a long run it is the
 * accuracy curves that must agree). Stated, not derived: on SwiftShader the losses had the same bits at
 * step 1 and differed by up to 3e-6 at step 2 and 1e-5 at step 3 (batch 8, MNIST), ten times under it.
 */
export const LOSS_AGREEMENT_RTOL = 1e-4;
export const LOSS_AGREEMENT_STEPS = 3;

export type BatchNormFactory = (config: typeof BATCH_NORM_CONFIG & { inputShape?: number[] }) => tfl.layers.Layer;

/**
 * The article's network for 28x28x1 digits: BN; Conv2D(32, 3x3, relu), BN, MaxPool 2x2; Conv2D(64, 3x3,
 * relu), BN, MaxPool 2x2; Flatten, Dense(128, relu), BN, Dense(10, softmax); every BN channels-last.
 */
export function articleNetwork(layers: typeof tfl.layers, initializers: typeof tfl.initializers, batchNorm: BatchNormFactory): tfl.layers.Layer[] {
  let seed = KERNEL_SEED;
  const kernel = () => ({ kernelInitializer: initializers.glorotUniform({ seed: seed++ }), biasInitializer: 'zeros' as const });
  return [
    batchNorm({ ...BATCH_NORM_CONFIG, inputShape: [28, 28, 1] }),
    layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu', ...kernel() }),
    batchNorm(BATCH_NORM_CONFIG),
    layers.maxPooling2d({ poolSize: 2 }),
    layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu', ...kernel() }),
    batchNorm(BATCH_NORM_CONFIG),
    layers.maxPooling2d({ poolSize: 2 }),
    layers.flatten(),
    layers.dense({ units: 128, activation: 'relu', ...kernel() }),
    batchNorm(BATCH_NORM_CONFIG),
    layers.dense({ units: 10, activation: 'softmax', ...kernel() }),
  ];
}
