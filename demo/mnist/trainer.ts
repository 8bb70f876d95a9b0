// The training panel's loop: two networks, without and with batch norm, from the same seeded weights on the
// same mini-batches. A step is one command encoder and one submit: the mini-batch's copy out of the epoch's
// shuffled digits, then both networks' whole training steps. Every EVALUATE_EVERY steps an evaluation (the
// test digits' forward pass, likewise one encoder) copies what the page shows into a staging buffer (the
// test logits, the last batch's losses, the watched sigmoid's inputs over the steps since the last one);
// its readback resolves while the next steps already run (two staging buffers take turns), so the GPU never
// waits on the page. The steps between two evaluations run inside error scopes that the evaluation pops: a
// GPU error ends the training with the GPU's message.
import type { Gpu } from '../../src/index.js';
import { BufferUsage, MapMode } from '../../src/runtime/webgpu-constants.js';
import { batchesPerEpoch, epochOrder, PIXELS, reorder, type MnistSplit } from './data.js';
import { accuracy, mean, meanCrossEntropy, percentiles } from './evaluation.js';
import { BATCH_SIZE, CLASSES, EVALUATE_EVERY, initialParameters, LEARNING_RATE, PERCENTILES } from './experiment.js';
import { storageBuffer } from './kernels.js';
import { Network } from './network.js';

const FLOAT_BYTES = 4;

export interface NetworkReadout {
  /** Over the test digits, in evaluation mode. */
  readonly testAccuracy: number;
  readonly testLoss: number;
  /** The last mini-batch's mean loss, as its training step computed it; null before the first step. */
  readonly batchLoss: number | null;
  /**
   * The watched sigmoid's input as training computed it, over the images of the mini-batches of the last
   * EVALUATE_EVERY steps (fewer at the start): its 15th, 50th and 85th percentiles; null before the first step.
   */
  readonly percentiles: readonly number[] | null;
}

export interface Readout {
  /** Training steps taken (each network one step per mini-batch). */
  readonly step: number;
  readonly plain: NetworkReadout;
  readonly batchNorm: NetworkReadout;
}

export interface TrainOptions {
  /** Asked before each block of EVALUATE_EVERY steps is queued: true queues no more, and the training ends once the queued blocks are done. */
  readonly shouldStop: () => boolean;
  /** Each evaluation's results, in step order. */
  readonly onReadout: (readout: Readout) => void;
}

export class Trainer {
  readonly #device: GPUDevice;
  readonly #split: MnistSplit;
  readonly #networks: readonly [plain: Network, batchNorm: Network];
  readonly #epochImages: GPUBuffer;
  readonly #epochLabels: GPUBuffer;
  readonly #batchImages: GPUBuffer;
  readonly #batchLabels: GPUBuffer;
  readonly #testImages: GPUBuffer;
  /** Two staging buffers, used in turn: one is read back while the other is being filled. */
  readonly #staging: readonly GPUBuffer[];
  readonly #batchesPerEpoch: number;
  #nextStaging = 0;
  #step = 0;
  #evaluatedStep = -1;

