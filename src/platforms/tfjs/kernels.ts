// Batch norm as TensorFlow.js kernels of the webgpu backend, with their gradients: the layer runs them
// through tfjs's engine (so they are on its gradient tape, in tf.tidy and in tf.memory like tfjs's own
// ops), and their kernel functions run this library's passes on tfjs's own buffers, recorded into tfjs's
// command encoder. Nothing is copied but the two [C] moving statistics: the training forward blends the
// batch statistics into new moving-statistics tensors (tfjs tensors are immutable), so it copies the old
// values into them first, in the same encoder, and its finalize pass updates them in place.
//
// Inputs are always x, gamma, beta, movingMean, movingVariance: a layer without scale passes ones for
// gamma and one without center zeros for beta (multiplying by 1 and adding 0 are exact in float32), so
// the gradients can save the inputs by name. Keras's mask makes kernels of their own, whose inputs add
// the mask, since a gradient saves only inputs that every call of its kernel has.
//
// Batch renormalization (Keras 3's renorm) has its own training forward, on this library's renorm ops: its
// inputs add the three renorm weights (moving_stddev, renorm_mean, renorm_stddev) and the settings (the
// renorm momentum and clipping, as struct RenormSettings's values), which are copied into a renorm tensor of
// rows (src/ops/batch-renorm.ts); that tensor is an output, which its gradient saves (the batch
// statistics, r and d), and its rows are copied out into the five new moving weights.
import { engine, registerGradient, registerKernel, getKernel, mul, neg, rsqrt, add, div, zeros, type NamedAttrMap, type Tensor, type TensorInfo } from '@tensorflow/tfjs-core';
import { batchNorm } from '../../ops/batch-norm.js';
import { batchNormBackward } from '../../ops/batch-norm-backward.js';
import { renormForward, renormGammaGradient, renormRows, renormStateShape } from '../../ops/batch-renorm.js';
import type { Tensor as GpuTensor } from '../../runtime/tensor.js';
import { gpuOfBackend, newOutput, recordInto, wrap, type WebGpuBackend } from './webgpu-backend.js';

/** Training forward: outputs y, the batch mean, 1/sqrt(batch variance + epsilon), the new moving mean and moving variance. */
export const TRAINING_FORWARD = 'WebGPUBatchNormTraining';
/** Training forward with Keras's mask (f32, x's shape without the channel axis): the training forward's outputs. */
export const MASKED_TRAINING_FORWARD = 'WebGPUBatchNormTrainingMasked';
/**
 * Training forward with renorm: outputs y, the renorm tensor of rows, and the new moving_mean, moving_variance,
 * moving_stddev, renorm_mean and renorm_stddev.
 */
export const RENORM_TRAINING_FORWARD = 'WebGPUBatchRenormTraining';
/** Training forward with renorm and Keras's mask: the renorm forward's outputs. */
export const MASKED_RENORM_TRAINING_FORWARD = 'WebGPUBatchRenormTrainingMasked';
/** Inference forward (the moving statistics): output y. */
export const INFERENCE_FORWARD = 'WebGPUBatchNormInference';
/** Backward of a forward without renorm (with the masked ones' mask among its inputs): outputs dx, dgamma, dbeta. */
export const BACKWARD = 'WebGPUBatchNormBackward';
/** Backward of a renorm forward, from its renorm tensor (and mask): outputs dx, dgamma, dbeta. */
export const RENORM_BACKWARD = 'WebGPUBatchRenormBackward';

/** The kernels' attributes: the channel axis (non-negative), Keras's epsilon and momentum. */
export interface BatchNormAttrs {
  axis: number;
  epsilon: number;
  /** Keras's convention: moving = momentum*moving + (1 - momentum)*batch. */
  momentum: number;
}

