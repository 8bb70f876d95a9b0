// Float64 CPU references of the demo's kernels (demo/mnist/*.wgsl) and of a whole training step of the
// network, with the library's float64 batch norm references in the batch norm layers. The GPU tests compare
// against these (tolerances in demo/mnist/tolerances.ts).
import { batchNormBackwardReference, batchNormReference } from '../../src/reference.js';
import { BATCH_NORM_EPS, BATCH_NORM_MOMENTUM, CLASSES, HIDDEN_LAYERS, LAYER_SIZES, WATCHED_UNIT } from './experiment.js';

type Values = ArrayLike<number>;

export interface DenseDims {
  readonly batch: number;
  readonly inFeatures: number;
  readonly outFeatures: number;
}

/** y = x weight^T + bias, weight [outFeatures, inFeatures]. */
export function denseForwardReference(x: Values, weight: Values, bias: Values, { batch, inFeatures, outFeatures }: DenseDims): Float64Array {
  const y = new Float64Array(batch * outFeatures);
  for (let n = 0; n < batch; n++) {
    for (let o = 0; o < outFeatures; o++) {
      let sum = bias[o]!;
      for (let i = 0; i < inFeatures; i++) sum += x[n * inFeatures + i]! * weight[o * inFeatures + i]!;
      y[n * outFeatures + o] = sum;
    }
  }
  return y;
}

export interface DenseGradients {
  readonly dx: Float64Array;
  readonly dweight: Float64Array;
  readonly dbias: Float64Array;
}

/** dx = dy weight, dweight = dy^T x, dbias = the column sums of dy. */
export function denseBackwardReference(dy: Values, x: Values, weight: Values, { batch, inFeatures, outFeatures }: DenseDims): DenseGradients {
  const dx = new Float64Array(batch * inFeatures);
  const dweight = new Float64Array(outFeatures * inFeatures);
  const dbias = new Float64Array(outFeatures);
  for (let n = 0; n < batch; n++) {
    for (let i = 0; i < inFeatures; i++) {
      let sum = 0;
      for (let o = 0; o < outFeatures; o++) sum += dy[n * outFeatures + o]! * weight[o * inFeatures + i]!;
      dx[n * inFeatures + i] = sum;
    }
  }
  for (let o = 0; o < outFeatures; o++) {
    for (let i = 0; i < inFeatures; i++) {
      let sum = 0;
      for (let n = 0; n < batch; n++) sum += dy[n * outFeatures + o]! * x[n * inFeatures + i]!;
      dweight[o * inFeatures + i] = sum;
    }
    let sum = 0;
    for (let n = 0; n < batch; n++) sum += dy[n * outFeatures + o]!;
    dbias[o] = sum;
  }
  return { dx, dweight, dbias };
}

export function sigmoidReference(preActivation: Values): Float64Array {
  return Float64Array.from(preActivation, (z) => 1 / (1 + Math.exp(-z)));
}

/** The gradient through a sigmoid from its output: dActivation * a * (1 - a). */
export function sigmoidBackwardReference(activation: Values, dActivation: Values): Float64Array {
  return Float64Array.from(activation, (a, i) => dActivation[i]! * a * (1 - a));
}

export interface SoftmaxCrossEntropy {
  /** Per row: logsumexp(logits) - logits[label]. */
  readonly rowLoss: Float64Array;
  /** The gradient of the batch's mean loss: (softmax - onehot) / batch. */
  readonly dlogits: Float64Array;
}

export function softmaxCrossEntropyReference(logits: Values, labels: Values, batch: number, classes: number): SoftmaxCrossEntropy {
  const rowLoss = new Float64Array(batch);
  const dlogits = new Float64Array(batch * classes);
  for (let n = 0; n < batch; n++) {
    const row = n * classes;
    let largest = -Infinity;
    for (let j = 0; j < classes; j++) largest = Math.max(largest, logits[row + j]!);
    let sum = 0;
    for (let j = 0; j < classes; j++) sum += Math.exp(logits[row + j]! - largest);
    const logSumExp = largest + Math.log(sum);
    rowLoss[n] = logSumExp - logits[row + labels[n]!]!;
    for (let j = 0; j < classes; j++) dlogits[row + j] = (Math.exp(logits[row + j]! - logSumExp) - (j === labels[n] ? 1 : 0)) / batch;
  }
  return { rowLoss, dlogits };
}

export function sgdReference(parameter: Values, gradient: Values, learningRate: number): Float64Array {
  return Float64Array.from(parameter, (p, i) => p - learningRate * gradient[i]!);
}

/** Column `column` of a row-major [rows, columns] matrix. */
export function columnReference(matrix: Values, rows: number, columns: number, column: number): Float64Array {
  return Float64Array.from({ length: rows }, (_, n) => matrix[n * columns + column]!);
}

/** Every parameter and running statistic of one network, in float64. */
export interface ReferenceNetwork {
  readonly weights: Float64Array[];
  readonly biases: Float64Array[];
  /** Per hidden layer, with batch norm; empty without. */
  readonly gamma: Float64Array[];
  readonly beta: Float64Array[];
  readonly runningMean: Float64Array[];
  readonly runningVar: Float64Array[];
}

/** A network's start: the given dense parameters; with batch norm, PyTorch's initial gamma 1, beta 0, mean 0, var 1. */
export function referenceNetwork(weights: readonly Values[], biases: readonly Values[], batchNorm: boolean): ReferenceNetwork {
  const perHidden = (value: number) => (batchNorm ? LAYER_SIZES.slice(1, 1 + HIDDEN_LAYERS).map((size) => new Float64Array(size).fill(value)) : []);
  return {
    weights: weights.map((w) => Float64Array.from(w)),
    biases: biases.map((b) => Float64Array.from(b)),
    gamma: perHidden(1),
    beta: perHidden(0),
    runningMean: perHidden(0),
    runningVar: perHidden(1),
  };
}