  constructor(gpu: Gpu, split: MnistSplit) {
    const device = gpu.device;
    this.#device = device;
    this.#split = split;
    this.#batchesPerEpoch = batchesPerEpoch(split.training);
    const { training, test } = split;
    this.#epochImages = storageBuffer(device, 'mnist epoch images', training.images.byteLength);
    this.#epochLabels = storageBuffer(device, 'mnist epoch labels', training.labels.byteLength);
    this.#batchImages = storageBuffer(device, 'mnist batch images', BATCH_SIZE * PIXELS * FLOAT_BYTES);
    this.#batchLabels = storageBuffer(device, 'mnist batch labels', BATCH_SIZE * FLOAT_BYTES);
    this.#testImages = storageBuffer(device, 'mnist test images', test.images);
    const inputs = { batchImages: this.#batchImages, batchLabels: this.#batchLabels, testImages: this.#testImages, testCount: test.count };
    const initial = initialParameters();
    this.#networks = [
      new Network(gpu, { batchNorm: false, watchedSteps: EVALUATE_EVERY, initial, learningRate: LEARNING_RATE, inputs, label: 'without batch norm' }),
      new Network(gpu, { batchNorm: true, watchedSteps: EVALUATE_EVERY, initial, learningRate: LEARNING_RATE, inputs, label: 'with batch norm' }),
    ];
    this.#staging = [0, 1].map((i) =>
      device.createBuffer({ label: `mnist readback ${i}`, size: 2 * this.#floatsPerNetwork * FLOAT_BYTES, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST }),
    );
  }

  /** Training steps taken so far. */
  get step(): number {
    return this.#step;
  }

  /**
   * Trains up to step `until` (evaluating first if nothing was evaluated at the current step: the start),
   * or until `shouldStop` says so at a block boundary. Resolves after the last evaluation's readout.
   */
  async train(until: number, { shouldStop, onReadout }: TrainOptions): Promise<void> {
    let pending: Promise<Readout> | null = this.#evaluatedStep === this.#step ? null : this.#submitBlock(this.#step);
    try {
      while (this.#step < until && !shouldStop()) {
        const next = this.#submitBlock(Math.min(until, (Math.floor(this.#step / EVALUATE_EVERY) + 1) * EVALUATE_EVERY));
        if (pending) onReadout(await pending);
        pending = next;
      }
      if (pending) onReadout(await pending);
      pending = null;
    } finally {
      // After an error, an evaluation still in flight has no one to report to.
      pending?.catch(() => undefined);
    }
  }

  destroy(): void {
    for (const network of this.#networks) network.destroy();
    for (const buffer of [this.#epochImages, this.#epochLabels, this.#batchImages, this.#batchLabels, this.#testImages, ...this.#staging]) buffer.destroy();
  }

  /** Per network in a staging buffer: the test logits, the last batch's row losses and the watched sigmoid inputs. */
  get #floatsPerNetwork(): number {
    return this.#split.test.count * CLASSES + BATCH_SIZE + EVALUATE_EVERY * BATCH_SIZE;
  }

  /** The steps up to step `end`, then an evaluation, inside error scopes; resolves to the evaluation's readout. */
  #submitBlock(end: number): Promise<Readout> {
    const first = this.#step + 1;
    const scopes = ['validation', 'out-of-memory', 'internal'] as const;
    for (const filter of scopes) this.#device.pushErrorScope(filter);
    const popScopes = () => Promise.all(scopes.map(() => this.#device.popErrorScope()));
    let readback: Promise<Float32Array>;
    try {
      while (this.#step < end) this.#submitStep();
      readback = this.#submitEvaluation();
    } catch (error) {
      void popScopes(); // no scope outlives its block, or it would swallow the page's later errors
      throw error;
    }
    return Promise.all([popScopes(), readback]).then(([scopeErrors, values]) => {
      const messages = scopeErrors.filter((e): e is GPUError => e !== null).map((e) => e.message);
      if (messages.length > 0) {
        const what = end >= first ? `training steps ${first} to ${end} or the evaluation after them` : `the evaluation at step ${end}`;
        throw new Error(`GPU error in ${what}: ${messages.join(' | ')}`);
      }
      const [plain, batchNorm] = [0, 1].map((i) => this.#networkReadout(values.subarray(i * this.#floatsPerNetwork, (i + 1) * this.#floatsPerNetwork), end));
      return { step: end, plain: plain!, batchNorm: batchNorm! };
    });
  }

  #submitStep(): void {
    const batch = this.#step % this.#batchesPerEpoch;
    if (batch === 0) {
      // A new epoch: its shuffled digits, uploaded once (queued after the steps that read the last epoch's).
      const epoch = reorder(this.#split.training, epochOrder(this.#split.training.count, this.#step / this.#batchesPerEpoch));
      for (const [buffer, data] of [[this.#epochImages, epoch.images], [this.#epochLabels, epoch.labels]] as const) {
        this.#device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
      }
    }
    const encoder = this.#device.createCommandEncoder({ label: `mnist step ${this.#step + 1}` });
    const imageBytes = BATCH_SIZE * PIXELS * FLOAT_BYTES;
    const labelBytes = BATCH_SIZE * FLOAT_BYTES;
    encoder.copyBufferToBuffer(this.#epochImages, batch * imageBytes, this.#batchImages, 0, imageBytes);
    encoder.copyBufferToBuffer(this.#epochLabels, batch * labelBytes, this.#batchLabels, 0, labelBytes);
    for (const network of this.#networks) network.recordTrainingStep(encoder);
    this.#device.queue.submit([encoder.finish()]);
    this.#step++;
  }

  /** Submits an evaluation at the current step; resolves to the staging buffer's values once read back. */
  #submitEvaluation(): Promise<Float32Array> {
    const step = this.#step;
    this.#evaluatedStep = step;
    const staging = this.#staging[this.#nextStaging]!;
    this.#nextStaging = 1 - this.#nextStaging;
    const tests = this.#split.test.count;
    const regions = [
      ['testLogits', tests * CLASSES],
      ['rowLoss', BATCH_SIZE],
      ['watchedInputs', EVALUATE_EVERY * BATCH_SIZE],
    ] as const;
    const encoder = this.#device.createCommandEncoder({ label: `mnist evaluation at step ${step}` });
    this.#networks.forEach((network, i) => {
      network.recordEvaluation(encoder);
      let offset = i * this.#floatsPerNetwork * FLOAT_BYTES;
      for (const [name, floats] of regions) {
        encoder.copyBufferToBuffer(network[name], 0, staging, offset, floats * FLOAT_BYTES);
        offset += floats * FLOAT_BYTES;
      }
    });
    this.#device.queue.submit([encoder.finish()]);
    return staging.mapAsync(MapMode.READ).then(() => {
      const values = new Float32Array(staging.getMappedRange().slice(0));
      staging.unmap();
      return values;
    });
  }

  #networkReadout(values: Float32Array, step: number): NetworkReadout {
    const { count, labels } = this.#split.test;
    const logits = values.subarray(0, count * CLASSES);
    const rowLoss = values.subarray(count * CLASSES, count * CLASSES + BATCH_SIZE);
    // Slots fill in step order: before EVALUATE_EVERY steps only the first `step` hold values.
    const watched = values.subarray(count * CLASSES + BATCH_SIZE).subarray(0, Math.min(step, EVALUATE_EVERY) * BATCH_SIZE);
    return {
      testAccuracy: accuracy(logits, labels, CLASSES),
      testLoss: meanCrossEntropy(logits, labels, CLASSES),
      batchLoss: step === 0 ? null : mean(rowLoss),
      percentiles: step === 0 ? null : percentiles(watched, PERCENTILES),
    };
  }
}
