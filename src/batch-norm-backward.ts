// Batch-norm backward (PyTorch's native_batch_norm_backward) as a list of passes for the runner:
// reduce -> finalize -> apply, over the forward's windows when x is larger than one storage binding, or
// all three in one dispatch where a workgroup reaches a whole channel (PassPlan.singlePass).
// Traffic per element in f32: training reads x and dy twice and writes dx (20 bytes); inference with a
// weight reads x and dy once for dweight, then dy again and writes dx (16 bytes); inference without a
// weight skips the reduction (8 bytes).
import { DEFAULT_EPS } from './defaults.js';
import { storageFor } from './element-storage.js';
import { assertGpu, type Gpu } from './gpu.js';
import { describeValue, readOptions } from './options.js';
import { fitsDevice } from './kernels.js';
import { FLAGS } from './params.js';
import { outputRole, pass, params, runOperation, scratch, whole, windowOf, type EncoderOptions } from './runner.js';
import { channelLayout } from './shape.js';
import type { Tensor } from './tensor.js';
import { assertActivation, assertBoolean, assertEps, assertPerChannel, assertSameShapeAndDType, assertUsableTensor, optionalPerChannel, type Activation } from './validate.js';

/**
 * Backward of a training forward: the batch statistics that forward saved. The gradient flows through
 * them too (dx has the terms of the batch mean and variance), as autograd of F.batch_norm in training.
 */
export interface BatchNormBackwardTraining {
  /** The forward's weight, f32 [C]; default none (scale 1, and no dweight or dbias). */
  weight?: Tensor | null;
  /** The forward's `saveMean` (its batch mean), f32 [C]. */
  saveMean: Tensor;
  /** The forward's `saveInvstd` (1/sqrt(biased batch variance + eps)), f32 [C]. */
  saveInvstd: Tensor;
  /** Differentiates a training forward. */
  training: true;
}

/**
 * Backward of an inference forward: the running statistics and eps it normalized with, which are
 * constants here (dx = dy * weight / sqrt(runningVar + eps)).
 */
export interface BatchNormBackwardInference {
  /** The forward's weight, f32 [C]; default none (scale 1, and no dweight or dbias). */
  weight?: Tensor | null;
  /** The running mean the forward normalized with, f32 [C]. */
  runningMean: Tensor;
  /** The running variance the forward normalized with, f32 [C]. */
  runningVar: Tensor;
  /** The forward's eps; default {@link DEFAULT_EPS}. */
  eps?: number;
  /** Differentiates an inference forward. */
  training: false;
}

/** Options of both modes. */
export interface BatchNormBackwardCommon extends EncoderOptions {
  /** Tensors of yours to write instead of allocating new ones; each is returned in the result. */
  out?: {
    /** Written with the gradient of x: x's shape and dtype. */
    dx?: Tensor;
    /** With a weight only: written with dweight, f32 [C]. */
    dweight?: Tensor;
    /** With a weight only: written with dbias, f32 [C]. */
    dbias?: Tensor;
  };
  /** The forward's channel axis; default 1. */
  axis?: number;
  /**
   * The forward's fused activation: with 'relu', dy is masked where the forward's y was clipped. The mask
   * is recomputed from x and the statistics (x is read anyway), so the forward's bias is needed too.
   */
  activation?: Activation | null;
  /** With activation 'relu': the forward's bias, f32 [C] (none if the forward had none); refused otherwise. */
  bias?: Tensor | null;
}

/** Options of {@link batchNormBackward}: one mode's statistics, and what both modes take. */
export type BatchNormBackwardOptions = (BatchNormBackwardTraining | BatchNormBackwardInference) & BatchNormBackwardCommon;

/**
 * What {@link batchNormBackward} returns. Each tensor is yours: a new one (destroy() it when done), or the
 * `out` tensor you passed.
 */
export interface BatchNormBackwardResult {
  /** The gradient of the loss with respect to x: x's shape and dtype. */
  dx: Tensor;
  /** The gradient of the weight, sum(dy * xhat) per channel, f32 [C]; null without a weight. */
  dweight: Tensor | null;
  /** The gradient of the bias, sum(dy) per channel, f32 [C]; null without a weight. */
  dbias: Tensor | null;
}

