// The TensorFlow.js panel's loop: the seed article's network (bench/seed-cnn.ts) twice on tfjs's
// webgpu backend, once with tfjs's BatchNormalization and once with webgpu-batchnorm/tfjs's, from the same
// weights (the second model takes the first one's) on the same mini-batches (the training panel's seeded
// order). A step trains each model on the mini-batch with `trainOnBatch`, which resolves once its loss is
// read back, so each model's step time is its whole training step on the GPU as a tfjs user waits for it;
// the two go first in turn. Then each model's batch norm runs on its own at the step's shapes
// (BatchNormWork of bench/seed-cnn-training.ts, as the benchmark's model row measures it), timed until
// the queue is done: its share of the step. Imported only when the panel starts (TensorFlow.js is large).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgpu';
import type * as tfl from '@tensorflow/tfjs-layers';
import { disposeSeedCnn, MODELS, type ModelKey } from '../../bench/seed-cnn.js';
import { BatchNormWork, seedCnn, settle } from '../../bench/seed-cnn-training.js';
import { epochOrder, PIXELS, reorder, type Digits, type MnistSplit } from '../mnist/data.js';
import { CLASSES } from '../mnist/experiment.js';
import { PREDICT_CHUNK } from './experiment.js';

/** The seed of the inputs and upstream gradients of the batch norm measured on its own. */
const BATCH_NORM_SEED = 18;

export interface StepRecord {
  /** Steps taken, this one included. */
  readonly step: number;
  /** Each model's mean loss over the mini-batch, as its training step computed it. */
  readonly loss: Readonly<Record<ModelKey, number>>;
  /** Each model's wall time for the step (trainOnBatch until its loss is read), in milliseconds. */
  readonly ms: Readonly<Record<ModelKey, number>>;
  /** Each model's batch norm on its own after the step (forward and backward of its BN layers at the step's shapes), until the queue is done, in milliseconds. */
  readonly batchNormMs: Readonly<Record<ModelKey, number>>;
}

export interface Evaluation {
  readonly step: number;
  /** Each model's accuracy over the test digits (batch norm with its moving statistics). */
  readonly accuracy: Readonly<Record<ModelKey, number>>;
}

/** Starts tfjs's webgpu backend; resolves to its adapter's name. */
export async function startTfjs(): Promise<string> {
  if (!(await tf.setBackend('webgpu'))) throw new Error("TensorFlow.js could not start its webgpu backend");
  await tf.ready();
  const info = (tf.backend() as unknown as { adapterInfo?: { vendor?: string; architecture?: string } }).adapterInfo;
  return [info?.vendor, info?.architecture].filter(Boolean).join(' ') || 'an unnamed adapter';
}

/** `count` of the test digits, evenly strided, so that every class is in (the test digits are grouped by class). */
function testSample(test: Digits, count: number): Digits {
  const n = Math.min(count, test.count);
  const stride = test.count / n;
  const images = new Float32Array(n * PIXELS);
  const labels = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const source = Math.floor(i * stride);
    images.set(test.images.subarray(source * PIXELS, (source + 1) * PIXELS), i * PIXELS);
    labels[i] = test.labels[source]!;
  }
  return { count: n, images, labels };
}

export class TfjsComparison {
  readonly #models: Readonly<Record<ModelKey, tfl.Sequential>>;
  readonly #batchNorm: Readonly<Record<ModelKey, BatchNormWork>>;
  readonly #training: Digits;
  readonly #test: Digits;
  readonly #batch: number;
  readonly #batchesPerEpoch: number;
  #epoch = -1;
  #epochDigits: Digits | null = null;
  #step = 0;

  constructor(split: MnistSplit, batch: number, testDigits: number) {
    const tfjs = seedCnn('tfjs');
    const ours = seedCnn('ours');
    ours.model.setWeights(tfjs.model.getWeights()); // the same start, whatever the initializers drew
    this.#models = { tfjs: tfjs.model, ours: ours.model };
    this.#batchNorm = {
      tfjs: new BatchNormWork('tfjs', tfjs.batchNormSites, batch, BATCH_NORM_SEED),
      ours: new BatchNormWork('ours', ours.batchNormSites, batch, BATCH_NORM_SEED),
    };
    this.#training = split.training;
    this.#test = testSample(split.test, testDigits);
    this.#batch = batch;
    this.#batchesPerEpoch = Math.floor(split.training.count / batch); // a partial last batch is left out
  }

  get step(): number {
    return this.#step;
  }

  get testDigits(): number {
    return this.#test.count;
  }

  /** One training step of each model on the next mini-batch. */
  async trainStep(): Promise<StepRecord> {
    const epoch = Math.floor(this.#step / this.#batchesPerEpoch);
    if (epoch !== this.#epoch || !this.#epochDigits) {
      this.#epochDigits = reorder(this.#training, epochOrder(this.#training.count, epoch));
      this.#epoch = epoch;
    }
    const first = (this.#step % this.#batchesPerEpoch) * this.#batch;
    const digits = this.#epochDigits;
    const x = tf.tensor4d(digits.images.subarray(first * PIXELS, (first + this.#batch) * PIXELS), [this.#batch, 28, 28, 1]);
    const y = tf.tidy(() => tf.oneHot(tf.tensor1d(Int32Array.from(digits.labels.subarray(first, first + this.#batch)), 'int32'), CLASSES));
    const loss = { tfjs: NaN, ours: NaN };
    const ms = { tfjs: NaN, ours: NaN };
    const batchNormMs = { tfjs: NaN, ours: NaN };
    const order = this.#step % 2 === 0 ? MODELS : ([...MODELS].reverse() as ModelKey[]);
    try {
      for (const key of order) {
        const start = performance.now();
        loss[key] = (await this.#models[key].trainOnBatch(x, y)) as number;
        ms[key] = performance.now() - start;
      }
    } finally {
      tf.dispose([x, y]);
    }
    for (const key of order) {
      const start = performance.now();
      this.#batchNorm[key].run();
      await settle();
      batchNormMs[key] = performance.now() - start;
    }
    this.#step++;
    return { step: this.#step, loss, ms, batchNormMs };
  }

  /** Both models' accuracy on the test sample. */
  async evaluate(): Promise<Evaluation> {
    const accuracy = { tfjs: 0, ours: 0 };
    for (const key of MODELS) {
      let correct = 0;
      for (let first = 0; first < this.#test.count; first += PREDICT_CHUNK) {
        const n = Math.min(PREDICT_CHUNK, this.#test.count - first);
        const predicted = tf.tidy(() => {
          const x = tf.tensor4d(this.#test.images.subarray(first * PIXELS, (first + n) * PIXELS), [n, 28, 28, 1]);
          return tf.argMax(this.#models[key].predict(x) as tf.Tensor, -1);
        });
        const labels = await predicted.data();
        predicted.dispose();
        labels.forEach((label, i) => (correct += label === this.#test.labels[first + i] ? 1 : 0));
      }
      accuracy[key] = correct / this.#test.count;
    }
    return { step: this.#step, accuracy };
  }

  dispose(): void {
    for (const key of MODELS) {
      disposeSeedCnn(this.#models[key]);
      this.#batchNorm[key].dispose();
    }
  }
}
