// Batch-norm backward (PyTorch's native_batch_norm_backward): validates, plans and encodes the three
// passes reduce -> finalize -> apply in one submit, over the forward's windows when x is larger than
// one storage binding. Traffic per element in f32: training reads x and dy twice and writes dx
// (20 bytes); inference with a weight reads x and dy once for dweight, then dy again and writes dx
// (16 bytes); inference without a weight skips the reduction (8 bytes).
import { DEFAULT_EPS } from './batch-norm.js';
import { dispatch, planOperation, submitPass, tensorWindow } from './encode.js';
import type { Gpu } from './gpu.js';
import { FLAG_HAS_WEIGHT, FLAG_TRAINING, packParams, paramsSlot, windowParams } from './params.js';
import { bindBuffers, getKernel } from './pipelines.js';
import { scratchFor } from './scratch.js';
import { channelLayout } from './shape.js';
import { outputTensors, recordOperation, type Tensor } from './tensor.js';
import { assertEps, assertPerChannel, assertSameShapeAndDType, assertTimestampWrites, assertUsableTensor } from './validate.js';

/** Backward of a training forward: the batch statistics that forward saved. */
export interface BatchNormBackwardTraining {
  weight?: Tensor | null;
  saveMean: Tensor;
  saveInvstd: Tensor;
  training: true;
}

/** Backward of an inference forward: the running statistics and eps it normalized with. */
export interface BatchNormBackwardInference {
  weight?: Tensor | null;
  runningMean: Tensor;
  runningVar: Tensor;
  eps?: number;
  training: false;
}

/** Options of both modes. */
export interface BatchNormBackwardCommon {
  /** Tensors to write instead of allocating new ones (dweight/dbias only with a weight). */
  out?: { dx?: Tensor; dweight?: Tensor; dbias?: Tensor };
  /** Timestamps around the operation's compute pass (needs 'timestamp-query'). */
  timestampWrites?: GPUComputePassTimestampWrites;
}

export type BatchNormBackwardOptions = (BatchNormBackwardTraining | BatchNormBackwardInference) & BatchNormBackwardCommon;

export interface BatchNormBackwardResult {
  dx: Tensor;
  /** sum(dy * xhat) per channel; null without a weight. */
  dweight: Tensor | null;
  /** sum(dy) per channel; null without a weight. */
  dbias: Tensor | null;
}

// Mirrors struct Partial in shaders/backward-reduce.wgsl: count, sum(dy), sum(dy*(x - mean)).
const PARTIAL_BYTES = 12;
const COEFFICIENT_BYTES = 16;

