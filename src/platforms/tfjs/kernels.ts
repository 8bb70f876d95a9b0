// Batch norm as TensorFlow.js kernels of the webgpu backend, with their gradients: the layer runs them
// through tfjs's engine (so they are on its gradient tape, in tf.tidy and in tf.memory like tfjs's own
// ops), and their kernel functions run this library's passes on tfjs's own buffers, recorded into tfjs's
// command encoder. Nothing is copied but the two [C] moving statistics: the training forward blends the
// batch statistics into new moving-statistics tensors (tfjs tensors are immutable), so it copies the old
// values into them first, in the same encoder, and its finalize pass updates them in place.
//
// Inputs are always x, gamma, beta, movingMean, movingVariance: a layer without scale passes ones for
// gamma and one without center zeros for beta (multiplying by 1 and adding 0 are exact in float32), so
// the gradients can save the inputs by name.
import { engine, registerGradient, registerKernel, getKernel, mul, neg, rsqrt, add, div, zeros, type NamedAttrMap, type Tensor, type TensorInfo } from '@tensorflow/tfjs-core';
import { batchNorm } from '../../ops/batch-norm.js';
import { batchNormBackward } from '../../ops/batch-norm-backward.js';
import { gpuOfBackend, newOutput, recordInto, wrap, type WebGpuBackend } from './webgpu-backend.js';

/** Training forward: outputs y, the batch mean, 1/sqrt(batch variance + epsilon), the new moving mean and moving variance. */
export const TRAINING_FORWARD = 'WebGPUBatchNormTraining';
/** Inference forward (the moving statistics): output y. */
export const INFERENCE_FORWARD = 'WebGPUBatchNormInference';
/** Backward of either forward: outputs dx, dgamma, dbeta. */
export const BACKWARD = 'WebGPUBatchNormBackward';

/** The kernels' attributes: the channel axis (non-negative), Keras's epsilon and momentum. */
export interface BatchNormAttrs {
  axis: number;
  epsilon: number;
  /** Keras's convention: moving = momentum*moving + (1 - momentum)*batch. */
  momentum: number;
}

type Inputs = Record<'x' | 'gamma' | 'beta' | 'movingMean' | 'movingVariance', TensorInfo>;

function readAttrs(attrs: NamedAttrMap | undefined): BatchNormAttrs {
  const { axis, epsilon, momentum } = (attrs ?? {}) as Partial<BatchNormAttrs>;
  if (typeof axis !== 'number' || typeof epsilon !== 'number' || typeof momentum !== 'number') {
    throw new TypeError('internal: batch norm kernels need numeric axis, epsilon and momentum attributes');
  }
  return { axis, epsilon, momentum };
}

function trainingForward(backend: WebGpuBackend, inputs: Inputs, attrs: BatchNormAttrs): TensorInfo[] {
  const gpu = gpuOfBackend(backend);
  const { x, gamma, beta, movingMean, movingVariance } = inputs;
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
function backward(backend: WebGpuBackend, inputs: Record<'dy' | 'x' | 'gamma' | 'mean' | 'spread', TensorInfo>, attrs: BatchNormAttrs & { training: boolean }): TensorInfo[] {
  const gpu = gpuOfBackend(backend);
  const { dy, x, gamma, mean, spread } = inputs;
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
      out: { dx: t(dx, 'dx'), dweight: t(dgamma, 'dgamma'), dbias: t(dbeta, 'dbeta') },
      encoder,
    });
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
  registerKernel({
    kernelName: TRAINING_FORWARD,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => trainingForward(asBackend(backend), inputs as Inputs, readAttrs(attrs)),
  });
  registerKernel({
    kernelName: INFERENCE_FORWARD,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => inferenceForward(asBackend(backend), inputs as Inputs, readAttrs(attrs)),
  });
  registerKernel({
    kernelName: BACKWARD,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) =>
      backward(asBackend(backend), inputs as Record<'dy' | 'x' | 'gamma' | 'mean' | 'spread', TensorInfo>, {
        ...readAttrs(attrs),
        training: (attrs as { training?: unknown } | undefined)?.training === true,
      }),
  });
}

// The statistics and new moving statistics that the training forward outputs feed only the moving
// averages, which Keras keeps out of the gradient: their incoming gradients are not propagated, and
// the moving statistics (inputs only to be blended) get zero gradients.
registerGradient({
  kernelName: TRAINING_FORWARD,
  inputsToSave: ['x', 'gamma'],
  outputsToSave: [false, true, true, false, false],
  gradFunc: (dys, saved, attrs) => {
    const dy = (dys as Tensor[])[0]!;
    const [x, gamma, mean, invstd] = saved as [Tensor, Tensor, Tensor, Tensor];
    const [dx, dgamma, dbeta] = runKernel(BACKWARD, { dy, x, gamma, mean, spread: invstd }, { ...readAttrs(attrs), training: true }) as Tensor[];
    const none = () => zeros(mean.shape);
    return { x: () => dx!, gamma: () => dgamma!, beta: () => dbeta!, movingMean: none, movingVariance: none };
  },
});

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