/** The gradients with a weight: dweight and dbias are there. */
export interface BatchNormBackwardWeightedResult extends BatchNormBackwardResult {
  dweight: Tensor;
  dbias: Tensor;
}

const COMMON_KEYS = ['weight', 'training', 'out', 'timestampWrites', 'encoder', 'axis', 'activation', 'bias'] as const;
/** @internal The keys of each mode's options (test/unit/options-types.test.ts checks them against the types). */
export const TRAINING_KEYS = [...COMMON_KEYS, 'saveMean', 'saveInvstd'] as const;
/** @internal */
export const INFERENCE_KEYS = [...COMMON_KEYS, 'runningMean', 'runningVar', 'eps'] as const;
/** @internal */
export const OUT_KEYS = ['dx', 'dweight', 'dbias'] as const;

// Mirrors struct Partial in shaders/backward-reduce.wgsl (the compensated sum(dy) and sum(dy*(x - mean))
// in a vec4, and the count: 32 bytes with WGSL's alignment) and struct Coefficients in
// backward-finalize.wgsl (a vec4 and a vec2: 32 bytes).
const PARTIAL_BYTES = 32;
const COEFFICIENT_BYTES = 32;

/**
 * Batch norm backward, as PyTorch's native_batch_norm_backward: the gradients of a forward's inputs
 * from dy, the gradient of its output. With a weight, dweight and dbias are computed (and typed as
 * present). f32 or f16 dy and x; the sums accumulate in f32.
 *
 * Ownership: the returned tensors are yours (destroy() them when done), unless they are the `out`
 * tensors you passed.
 *
 * @param gpu - The Gpu that every tensor lives on.
 * @param dy - The gradient of the loss with respect to the forward's y: x's shape and dtype.
 * @param x - The forward's input.
 * @throws TypeError or RangeError, before anything is allocated or recorded, for a bad argument (the
 * message names it).
 */