interface ForwardTrace {
  /** Per dense layer: its input. */
  readonly inputs: Float64Array[];
  /** Per hidden layer: the dense output (batch norm's input) and the sigmoid's input and output. */
  readonly dense: Float64Array[];
  readonly preActivations: Float64Array[];
  readonly activations: Float64Array[];
  /** Per hidden layer with batch norm: the batch statistics it normalized with. */
  readonly statistics: { mean: Float64Array; invstd: Float64Array }[];
  readonly logits: Float64Array;
}

/** The forward pass; training batch norm uses and updates the batch statistics (updating `network`). */
function forwardReference(network: ReferenceNetwork, images: Values, batch: number, training: boolean): ForwardTrace {
  const batchNorm = network.gamma.length > 0;
  const trace: ForwardTrace = { inputs: [], dense: [], preActivations: [], activations: [], statistics: [], logits: new Float64Array() };
  let input: Values = images;
  for (let k = 0; k < HIDDEN_LAYERS; k++) {
    const dims = { batch, inFeatures: LAYER_SIZES[k]!, outFeatures: LAYER_SIZES[k + 1]! };
    trace.inputs.push(Float64Array.from(input));
    const dense = denseForwardReference(input, network.weights[k]!, network.biases[k]!, dims);
    let preActivation = dense;
    if (batchNorm) {
      const normalized = batchNormReference(dense, [batch, dims.outFeatures], {
        training,
        weight: network.gamma[k]!,
        bias: network.beta[k]!,
        runningMean: network.runningMean[k]!,
        runningVar: network.runningVar[k]!,
        momentum: BATCH_NORM_MOMENTUM,
        eps: BATCH_NORM_EPS,
      });
      if (normalized.runningMean && normalized.runningVar) {
        network.runningMean[k] = normalized.runningMean;
        network.runningVar[k] = normalized.runningVar;
      }
      trace.statistics.push({ mean: normalized.saveMean, invstd: normalized.saveInvstd });
      preActivation = normalized.y;
    }
    trace.dense.push(dense);
    trace.preActivations.push(preActivation);
    const activation = sigmoidReference(preActivation);
    trace.activations.push(activation);
    input = activation;
  }
  trace.inputs.push(Float64Array.from(input));
  const last = HIDDEN_LAYERS;
  return {
    ...trace,
    logits: denseForwardReference(input, network.weights[last]!, network.biases[last]!, { batch, inFeatures: LAYER_SIZES[last]!, outFeatures: LAYER_SIZES[last + 1]! }),
  };
}

export interface StepReference {
  /** The batch's mean loss, before the step. */
  readonly loss: number;
  /** The watched unit's sigmoid input (last hidden layer), per image of the batch. */
  readonly watched: Float64Array;
}

/** One SGD step on a batch, in place on `network` (parameters and running statistics). */
export function trainingStepReference(network: ReferenceNetwork, images: Values, labels: Values, batch: number, learningRate: number): StepReference {
  const trace = forwardReference(network, images, batch, true);
  const { rowLoss, dlogits } = softmaxCrossEntropyReference(trace.logits, labels, batch, CLASSES);
  const updates: [Float64Array, Float64Array][] = [];
  let gradient: Float64Array = dlogits;
  for (let k = HIDDEN_LAYERS; k >= 0; k--) {
    const dims = { batch, inFeatures: LAYER_SIZES[k]!, outFeatures: LAYER_SIZES[k + 1]! };
    const { dx, dweight, dbias } = denseBackwardReference(gradient, trace.inputs[k]!, network.weights[k]!, dims);
    updates.push([network.weights[k]!, dweight]);
    // Before a batch norm the bias stays 0 (the mean subtraction cancels it), as the GPU network leaves it.
    if (!(network.gamma.length > 0 && k < HIDDEN_LAYERS)) updates.push([network.biases[k]!, dbias]);
    if (k === 0) break;
    const hidden = k - 1;
    gradient = sigmoidBackwardReference(trace.activations[hidden]!, dx);
    if (network.gamma.length > 0) {
      const statistics = trace.statistics[hidden]!;
      const grads = batchNormBackwardReference(gradient, trace.dense[hidden]!, [batch, dims.inFeatures], {
        training: true,
        weight: network.gamma[hidden]!,
        saveMean: statistics.mean,
        saveInvstd: statistics.invstd,
      });
      updates.push([network.gamma[hidden]!, grads.dweight!], [network.beta[hidden]!, grads.dbias!]);
      gradient = grads.dx;
    }
  }
  // Every gradient is taken before any parameter moves, as the GPU step updates them last.
  for (const [parameter, grad] of updates) parameter.set(sgdReference(parameter, grad, learningRate));
  return {
    loss: rowLoss.reduce((a, b) => a + b, 0) / batch,
    watched: columnReference(trace.preActivations[HIDDEN_LAYERS - 1]!, batch, LAYER_SIZES[HIDDEN_LAYERS]!, WATCHED_UNIT),
  };
}

/** The logits of the forward pass in evaluation mode (batch norm with its running statistics). */
export function evaluationReference(network: ReferenceNetwork, images: Values, batch: number): Float64Array {
  return forwardReference(network, images, batch, false).logits;
}