type Inputs = Record<'x' | 'gamma' | 'beta' | 'movingMean' | 'movingVariance', TensorInfo> & { mask?: TensorInfo };
type BackwardInputs = Record<'dy' | 'x' | 'gamma' | 'mean' | 'spread', TensorInfo> & { mask?: TensorInfo };
type RenormInputs = Inputs & Record<'movingStddev' | 'renormMean' | 'renormStddev' | 'settings', TensorInfo>;
type Seven = [TensorInfo, TensorInfo, TensorInfo, TensorInfo, TensorInfo, TensorInfo, TensorInfo];
type RenormBackwardInputs = Record<'dy' | 'x' | 'renorm', TensorInfo> & { mask?: TensorInfo };

function readAttrs(attrs: NamedAttrMap | undefined): BatchNormAttrs {
  const { axis, epsilon, momentum } = (attrs ?? {}) as Partial<BatchNormAttrs>;
  if (typeof axis !== 'number' || typeof epsilon !== 'number' || typeof momentum !== 'number') {
    throw new TypeError('internal: batch norm kernels need numeric axis, epsilon and momentum attributes');
  }
  return { axis, epsilon, momentum };
}

function trainingForward(backend: WebGpuBackend, inputs: Inputs, attrs: BatchNormAttrs): TensorInfo[] {
  const gpu = gpuOfBackend(backend);
  const { x, gamma, beta, movingMean, movingVariance, mask } = inputs;
  const channels = movingMean.shape[0]!;
  const outputs = [newOutput(backend, x.shape), ...Array.from({ length: 4 }, () => newOutput(backend, [channels]))];
  const [y, mean, invstd, newMean, newVariance] = outputs as [TensorInfo, TensorInfo, TensorInfo, TensorInfo, TensorInfo];
  const t = (info: TensorInfo, name: string) => wrap(gpu, backend, info, name);
  recordInto(backend, Object.values(inputs), outputs, (encoder) => {
    const running = { runningMean: t(newMean, 'new moving mean'), runningVar: t(newVariance, 'new moving variance') };
    encoder.copyBufferToBuffer(t(movingMean, 'moving mean').buffer, 0, running.runningMean.buffer, 0, 4 * channels);
    encoder.copyBufferToBuffer(t(movingVariance, 'moving variance').buffer, 0, running.runningVar.buffer, 0, 4 * channels);
    batchNorm(gpu, t(x, 'x'), {
      training: true,
      axis: attrs.axis,
      eps: attrs.epsilon,
      momentum: 1 - attrs.momentum,
      runningVarEstimator: 'biased', // Keras 3 and tfjs-layers blend the biased batch variance
      weight: t(gamma, 'gamma'),
      bias: t(beta, 'beta'),
      ...running,
      mask: mask ? t(mask, 'mask') : null,
      out: { y: t(y, 'y'), saveMean: t(mean, 'batch mean'), saveInvstd: t(invstd, 'batch invstd') },
      encoder,
    });
  });
  return outputs;
}

function inferenceForward(backend: WebGpuBackend, inputs: Inputs, attrs: BatchNormAttrs): TensorInfo {
  const gpu = gpuOfBackend(backend);
  const { x, gamma, beta, movingMean, movingVariance } = inputs;
  const y = newOutput(backend, x.shape);
  const t = (info: TensorInfo, name: string) => wrap(gpu, backend, info, name);
  recordInto(backend, Object.values(inputs), [y], (encoder) => {
    batchNorm(gpu, t(x, 'x'), {
      training: false,
      axis: attrs.axis,
      eps: attrs.epsilon,
      weight: t(gamma, 'gamma'),
      bias: t(beta, 'beta'),
      runningMean: t(movingMean, 'moving mean'),
      runningVar: t(movingVariance, 'moving variance'),
      out: { y: t(y, 'y') },
      encoder,
    });
  });
  return y;
}

