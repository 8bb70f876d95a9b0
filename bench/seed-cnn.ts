// The seed article's network (a Keras tutorial on batch normalization), built in tfjs-layers: the one
// definition that the demo's TensorFlow.js panel trains (demo/tfjs/) and the benchmark's model row times
// (bench/model-step-run.ts). Settings the issue states (the layers, BN's momentum 0.9 and epsilon 1e-3,
// channels-last) and the ones chosen here (marked). Types only from tfjs: the callers pass its namespaces,
// so this module loads nothing (the demo's panel and the report's text import it statically).
import type * as tfc from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/** BN's config in every layer of the network (the article's). */
export const BATCH_NORM_CONFIG = { momentum: 0.9, epsilon: 0.001, center: true, scale: true } as const;
/** Chosen: Adam's step (Keras's default rate). */
export const LEARNING_RATE = 0.001;
/** Chosen: the seed of the convolution and dense kernels (Glorot uniform, Keras's default; biases 0). */
export const KERNEL_SEED = 2015;
/** The digits' shape, channels-last. */
export const INPUT_SHAPE = [28, 28, 1] as const;
export const CLASSES = 10;

/** The network in words, for the panel's set-up and the benchmark report. */
export const SEED_CNN_TEXT =
  "the seed article's CNN for 28x28x1 digits: BN; Conv2D(32, 3x3, relu), BN, MaxPool 2x2; Conv2D(64, 3x3, relu), BN, " +
  `MaxPool 2x2; Flatten, Dense(128, relu), BN, Dense(${CLASSES}, softmax); every BN channels-last with momentum ` +
  `${BATCH_NORM_CONFIG.momentum} and epsilon ${BATCH_NORM_CONFIG.epsilon}, center and scale; Glorot-uniform kernels ` +
  `(seed ${KERNEL_SEED}), biases 0; Adam with learning rate ${LEARNING_RATE}, categorical cross-entropy`;

/** The two models: with tfjs's BatchNormalization, and with webgpu-batchnorm/tfjs's. */
export const MODELS = ['tfjs', 'ours'] as const;
export type ModelKey = (typeof MODELS)[number];

/** Batch norm's part of a step as it is measured (BatchNormWork of ./seed-cnn-training.ts), in words. */
export const BATCH_NORM_WORK_TEXT =
  "the model's four BatchNormalization layers on their own (fresh layers of the same kind and config, at the input shapes " +
  "they have in the step): each one's training forward (batch statistics, normalization, the moving statistics' update) " +
  'and its gradients by tf.grads with a given upstream gradient, with respect to gamma and beta, and x for the three whose ' +
  "input is not the model's; not in it: Adam's update of gamma and beta, and any overlap with the rest of the step";

/**
 * How far the two models' losses may differ, relative to the loss, over their first steps from the same
 * weights on the same mini-batches (the panel: LOSS_AGREEMENT_STEPS of demo/tfjs/experiment.ts; the
 * benchmark: the first step). They compute the same function and differ only by float32 rounding in batch
 * norm (each output within agreementTolerance, 2 * Y_RTOL = 8e-6 of its terms, of tfjs's), which reaches
 * the loss through the layers above and, from the second step on, through Adam's updates, which amplify
 * it step by step (as any two float32 trainings drift apart; over a long run it is the accuracy curves
 * that must agree). Stated, not derived: on SwiftShader the losses had the same bits at step 1 and
 * differed by up to 3e-6 at step 2 and 1e-5 at step 3 (batch 8, MNIST), ten times under it.
 */
export const LOSS_AGREEMENT_RTOL = 1e-4;

/** A BatchNormalization factory: tfjs's `tfl.layers.batchNormalization` or webgpu-batchnorm/tfjs's. */
export type BatchNormFactory = (config: typeof BATCH_NORM_CONFIG & { inputShape?: number[] }) => tfl.layers.Layer;

/** The network's layers. Every BN is made by `batchNorm`, so that the two models differ in that one name. */
export function seedCnnLayers(layers: typeof tfl.layers, initializers: typeof tfl.initializers, batchNorm: BatchNormFactory): tfl.layers.Layer[] {
  let seed = KERNEL_SEED;
  const kernel = () => ({ kernelInitializer: initializers.glorotUniform({ seed: seed++ }), biasInitializer: 'zeros' as const });
  return [
    batchNorm({ ...BATCH_NORM_CONFIG, inputShape: [...INPUT_SHAPE] }),
    layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu', ...kernel() }),
    batchNorm(BATCH_NORM_CONFIG),
    layers.maxPooling2d({ poolSize: 2 }),
    layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu', ...kernel() }),
    batchNorm(BATCH_NORM_CONFIG),
    layers.maxPooling2d({ poolSize: 2 }),
    layers.flatten(),
    layers.dense({ units: 128, activation: 'relu', ...kernel() }),
    batchNorm(BATCH_NORM_CONFIG),
    layers.dense({ units: CLASSES, activation: 'softmax', ...kernel() }),
  ];
}

/** The network's model, compiled with Adam and categorical cross-entropy; dispose it with disposeSeedCnn. */
export function buildSeedCnn(tf: typeof tfc, tfLayers: typeof tfl, batchNorm: BatchNormFactory): tfl.Sequential {
  const model = tfLayers.sequential({ layers: seedCnnLayers(tfLayers.layers, tfLayers.initializers, batchNorm) });
  model.compile({ optimizer: tf.train.adam(LEARNING_RATE), loss: 'categoricalCrossentropy' });
  return model;
}

/** Frees the model's weights and its optimizer's (a model does not dispose an optimizer it was given). */
export function disposeSeedCnn(model: tfl.LayersModel): void {
  const optimizer = model.optimizer;
  model.dispose();
  optimizer?.dispose();
}
