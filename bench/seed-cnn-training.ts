// The seed CNN (./seed-cnn.ts) in TensorFlow.js, with either batch norm, and the one measurement of how
// much of its training step is batch norm: the model's BN layers run on their own. Shared by the demo's
// TensorFlow.js panel (demo/tfjs/trainer.ts, tfjs's own webgpu backend) and the benchmark's model row
// (./model-step-run.ts, tfjs on the benchmark's device). Imports TensorFlow.js: load it dynamically.
//
// Batch norm's part of a step: fresh BN layers of the same kind and config, at the input shapes the
// model's BN layers have at that batch, each run as the step runs it: its training forward (batch
// statistics, normalization, the moving statistics' update) and its gradients by tf.grads with a given
// upstream gradient, with respect to gamma and beta, and to x for every BN whose input is not the model's
// (the first BN's input is the data, which training does not differentiate). The calls go back to back;
// then one flush of tfjs's pending commands and one queue.onSubmittedWorkDone(). Not in it: Adam's update
// of gamma and beta, and any overlap of batch norm with the rest of the step on the GPU. Fresh layers, so
// that measuring leaves the trained model's moving statistics alone.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { batchNormalization } from '../src/tfjs.js';
import { asWebGpuBackend } from '../src/platforms/tfjs/webgpu-backend.js';
import { BATCH_NORM_CONFIG, buildSeedCnn, CLASSES, INPUT_SHAPE, type BatchNormFactory, type ModelKey } from './seed-cnn.js';
import { seededUniform } from './synthetic.js';

/** The one name that differs between the two models. */
export const BATCH_NORM_FACTORIES: Readonly<Record<ModelKey, BatchNormFactory>> = {
  tfjs: (config) => tfl.layers.batchNormalization(config),
  ours: (config) => batchNormalization(config),
};

/** A BN layer of the model: its input's shape without the batch, and whether training asks for its dx. */
export interface BatchNormSite {
  readonly inputShape: readonly number[];
  readonly needsDx: boolean;
}

export interface SeedCnn {
  readonly model: tfl.Sequential;
  /** The model's BN layers, in order. */
  readonly batchNormSites: readonly BatchNormSite[];
}

/** The seed CNN with `key`'s batch norm, compiled; free it with disposeSeedCnn(model). */
export function seedCnn(key: ModelKey): SeedCnn {
  const made: tfl.layers.Layer[] = [];
  const model = buildSeedCnn(tf, tfl, (config) => {
    const layer = BATCH_NORM_FACTORIES[key](config);
    made.push(layer);
    return layer;
  });
  const modelInput = model.inputs[0];
  const batchNormSites = made.map((layer) => {
    const input = layer.input as tfl.SymbolicTensor;
    return { inputShape: input.shape.slice(1) as number[], needsDx: input !== modelInput };
  });
  return { model, batchNormSites };
}

/** `batch` digits of seeded noise in [0, 1) and seeded one-hot labels: a step's cost does not depend on the values. */
export function syntheticBatch(batch: number, seed: number): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const random = seededUniform(seed);
  const pixels = Float32Array.from({ length: batch * INPUT_SHAPE[0] * INPUT_SHAPE[1] * INPUT_SHAPE[2] }, random);
  const labels = Int32Array.from({ length: batch }, () => Math.floor(random() * CLASSES));
  return {
    x: tf.tensor4d(pixels, [batch, ...INPUT_SHAPE]),
    y: tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), CLASSES, 1, 0, 'float32') as tf.Tensor2D),
  };
}

/** Submits what tfjs's webgpu backend holds back, and resolves when its device's queue has finished. */
export async function settle(): Promise<void> {
  const backend = asWebGpuBackend(tf.backend(), tf.getBackend());
  if (typeof backend === 'string') throw new Error(`settle: ${backend}`);
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  backend.submitQueue();
  await backend.device.queue.onSubmittedWorkDone();
}

interface BatchNormCall {
  readonly layer: tfl.layers.Layer;
  readonly x: tf.Tensor;
  readonly dy: tf.Tensor;
  readonly needsDx: boolean;
}

/** Batch norm's part of a training step of a model with `sites`, at `batch`, on its own (see the top). */
export class BatchNormWork {
  readonly #calls: BatchNormCall[] = [];

  constructor(key: ModelKey, sites: readonly BatchNormSite[], batch: number, seed: number) {
    try {
      sites.forEach(({ inputShape, needsDx }, i) => {
        const shape = [batch, ...inputShape];
        const layer = BATCH_NORM_FACTORIES[key](BATCH_NORM_CONFIG);
        layer.build(shape);
        const x = tf.randomNormal(shape, 0, 1, 'float32', seed + 2 * i);
        const dy = tf.randomNormal(shape, 0, 1, 'float32', seed + 2 * i + 1);
        this.#calls.push({ layer, x, dy, needsDx });
      });
    } catch (error) {
      this.dispose();
      throw error;
    }
  }

  /** One forward and backward of every BN layer; its outputs and gradients disposed (call settle() to wait for it). */
  run(): void {
    tf.tidy(() => {
      for (const { layer, x, dy, needsDx } of this.#calls) {
        const [gamma, beta] = layer.trainableWeights.map((w) => w.read());
        const wrt = needsDx ? [x, gamma!, beta!] : [gamma!, beta!];
        tf.grads(() => layer.apply(x, { training: true }) as tf.Tensor)(wrt, dy);
      }
    });
  }

  dispose(): void {
    for (const { layer, x, dy } of this.#calls.splice(0)) {
      for (const weight of layer.weights) weight.dispose();
      tf.dispose([x, dy]);
    }
  }
}