/** Inputs: dy, x, gamma, and mean and spread: the batch mean and invstd (training) or the moving mean and variance (inference). */
function backward(backend: WebGpuBackend, inputs: BackwardInputs, attrs: BatchNormAttrs & { training: boolean }): TensorInfo[] {
  const gpu = gpuOfBackend(backend);
  const { dy, x, gamma, mean, spread, mask } = inputs;
  const channels = gamma.shape[0]!;
  const outputs = [newOutput(backend, x.shape), newOutput(backend, [channels]), newOutput(backend, [channels])];
  const [dx, dgamma, dbeta] = outputs as [TensorInfo, TensorInfo, TensorInfo];
  const t = (info: TensorInfo, name: string) => wrap(gpu, backend, info, name);
  recordInto(backend, Object.values(inputs), outputs, (encoder) => {
    const statistics = attrs.training
      ? { training: true as const, saveMean: t(mean, 'batch mean'), saveInvstd: t(spread, 'batch invstd'), eps: attrs.epsilon }
      : { training: false as const, runningMean: t(mean, 'moving mean'), runningVar: t(spread, 'moving variance'), eps: attrs.epsilon };
    batchNormBackward(gpu, t(dy, 'dy'), t(x, 'x'), {
      ...statistics,
      axis: attrs.axis,
      weight: t(gamma, 'gamma'),
      mask: mask ? t(mask, 'mask') : null,
      out: { dx: t(dx, 'dx'), dweight: t(dgamma, 'dgamma'), dbias: t(dbeta, 'dbeta') },
      encoder,
    });
  });
  return outputs;
}

function renormTrainingForward(backend: WebGpuBackend, inputs: RenormInputs, attrs: BatchNormAttrs): TensorInfo[] {
  const gpu = gpuOfBackend(backend);
  const { x, gamma, beta, movingMean, movingVariance, movingStddev, renormMean, renormStddev, settings, mask } = inputs;
  const channels = movingMean.shape[0]!;
  const outputs = [newOutput(backend, x.shape), newOutput(backend, renormStateShape(channels)), ...Array.from({ length: 5 }, () => newOutput(backend, [channels]))];
  const [y, all, newMean, newVariance, newStddev, newRenormMean, newRenormStddev] = outputs as Seven;
  const t = (info: TensorInfo, name: string) => wrap(gpu, backend, info, name);
  recordInto(backend, Object.values(inputs), outputs, (encoder) => {
    const copy = (from: GpuTensor, to: GpuTensor) => encoder.copyBufferToBuffer(from.buffer, from.byteOffset, to.buffer, to.byteOffset, 4 * channels);
    const state = t(all, 'renorm rows');
    const rows = renormRows(gpu, state, channels);
    const running = { runningMean: t(newMean, 'new moving mean'), runningVar: t(newVariance, 'new moving variance') };
    copy(t(movingMean, 'moving mean'), running.runningMean);
    copy(t(movingVariance, 'moving variance'), running.runningVar);
    copy(t(movingStddev, 'moving stddev'), rows.runningStddev);
    copy(t(renormMean, 'renorm mean'), rows.renormMean);
    copy(t(renormStddev, 'renorm stddev'), rows.renormStddev);
    renormForward(gpu, t(x, 'x'), {
      state: { all: state, rows, settings: t(settings, 'renorm settings') },
      weight: t(gamma, 'gamma'),
      bias: t(beta, 'beta'),
      ...running,
      momentum: 1 - attrs.momentum,
      eps: attrs.epsilon,
      axis: attrs.axis,
      activation: null,
      residual: null,
      mask: mask ? t(mask, 'mask') : null,
      y: t(y, 'y'),
      encoder,
    });
    copy(rows.runningStddev, t(newStddev, 'new moving stddev'));
    copy(rows.renormMean, t(newRenormMean, 'new renorm mean'));
    copy(rows.renormStddev, t(newRenormStddev, 'new renorm stddev'));
  });
  return outputs;
}

