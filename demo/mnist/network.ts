// One network of the training panel, on the GPU: the paper's MLP (784-100-100-100-10, sigmoid hidden units,
// softmax cross-entropy), with or without batch norm. With it, each hidden layer is dense -> batch norm ->
// sigmoid, the batch norm being the library's BatchNorm module (BatchNorm1d on [batch, 100], axis 1) with
// its learnable scale and shift trained by the same SGD. recordTrainingStep records a whole step (forward,
// backward, update) into the caller's encoder: the demo's kernels in compute passes of their own, the batch
// norms through the library's `encoder` option, each writing its output into a tensor of the network's
// (`out`). Buffers and bind groups are made once (the watched column's per step, for its ring slot).
import { BatchNorm, Tensor, type Gpu } from '../../src/index.js';
import { BATCH_NORM_EPS, BATCH_NORM_MOMENTUM, BATCH_SIZE, CLASSES, HIDDEN_LAYERS, LAYER_SIZES, WATCHED_UNIT, type InitialParameters } from './experiment.js';
import { PassRecorder, prepareDispatch, storageBuffer, uniformBuffer, type Dispatch } from './kernels.js';

const FLOAT_BYTES = 4;

export interface NetworkInputs {
  /** The current mini-batch, shared by both networks: images [BATCH_SIZE, 784] and labels [BATCH_SIZE] (u32). */
  readonly batchImages: GPUBuffer;
  readonly batchLabels: GPUBuffer;
  /** The test digits' images, [testCount, 784]. */
  readonly testImages: GPUBuffer;
  readonly testCount: number;
}

export interface NetworkOptions {
  readonly batchNorm: boolean;
  /** How many steps' mini-batches watchedInputs keeps, in turn (a ring of slots). */
  readonly watchedSteps: number;
  readonly initial: InitialParameters;
  readonly learningRate: number;
  readonly inputs: NetworkInputs;
  /** Names the network's GPU objects (validation messages, captures). */
  readonly label: string;
}

interface DenseLayer {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly weight: GPUBuffer;
  readonly bias: GPUBuffer;
  readonly dweight: GPUBuffer;
  readonly dbias: GPUBuffer;
}

/** The forward pass's buffers and launches for one batch size (the mini-batch, or the test digits). */
interface ForwardPass {
  readonly batch: number;
  /** Per hidden layer: the dense layer's output (the batch norm's input, or the sigmoid's without one). */
  readonly dense: GPUBuffer[];
  readonly denseTensors: Tensor[];
  /** Per hidden layer: the sigmoid's input (the batch norm's output, or the dense output without one). */
  readonly preActivations: GPUBufferBinding[];
  /** Per hidden layer, with batch norm: its output tensor, written in place at every call. */
  readonly normOutputs: Tensor[];
  /** Per hidden layer: the sigmoid's launch. */
  readonly sigmoidForward: Dispatch[];
  /** Per hidden layer: the sigmoid's output. */
  readonly activations: GPUBuffer[];
  readonly logits: GPUBuffer;
  /** Per dense layer: its Dims uniform for this batch size, and its forward launch. */
  readonly dims: GPUBuffer[];
  readonly denseForward: Dispatch[];
}

/** The backward pass's launches; those of the batch norm layers' neighbours are made per step (see below). */
interface BackwardPass {
  readonly lossAndGradient: Dispatch;
  /** Per dense layer: dweight and dbias (one launch), and dx (none for the first layer: the images need no gradient). */
  readonly weightGradients: Dispatch[];
  readonly inputGradients: (Dispatch | null)[];
  /** Per hidden layer. */
  readonly sigmoidBackward: Dispatch[];
  /** Per hidden layer with batch norm: the gradient reaching it, and the one it passes on, wrapped for the library. */
  readonly preActivationGradients: Tensor[];
  readonly denseGradients: Tensor[];
  readonly scaleGradients: Tensor[];
  readonly shiftGradients: Tensor[];
  readonly update: Dispatch[];
}