export function batchNormBackward(gpu: Gpu, dy: Tensor, x: Tensor, options: BatchNormBackwardOptions & { weight: Tensor }): BatchNormBackwardWeightedResult;
export function batchNormBackward(gpu: Gpu, dy: Tensor, x: Tensor, options: BatchNormBackwardOptions): BatchNormBackwardResult;
export function batchNormBackward(gpu: Gpu, dy: Tensor, x: Tensor, options: BatchNormBackwardOptions): BatchNormBackwardResult {
  assertGpu(gpu);
  gpu.assertAlive();
  const training = readOptions(options, 'batchNormBackward options', [...TRAINING_KEYS, ...INFERENCE_KEYS], false).training;
  assertBoolean(training, 'batchNormBackward options.training');
  const o = readOptions(options, `batchNormBackward options (training: ${training})`, training ? TRAINING_KEYS : INFERENCE_KEYS, false);
  assertUsableTensor(gpu, x, 'x');
  const layout = channelLayout(x.shape, (o.axis ?? 1) as number);
  const { channels } = layout;
  assertSameShapeAndDType(dy, 'dy', x, 'x'); // before assertUsableTensor, so an f16 dy is named as a mismatch
  assertUsableTensor(gpu, dy, 'dy');
  const weight = optionalPerChannel(gpu, o.weight, 'weight', channels, x.shape);
  // mean/spread are what the kernels read: saveMean/saveInvstd in training, runningMean/runningVar in inference.
  const [meanName, spreadName] = training ? (['saveMean', 'saveInvstd'] as const) : (['runningMean', 'runningVar'] as const);
  const statistics = training ? 'the saveMean and saveInvstd of the training forward' : 'the running statistics of the inference forward';
  const mean = o[meanName];
  const spread = o[spreadName];
  for (const [name, t] of [[meanName, mean], [spreadName, spread]] as const) {
    if (t === undefined || t === null) throw new TypeError(`batchNormBackward with training: ${training} needs ${name} (${statistics}), got ${describeValue(t)}`);
    assertPerChannel(gpu, t, name, channels, x.shape);
  }
  const eps = training ? 0 : (o.eps ?? DEFAULT_EPS);
  assertEps(eps);
  const activation = o.activation ?? null;
  assertActivation(activation);
  const bias = optionalPerChannel(gpu, o.bias, 'bias', channels, x.shape);
  if (bias && activation !== 'relu') throw new Error("bias is read only with activation: 'relu' (to recompute the forward's ReLU mask)");
  const out = readOptions(o.out, 'batchNormBackward options.out', OUT_KEYS);
  if (!weight && (out.dweight || out.dbias)) throw new Error('out.dweight and out.dbias are written only with a weight');

  // Inference needs the sums only for dweight and dbias.
  const reduce = training || weight !== null;
  const storage = storageFor(x.dtype, gpu.features);
  const flags =
    (training ? FLAGS.TRAINING : 0) | (weight ? FLAGS.HAS_WEIGHT : 0) | (bias ? FLAGS.HAS_BIAS : 0) | (activation === 'relu' ? FLAGS.RELU : 0);
  const gradient = (name: 'dweight' | 'dbias') =>
    outputRole(`out.${name}`, out[name], weight ? { shape: [channels], dtype: 'f32', label: `batchNormBackward ${name}` } : null);
  const tensors = runOperation(gpu, {
    label: 'batchNorm backward',
    layout,
    encoder: o.encoder as GPUCommandEncoder | undefined,
    timestampWrites: o.timestampWrites as GPUComputePassTimestampWrites | undefined,
    shared: { flags, eps, momentum: 0 },
    reduces: reduce,
    storage,
    roles: {
      dy: { name: 'dy', tensor: dy, access: 'read' },
      x: { name: 'x', tensor: x, access: 'read' },
      weight: { name: 'weight', tensor: weight, access: 'read' },
      bias: { name: 'bias', tensor: bias, access: 'read' },
      mean: { name: meanName, tensor: mean as Tensor, access: 'read' },
      spread: { name: spreadName, tensor: spread as Tensor, access: 'read' },
      dx: outputRole('out.dx', out.dx, { shape: x.shape, dtype: x.dtype, label: 'batchNormBackward dx' }),
      dweight: gradient('dweight'),
      dbias: gradient('dbias'),
    },
    passes: (plan) => {
      const subgroups = gpu.features.subgroups;
      const inputs = { params, x: windowOf('x'), dy: windowOf('dy'), weight: whole('weight'), bias: whole('bias'), mean: whole('mean'), spread: whole('spread') };
      if (plan.singlePass && fitsDevice(gpu, plan.rows ? 'backward-fused-rows' : 'backward-fused')) {
        const bindings = { ...inputs, dweight: whole('dweight'), dbias: whole('dbias'), dx: windowOf('dx') };
        return [
          plan.rows
            ? pass({ kernel: 'backward-fused-rows', storage }, 'reduce', bindings)
            : pass({ kernel: 'backward-fused', storage, vec4: plan.vec4, subgroups }, 'reduce', bindings),
        ];
      }
      // The same windows, element type and slicing as the forward statistics; dy and dx share x's windows.
      const partials = scratch('backward partials', (reduce ? channels * plan.partialStride : 1) * PARTIAL_BYTES);
      const coefficients = scratch('backward coefficients', channels * COEFFICIENT_BYTES);
      const reduceBindings = { ...inputs, partials };
      return [
        ...(reduce
          ? [
              plan.rows
                ? pass({ kernel: 'backward-reduce-rows', storage }, 'reduce', reduceBindings)
                : pass({ kernel: 'backward-reduce', storage, vec4: plan.vec4, subgroups }, 'reduce', reduceBindings),
            ]
          : []),
        pass({ kernel: 'backward-finalize', perInvocation: plan.finalizePerInvocation }, 'finalize', {
          params,
          partials,
          weight: whole('weight'),
          bias: whole('bias'),
          mean: whole('mean'),
          spread: whole('spread'),
          dweight: whole('dweight'),
          dbias: whole('dbias'),
          coefficients,
        }),
        pass({ kernel: 'backward-apply', storage, vec4: plan.vec4 }, 'apply', { params, x: windowOf('x'), dy: windowOf('dy'), coefficients, dx: windowOf('dx') }),
      ];
    },
  });
  return { dx: tensors.dx!, dweight: tensors.dweight, dbias: tensors.dbias };
}