/** batchNormBackward with the renormalized weight r*gamma, then dgamma = r*dweight + d*dbias (the rows of the forward's renorm tensor). */
function renormBackward(backend: WebGpuBackend, inputs: RenormBackwardInputs, attrs: BatchNormAttrs): TensorInfo[] {
  const gpu = gpuOfBackend(backend);
  const { dy, x, renorm, mask } = inputs;
  const channels = x.shape[attrs.axis]!;
  const outputs = [newOutput(backend, x.shape), newOutput(backend, [channels]), newOutput(backend, [channels])];
  const [dx, dgamma, dbeta] = outputs as [TensorInfo, TensorInfo, TensorInfo];
  const t = (info: TensorInfo, name: string) => wrap(gpu, backend, info, name);
  recordInto(backend, Object.values(inputs), outputs, (encoder) => {
    const rows = renormRows(gpu, t(renorm, 'renorm rows'), channels);
    const grads = batchNormBackward(gpu, t(dy, 'dy'), t(x, 'x'), {
      training: true,
      saveMean: rows.saveMean,
      saveInvstd: rows.saveInvstd,
      eps: attrs.epsilon,
      axis: attrs.axis,
      weight: rows.weight,
      mask: mask ? t(mask, 'mask') : null,
      out: { dx: t(dx, 'dx'), dweight: t(dgamma, 'dgamma'), dbias: t(dbeta, 'dbeta') },
      encoder,
    });
    renormGammaGradient(gpu, { rows }, grads.dweight!, grads.dbias!, encoder);
  });
  return outputs;
}

/** Runs a kernel through tfjs's engine (tape, tidy and memory accounting included). */
export function runKernel(name: string, inputs: Record<string, Tensor>, attrs: BatchNormAttrs & { training?: boolean }): Tensor | Tensor[] {
  return engine().runKernel(name, inputs, attrs as unknown as NamedAttrMap) as Tensor | Tensor[];
}

const asBackend = (backend: object) => backend as WebGpuBackend; // the layer registers these only for backends asWebGpuBackend accepted

/** Registers the kernels for a webgpu backend's name (once per name). */
export function registerKernelsFor(backendName: string): void {
  if (getKernel(TRAINING_FORWARD, backendName)) return;
  const kernels: [string, (backend: WebGpuBackend, inputs: never, attrs: NamedAttrMap | undefined) => TensorInfo | TensorInfo[]][] = [
    [TRAINING_FORWARD, (backend, inputs: Inputs, attrs) => trainingForward(backend, inputs, readAttrs(attrs))],
    [MASKED_TRAINING_FORWARD, (backend, inputs: Inputs, attrs) => trainingForward(backend, inputs, readAttrs(attrs))],
    [RENORM_TRAINING_FORWARD, (backend, inputs: RenormInputs, attrs) => renormTrainingForward(backend, inputs, readAttrs(attrs))],
    [MASKED_RENORM_TRAINING_FORWARD, (backend, inputs: RenormInputs, attrs) => renormTrainingForward(backend, inputs, readAttrs(attrs))],
    [INFERENCE_FORWARD, (backend, inputs: Inputs, attrs) => inferenceForward(backend, inputs, readAttrs(attrs))],
    [
      BACKWARD,
      (backend, inputs: BackwardInputs, attrs) =>
        backward(backend, inputs, { ...readAttrs(attrs), training: (attrs as { training?: unknown } | undefined)?.training === true }),
    ],
    [RENORM_BACKWARD, (backend, inputs: RenormBackwardInputs, attrs) => renormBackward(backend, inputs, readAttrs(attrs))],
  ];
  for (const [kernelName, run] of kernels) {
    registerKernel({ kernelName, backendName, kernelFunc: ({ inputs, backend, attrs }) => run(asBackend(backend), inputs as never, attrs) });
  }
}