export function batchNormBackward(gpu: Gpu, dy: Tensor, x: Tensor, p: BatchNormBackwardOptions): BatchNormBackwardResult {
  gpu.assertAlive();
  if (p === null || typeof p !== 'object' || typeof p.training !== 'boolean') {
    throw new TypeError('batchNormBackward options must say training: true or false');
  }
  assertUsableTensor(gpu, x, 'x');
  const layout = channelLayout(x.shape);
  const { channels } = layout;
  assertSameShapeAndDType(dy, 'dy', x, 'x'); // before assertUsableTensor, so an f16 dy is named as a mismatch
  assertUsableTensor(gpu, dy, 'dy');
  const { training } = p;
  const weight = p.weight ?? null;
  if (weight) assertPerChannel(gpu, weight, 'weight', channels, x.shape);
  // mean/spread are what the kernels read: saveMean/saveInvstd in training, runningMean/runningVar in inference.
  let mean: Tensor;
  let spread: Tensor;
  let eps = 0;
  if (p.training) {
    mean = required(p.saveMean, 'saveMean', 'training: true', 'the saveMean of the training forward');
    spread = required(p.saveInvstd, 'saveInvstd', 'training: true', 'the saveInvstd of the training forward');
    assertPerChannel(gpu, mean, 'saveMean', channels, x.shape);
    assertPerChannel(gpu, spread, 'saveInvstd', channels, x.shape);
  } else {
    mean = required(p.runningMean, 'runningMean', 'training: false', 'the running statistics of the inference forward');
    spread = required(p.runningVar, 'runningVar', 'training: false', 'the running statistics of the inference forward');
    assertPerChannel(gpu, mean, 'runningMean', channels, x.shape);
    assertPerChannel(gpu, spread, 'runningVar', channels, x.shape);
    eps = p.eps ?? DEFAULT_EPS;
    assertEps(eps);
  }

  const out = p.out ?? {};
  if (!weight && (out.dweight || out.dbias)) throw new Error('out.dweight and out.dbias are written only with a weight');
  assertTimestampWrites(gpu, p.timestampWrites);
  const inputs = [
    { name: 'dy', tensor: dy },
    { name: 'x', tensor: x },
    { name: 'weight', tensor: weight },
    { name: p.training ? 'saveMean' : 'runningMean', tensor: mean },
    { name: p.training ? 'saveInvstd' : 'runningVar', tensor: spread },
  ];

  // The same windows, element type and slicing as the forward statistics; dy and dx share x's windows.
  const plan = planOperation(gpu, layout);
  // Inference needs the sums only for dweight and dbias.
  const reduce = training || weight !== null;
  const flags = (training ? FLAG_TRAINING : 0) | (weight ? FLAG_HAS_WEIGHT : 0);
  const params = packParams(windowParams(plan, layout, { flags, eps, momentum: 0 }));

  const scratch = scratchFor(gpu);
  const paramsBuffer = scratch.uniform('backward params', params.byteLength);
  const partials = reduce
    ? scratch.storage('backward partials', channels * plan.partialStride * PARTIAL_BYTES)
    : scratch.placeholder('partials');
  const coefficients = scratch.storage('backward coefficients', channels * COEFFICIENT_BYTES);

  const [dx, dweight = null, dbias = null] = outputTensors(gpu, inputs, [
    { name: 'out.dx', provided: out.dx, shape: x.shape, label: 'batchNormBackward dx' },
    ...(weight
      ? [
          { name: 'out.dweight', provided: out.dweight, shape: [channels], label: 'batchNormBackward dweight' },
          { name: 'out.dbias', provided: out.dbias, shape: [channels], label: 'batchNormBackward dbias' },
        ]
      : []),
  ]) as [Tensor, Tensor?, Tensor?];

  const submission = { label: 'batchNorm backward', paramsBuffer, params, timestampWrites: p.timestampWrites };
  const error = submitPass(gpu, submission, (pass) => {
    if (reduce) {
      const kernel = getKernel(gpu, { kernel: 'backward-reduce', vec4: plan.vec4, subgroups: gpu.features.subgroups });
      plan.windows.forEach((w, slot) => {
        const bindings = [paramsSlot(paramsBuffer, slot), tensorWindow(x, w.chunk), tensorWindow(dy, w.chunk), mean.buffer, partials];
        dispatch(pass, kernel, bindBuffers(gpu, kernel, bindings), w.reduceGrid);
      });
    }
    const finalize = getKernel(gpu, { kernel: 'backward-finalize' });
    dispatch(
      pass,
      finalize,
      bindBuffers(gpu, finalize, [
        paramsSlot(paramsBuffer, 0),
        partials,
        weight?.buffer ?? scratch.placeholder('weight'),
        mean.buffer,
        spread.buffer,
        dweight?.buffer ?? scratch.placeholder('dweight'),
        dbias?.buffer ?? scratch.placeholder('dbias'),
        coefficients,
      ]),
      plan.finalizeGrid,
    );
    const apply = getKernel(gpu, { kernel: 'backward-apply', vec4: plan.vec4 });
    plan.windows.forEach((w, slot) => {
      const bindings = [
        paramsSlot(paramsBuffer, slot), tensorWindow(x, w.chunk), tensorWindow(dy, w.chunk), coefficients, tensorWindow(dx, w.chunk),
      ];
      dispatch(pass, apply, bindBuffers(gpu, apply, bindings), w.applyGrid);
    });
  });
  recordOperation([dx, dweight, dbias], [dy, x, weight, mean, spread], error);
  return { dx, dweight, dbias };
}

/** The TypeScript types make these required; this catches plain-JavaScript callers with a clear message. */
function required(t: Tensor | undefined | null, name: string, mode: string, what: string): Tensor {
  if (t === undefined || t === null) throw new TypeError(`batchNormBackward with ${mode} needs ${name} (${what}), got ${String(t)}`);
  return t;
}