export class Network {
  readonly label: string;
  readonly layers: readonly DenseLayer[];
  /** The batch norm layers, one per hidden layer; empty without batch norm. */
  readonly norms: readonly BatchNorm[];
  /** Per row of the last mini-batch: its cross-entropy loss. */
  readonly rowLoss: GPUBuffer;
  /**
   * The watched sigmoid's input (unit WATCHED_UNIT of the last hidden layer) as training computes it, per
   * image of the last watchedSteps mini-batches: step s writes slot s % watchedSteps, BATCH_SIZE values.
   */
  readonly watchedInputs: GPUBuffer;
  /** After an evaluation: the test digits' logits [testCount, 10]. */
  readonly testLogits: GPUBuffer;
  readonly #gpu: Gpu;
  readonly #device: GPUDevice;
  readonly #training: ForwardPass;
  readonly #backward: BackwardPass;
  readonly #test: ForwardPass;
  /** Per slot of watchedInputs: the column gather's Dims. */
  readonly #watchedSlots: GPUBuffer[];
  readonly #buffers: GPUBuffer[] = [];
  #steps = 0;

  constructor(gpu: Gpu, { batchNorm, watchedSteps, initial, learningRate, inputs, label }: NetworkOptions) {
    this.#gpu = gpu;
    this.#device = gpu.device;
    this.label = label;
    this.layers = LAYER_SIZES.slice(1).map((outFeatures, k) => {
      const inFeatures = LAYER_SIZES[k]!;
      return {
        inFeatures,
        outFeatures,
        weight: this.#storage(`layer ${k + 1} weight`, initial.weights[k]!),
        bias: this.#storage(`layer ${k + 1} bias`, initial.biases[k]!),
        dweight: this.#storage(`layer ${k + 1} dweight`, outFeatures * inFeatures * FLOAT_BYTES),
        dbias: this.#storage(`layer ${k + 1} dbias`, outFeatures * FLOAT_BYTES),
      };
    });
    this.norms = batchNorm
      ? LAYER_SIZES.slice(1, 1 + HIDDEN_LAYERS).map((width) => new BatchNorm(gpu, width, { axis: 1, eps: BATCH_NORM_EPS, momentum: BATCH_NORM_MOMENTUM }))
      : [];
    this.rowLoss = this.#storage('row loss', BATCH_SIZE * FLOAT_BYTES);
    this.watchedInputs = this.#storage('watched sigmoid inputs', watchedSteps * BATCH_SIZE * FLOAT_BYTES);
    const watchedWidth = LAYER_SIZES[HIDDEN_LAYERS];
    this.#watchedSlots = Array.from({ length: watchedSteps }, (_, slot) =>
      this.#uniform(`watched slot ${slot} dims`, Uint32Array.of(BATCH_SIZE, watchedWidth, WATCHED_UNIT, slot * BATCH_SIZE)),
    );
    this.#training = this.#forwardPass(BATCH_SIZE, inputs.batchImages, 'batch');
    this.#backward = this.#backwardPass(inputs, learningRate);
    this.#test = this.#forwardPass(inputs.testCount, inputs.testImages, 'test');
    this.testLogits = this.#test.logits;
  }

  /** Records one SGD step on the current mini-batch into `encoder`. */
  recordTrainingStep(encoder: GPUCommandEncoder): void {
    const recorder = new PassRecorder(encoder, `${this.label} step`);
    const lastPreActivation = this.#recordForward(recorder, this.#training, true);
    const slot = this.#watchedSlots[this.#steps % this.#watchedSlots.length]!;
    recorder.dispatch(prepareDispatch(this.#device, 'column', { dims: slot, matrixValues: lastPreActivation, columnValues: this.watchedInputs }, BATCH_SIZE));
    this.#steps++;
    const backward = this.#backward;
    recorder.dispatch(backward.lossAndGradient);
    for (let k = HIDDEN_LAYERS; k >= 0; k--) {
      recorder.dispatch(backward.weightGradients[k]!);
      if (k === 0) break;
      recorder.dispatch(backward.inputGradients[k]!);
      const hidden = k - 1;
      recorder.dispatch(backward.sigmoidBackward[hidden]!);
      const norm = this.norms[hidden];
      if (norm) {
        norm.backward(backward.preActivationGradients[hidden]!, {
          encoder: recorder.encoder,
          out: { dx: backward.denseGradients[hidden]!, dweight: backward.scaleGradients[hidden]!, dbias: backward.shiftGradients[hidden]! },
        });
      }
    }
    // Parameters move only after every gradient is taken (dx of a layer reads its weight).
    for (const update of backward.update) recorder.dispatch(update);
    recorder.end();
  }

  /** Records the test digits' forward pass in evaluation mode (batch norm with its running statistics) into testLogits. */
  recordEvaluation(encoder: GPUCommandEncoder): void {
    const recorder = new PassRecorder(encoder, `${this.label} evaluation`);
    this.#recordForward(recorder, this.#test, false);
    recorder.end();
  }

  /** Frees the network's buffers and batch norm modules. */
  destroy(): void {
    for (const norm of this.norms) norm.destroy();
    for (const output of [...this.#training.normOutputs, ...this.#test.normOutputs]) output.destroy();
    for (const buffer of this.#buffers) buffer.destroy();
    this.#buffers.length = 0;
  }

  /** The forward pass up to the logits; returns the last hidden layer's sigmoid input. */
  #recordForward(recorder: PassRecorder, pass: ForwardPass, training: boolean): GPUBufferBinding {
    for (let k = 0; k < HIDDEN_LAYERS; k++) {
      recorder.dispatch(pass.denseForward[k]!);
      this.norms[k]?.forward(pass.denseTensors[k]!, { training, encoder: recorder.encoder, out: { y: pass.normOutputs[k]! } });
      recorder.dispatch(pass.sigmoidForward[k]!);
    }
    recorder.dispatch(pass.denseForward[HIDDEN_LAYERS]!);
    return pass.preActivations[HIDDEN_LAYERS - 1]!;
  }

  #forwardPass(batch: number, images: GPUBuffer, name: string): ForwardPass {
    const widths = LAYER_SIZES.slice(1, 1 + HIDDEN_LAYERS);
    const dense = widths.map((width, k) => this.#storage(`${name} layer ${k + 1} dense output`, batch * width * FLOAT_BYTES));
    const activations = widths.map((width, k) => this.#storage(`${name} layer ${k + 1} activation`, batch * width * FLOAT_BYTES));
    const logits = this.#storage(`${name} logits`, batch * CLASSES * FLOAT_BYTES);
    const dims = this.layers.map((layer, k) => this.#uniform(`${name} layer ${k + 1} dims`, Uint32Array.of(batch, layer.inFeatures, layer.outFeatures)));
    const denseForward = this.layers.map((layer, k) =>
      prepareDispatch(
        this.#device,
        'denseForward',
        {
          dims: dims[k]!,
          x: k === 0 ? images : activations[k - 1]!,
          weight: layer.weight,
          bias: layer.bias,
          y: k === HIDDEN_LAYERS ? logits : dense[k]!,
        },
        batch * layer.outFeatures,
      ),
    );
    const normOutputs = this.norms.map((_, k) => Tensor.empty(this.#gpu, [batch, widths[k]!], { label: `${this.label} ${name} layer ${k + 1} batch norm output` }));
    const preActivations = dense.map((buffer, k) => normOutputs[k]?.binding ?? { buffer });
    return {
      batch,
      dense,
      denseTensors: dense.map((buffer, k) => Tensor.fromBuffer(this.#gpu, buffer, [batch, widths[k]!], { label: `${this.label} ${name} layer ${k + 1} dense output` })),
      preActivations,
      normOutputs,
      sigmoidForward: preActivations.map((preActivation, k) =>
        prepareDispatch(this.#device, 'sigmoidForward', { preActivation, activation: activations[k]! }, batch * widths[k]!),
      ),
      activations,
      logits,
      dims,
      denseForward,
    };
  }

  #backwardPass(inputs: NetworkInputs, learningRate: number): BackwardPass {
    const batch = BATCH_SIZE;
    const forward = this.#training;
    const widths = LAYER_SIZES.slice(1, 1 + HIDDEN_LAYERS);
    const wrap = (buffer: GPUBuffer, shape: number[], name: string) => Tensor.fromBuffer(this.#gpu, buffer, shape, { label: `${this.label} ${name}` });
    const dlogits = this.#storage('dlogits', batch * CLASSES * FLOAT_BYTES);
    // Per hidden layer: the gradient at the sigmoid's output, at its input, and (with batch norm) at the dense output.
    const activationGradients = widths.map((width, k) => this.#storage(`layer ${k + 1} dactivation`, batch * width * FLOAT_BYTES));
    const preActivationGradients = widths.map((width, k) => this.#storage(`layer ${k + 1} dpreactivation`, batch * width * FLOAT_BYTES));
    const denseGradients = this.norms.length > 0 ? widths.map((width, k) => this.#storage(`layer ${k + 1} ddense`, batch * width * FLOAT_BYTES)) : preActivationGradients;
    const outputGradient = (k: number) => (k === HIDDEN_LAYERS ? dlogits : denseGradients[k]!);
    const learningRateUniform = this.#uniform('learning rate', Float32Array.of(learningRate));
    const scaleGradients = this.norms.map((norm, k) => this.#storage(`layer ${k + 1} batch norm dweight`, norm.numFeatures * FLOAT_BYTES));
    const shiftGradients = this.norms.map((norm, k) => this.#storage(`layer ${k + 1} batch norm dbias`, norm.numFeatures * FLOAT_BYTES));
    const sgd = (parameter: GPUBufferBinding, gradient: GPUBuffer) =>
      prepareDispatch(this.#device, 'sgd', { hyperparameters: learningRateUniform, gradient, parameter }, gradient.size / FLOAT_BYTES);
    return {
      lossAndGradient: prepareDispatch(
        this.#device,
        'softmaxCrossEntropy',
        { dims: this.#uniform('loss dims', Uint32Array.of(batch, CLASSES)), logits: forward.logits, labels: inputs.batchLabels, rowLoss: this.rowLoss, dlogits },
        batch,
      ),
      weightGradients: this.layers.map((layer, k) =>
        prepareDispatch(
          this.#device,
          'denseBackwardWeight',
          { dims: forward.dims[k]!, dy: outputGradient(k), x: k === 0 ? inputs.batchImages : forward.activations[k - 1]!, dweight: layer.dweight, dbias: layer.dbias },
          layer.outFeatures * layer.inFeatures,
        ),
      ),
      inputGradients: this.layers.map((layer, k) =>
        k === 0
          ? null
          : prepareDispatch(
              this.#device,
              'denseBackwardInput',
              { dims: forward.dims[k]!, dy: outputGradient(k), weight: layer.weight, dx: activationGradients[k - 1]! },
              batch * layer.inFeatures,
            ),
      ),
      sigmoidBackward: widths.map((width, k) =>
        prepareDispatch(
          this.#device,
          'sigmoidBackward',
          { savedActivation: forward.activations[k]!, dActivation: activationGradients[k]!, dPreActivation: preActivationGradients[k]! },
          batch * width,
        ),
      ),
      preActivationGradients: this.norms.map((_, k) => wrap(preActivationGradients[k]!, [batch, widths[k]!], `layer ${k + 1} dpreactivation`)),
      denseGradients: this.norms.map((_, k) => wrap(denseGradients[k]!, [batch, widths[k]!], `layer ${k + 1} ddense`)),
      scaleGradients: scaleGradients.map((buffer, k) => wrap(buffer, [widths[k]!], `layer ${k + 1} batch norm dweight`)),
      shiftGradients: shiftGradients.map((buffer, k) => wrap(buffer, [widths[k]!], `layer ${k + 1} batch norm dbias`)),
      update: [
        ...this.layers.flatMap((layer, k) => [
          sgd({ buffer: layer.weight }, layer.dweight),
          // Before a batch norm a bias does nothing (the mean subtraction cancels it; its gradient is 0 but
          // for rounding), so, as the paper says, it is left out: it stays 0, and batch norm's shift replaces it.
          ...(this.norms[k] ? [] : [sgd({ buffer: layer.bias }, layer.dbias)]),
        ]),
        ...this.norms.flatMap((norm, k) => [sgd(norm.weight.binding, scaleGradients[k]!), sgd(norm.bias.binding, shiftGradients[k]!)]),
      ],
    };
  }

  #storage(name: string, contents: number | Float32Array): GPUBuffer {
    const buffer = storageBuffer(this.#device, `${this.label} ${name}`, contents);
    this.#buffers.push(buffer);
    return buffer;
  }

  #uniform(name: string, data: Uint32Array | Float32Array): GPUBuffer {
    const buffer = uniformBuffer(this.#device, `${this.label} ${name}`, data);
    this.#buffers.push(buffer);
    return buffer;
  }
}