// The statistics and new moving statistics that the training forwards output feed only the moving
// averages, which Keras keeps out of the gradient: their incoming gradients are not propagated, and
// the moving statistics (inputs only to be blended) get zero gradients, as do the mask and the renorm
// settings, constants of the step. With a mask the backward gives the positions it left out only the
// direct term.
const none = (t: Tensor) => () => zeros(t.shape);
for (const [kernelName, masked] of [[TRAINING_FORWARD, false], [MASKED_TRAINING_FORWARD, true]] as const) {
  registerGradient({
    kernelName,
    inputsToSave: masked ? ['x', 'gamma', 'mask'] : ['x', 'gamma'],
    outputsToSave: [false, true, true, false, false],
    gradFunc: (dys, saved, attrs) => {
      const dy = (dys as Tensor[])[0]!;
      const [x, gamma, ...rest] = saved as Tensor[];
      const [mask, mean, invstd] = (masked ? rest : [undefined, ...rest]) as [Tensor | undefined, Tensor, Tensor];
      const [dx, dgamma, dbeta] = runKernel(BACKWARD, { dy, x: x!, gamma: gamma!, mean, spread: invstd, ...(mask ? { mask } : {}) }, { ...readAttrs(attrs), training: true }) as Tensor[];
      return { x: () => dx!, gamma: () => dgamma!, beta: () => dbeta!, movingMean: none(mean), movingVariance: none(mean), ...(mask ? { mask: none(mask) } : {}) };
    },
  });
}
// Renorm: r and d are constants of the gradient (Keras's stop_gradient); dx is batch norm's backward with
// weight r*gamma, dgamma = sum(dy*(r*xhat + d)), dbeta = sum(dy).
for (const [kernelName, masked] of [[RENORM_TRAINING_FORWARD, false], [MASKED_RENORM_TRAINING_FORWARD, true]] as const) {
  registerGradient({
    kernelName,
    inputsToSave: masked ? ['x', 'settings', 'mask'] : ['x', 'settings'],
    outputsToSave: [false, true, false, false, false, false, false],
    gradFunc: (dys, saved, attrs) => {
      const dy = (dys as Tensor[])[0]!;
      const [x, settings, ...rest] = saved as Tensor[];
      const [mask, renorm] = (masked ? rest : [undefined, ...rest]) as [Tensor | undefined, Tensor];
      const [dx, dgamma, dbeta] = runKernel(RENORM_BACKWARD, { dy, x: x!, renorm, ...(mask ? { mask } : {}) }, readAttrs(attrs)) as Tensor[];
      const zero = none(dbeta!);
      return {
        x: () => dx!,
        gamma: () => dgamma!,
        beta: () => dbeta!,
        movingMean: zero,
        movingVariance: zero,
        movingStddev: zero,
        renormMean: zero,
        renormStddev: zero,
        settings: none(settings!),
        ...(mask ? { mask: none(mask) } : {}),
      };
    },
  });
}

// Inference: y = gamma*(x - mean)/sqrt(variance + epsilon) + beta, differentiable in all five inputs, as
// tfjs's batchNorm is. dgamma = sum(dy*xhat) and dbeta = sum(dy) give the moving statistics' gradients:
// dmean = -gamma/sqrt(variance + epsilon)*dbeta and dvariance = -gamma/2*dgamma/(variance + epsilon).
registerGradient({
  kernelName: INFERENCE_FORWARD,
  inputsToSave: ['x', 'gamma', 'movingMean', 'movingVariance'],
  gradFunc: (dy, saved, attrs) => {
    const [x, gamma, movingMean, movingVariance] = saved as [Tensor, Tensor, Tensor, Tensor];
    const a = readAttrs(attrs);
    const [dx, dgamma, dbeta] = runKernel(BACKWARD, { dy: dy as Tensor, x, gamma, mean: movingMean, spread: movingVariance }, { ...a, training: false }) as Tensor[];
    return {
      x: () => dx!,
      gamma: () => dgamma!,
      beta: () => dbeta!,
      movingMean: () => neg(mul(mul(gamma, rsqrt(add(movingVariance, a.epsilon))), dbeta!)),
      movingVariance: () => mul(mul(gamma, -0.5), div(dgamma!, add(movingVariance, a.epsilon))),
    };
  },
});
