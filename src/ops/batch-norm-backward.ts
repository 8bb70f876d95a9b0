// Batch-norm backward (PyTorch's native_batch_norm_backward) as a list of passes for the runner:
// reduce -> finalize -> apply, over the forward's windows when x is larger than one storage binding, or
// all three in one dispatch where a workgroup reaches a whole channel (PassPlan.singlePass).
// Traffic per element in f32: training reads x and dy twice and writes dx (20 bytes); inference with a
// weight reads x and dy once for dweight, then dy again and writes dx (16 bytes); inference without a
// weight skips the reduction (8 bytes). The backward of a forward with a residual and a ReLU reads the
// forward's stored y for the mask wherever it reads dy, and writes dz beside dx (its '-residual' kernels).
import { DEFAULT_EPS } from '../runtime/defaults.js';
import { storageFor } from '../engine/element-storage.js';
import { assertGpu, type Gpu } from '../runtime/gpu.js';
import { describeValue, readOptions } from '../runtime/options.js';
import { fitsDevice } from '../engine/kernels.js';
import { FLAGS } from '../engine/params.js';
import { outputRole, pass, params, runOperation, scratch, whole, windowOf, type EncoderOptions } from '../engine/runner.js';
import { inputGradientPass } from './shared-passes.js';
import { channelLayout } from '../runtime/shape.js';
import type { Tensor } from '../runtime/tensor.js';
import {
  assertActivation,
  assertBoolean,
  assertEps,
  assertPerChannel,
  assertSameShapeAndDType,
  assertUsableTensor,
  optionalMask,
  optionalPerChannel,
  readStoredY,
  type Activation,
} from '../runtime/validate.js';

/**
 * Backward of a training forward: the batch statistics that forward saved.
 *
 * The gradient flows through them too (dx has the terms of the batch mean and variance), as autograd of F.batch_norm in training.
 */
export interface BatchNormBackwardTraining {
  /** The forward's weight, f32 [C]; default none (scale 1, and no dweight or dbias). */
  weight?: Tensor | null;
  /** The forward's `saveMean` (its batch mean), f32 [C]. */
  saveMean: Tensor;
  /** The forward's `saveInvstd` (1/sqrt(biased batch variance + eps)), f32 [C]. */
  saveInvstd: Tensor;
  /**
   * The forward's eps; default {@link DEFAULT_EPS}. As PyTorch's backward, the gradients do not depend on it;
   * their rounding does where the variance is far below eps: the backward takes the channel's variance
   * as 1/saveInvstd^2 - eps to center its sums, so that a constant channel's dweight is exactly 0.
   */
  eps?: number;
  /** Differentiates a training forward. */
  training: true;
}

/**
 * Backward of an inference forward: the running statistics and eps it normalized with.
 *
 * They are constants here: dx = dy * weight / sqrt(runningVar + eps).
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
    /**
     * With `residual: true` only: written with dz, x's shape and dtype. Without an activation dz equals dy,
     * and only this makes a copy of it (in the pass that writes dx).
     */
    dz?: Tensor;
  };
  /** The forward's channel axis; default 1. */
  axis?: number;
  /**
   * The forward's fused activation: with 'relu', dy is masked where the forward's y was clipped. Without a
   * residual the mask is recomputed from x and the statistics (x is read anyway), so the forward's bias is
   * needed too; with one it is the stored `y`'s sign.
   */
  activation?: Activation | null;
  /**
   * With activation 'relu' and no residual: the forward's bias, f32 [C] (none if the forward had none);
   * refused otherwise.
   */
  bias?: Tensor | null;
  /**
   * true: the forward had a `residual` z, y = act(bn(x) + z). The result then has `dz`, the gradient of z:
   * dy masked by the activation, which is also the gradient that reaches the batch norm and from which dx
   * is computed (cuDNN's BatchNormalizationBackwardEx). Without an activation dz is dy itself: the result's
   * dz is then the `dy` you passed, not a copy, unless `out.dz` asks for one. Default false.
   */
  residual?: boolean;
  /**
   * With `residual: true` and activation 'relu' (required there, refused otherwise): the forward's output y,
   * x's shape and dtype. dy passes where the stored y > 0 (PyTorch's threshold_backward on the saved
   * result); recomputing y would need z.
   */
  y?: Tensor | null;
  /**
   * The `mask` of a masked training forward (batchNorm's): positions it left out of the statistics get
   * only the direct term, dx = weight*invstd*dy; the others batch norm's, with the count of kept positions.
   * dweight and dbias sum over every position. Inference ignores it. Default none.
   */
  mask?: Tensor | null;
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
  /**
   * With `residual: true`: the gradient of the forward's residual z, dy masked by the activation, x's shape
   * and dtype. Without an activation it is the `dy` you passed (yours, not a copy) unless `out.dz` was
   * given. null without a residual.
   */
  dz: Tensor | null;
}

/** The gradients with a weight: dweight and dbias are there. */
export interface BatchNormBackwardWeightedResult extends BatchNormBackwardResult {
  dweight: Tensor;
  dbias: Tensor;
}

/** The gradients of a forward with a residual: dz is there. */
export interface BatchNormBackwardResidualResult extends BatchNormBackwardResult {
  dz: Tensor;
}

const COMMON_KEYS = ['weight', 'training', 'out', 'timestampWrites', 'encoder', 'axis', 'activation', 'bias', 'residual', 'y', 'mask'] as const;
/** @internal The keys of each mode's options (test/unit/options-types.test.ts checks them against the types). */
export const TRAINING_KEYS = [...COMMON_KEYS, 'saveMean', 'saveInvstd', 'eps'] as const;
/** @internal */
export const INFERENCE_KEYS = [...COMMON_KEYS, 'runningMean', 'runningVar', 'eps'] as const;
/** @internal */
export const OUT_KEYS = ['dx', 'dweight', 'dbias', 'dz'] as const;

// Mirrors struct Partial in shaders/backward-reduce.wgsl (the compensated sum(dy) and sum(dy*(x - mean))
// in a vec4, and the count: 32 bytes with WGSL's alignment) and struct Coefficients in
// backward-finalize.wgsl (a vec4 and a vec2: 32 bytes).
const PARTIAL_BYTES = 32;
const COEFFICIENT_BYTES = 32;

/**
 * Batch norm backward, as PyTorch's native_batch_norm_backward: the gradients of a forward's inputs from dy.
 *
 * dy is the gradient of the forward's output. With a weight, dweight and dbias are computed (and typed as
 * present); with `residual: true`, dz (typed as present). f32 or f16 dy and x; the sums accumulate in f32.
 *
 * Ownership: the returned tensors are yours (destroy() them when done), unless they are the `out`
 * tensors you passed.
 *
 * @example
 * ```ts
 * import { batchNorm, batchNormBackward, requestGpu, Tensor } from 'webgpu-batchnorm';
 *
 * const gpu = await requestGpu();
 * const [N, C, H, W] = [8, 16, 14, 14];
 * const random = () => Float32Array.from({ length: N * C * H * W }, () => Math.random() - 0.5);
 * const x = Tensor.fromArray(gpu, random(), [N, C, H, W]);
 * const weight = Tensor.fromArray(gpu, new Float32Array(C).fill(1), [C]);
 * const { y, saveMean, saveInvstd } = batchNorm(gpu, x, { weight, training: true });
 * const dy = Tensor.fromArray(gpu, random(), [N, C, H, W]); // the gradient of the loss with respect to y
 * // torch.ops.aten.native_batch_norm_backward with the forward's saved statistics
 * const { dx, dweight, dbias } = batchNormBackward(gpu, dy, x, { weight, saveMean, saveInvstd, training: true });
 * console.log(await dx.toArray(), await dweight.toArray(), await dbias.toArray());
 * ```
 *
 * @param gpu - The Gpu that every tensor lives on.
 * @param dy - The gradient of the loss with respect to the forward's y: x's shape and dtype.
 * @param x - The forward's input.
 * @throws TypeError or RangeError, before anything is allocated or recorded, for a bad argument (the
 * message names it).
 */
export function batchNormBackward(
  gpu: Gpu,
  dy: Tensor,
  x: Tensor,
  options: BatchNormBackwardOptions & { weight: Tensor; residual: true },
): BatchNormBackwardWeightedResult & BatchNormBackwardResidualResult;
export function batchNormBackward(gpu: Gpu, dy: Tensor, x: Tensor, options: BatchNormBackwardOptions & { weight: Tensor }): BatchNormBackwardWeightedResult;
export function batchNormBackward(gpu: Gpu, dy: Tensor, x: Tensor, options: BatchNormBackwardOptions & { residual: true }): BatchNormBackwardResidualResult;
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
  const eps = o.eps ?? DEFAULT_EPS;
  assertEps(eps);
  const activation = o.activation ?? null;
  assertActivation(activation);
  const residual = o.residual ?? false;
  assertBoolean(residual, 'batchNormBackward options.residual');
  const relu = activation === 'relu';
  const bias = optionalPerChannel(gpu, o.bias, 'bias', channels, x.shape);
  if (bias && !(relu && !residual)) {
    throw new Error(
      "bias is read only with activation: 'relu' and no residual (to recompute the forward's ReLU mask; with a residual the mask is the stored y's)",
    );
  }
  // The forward's stored y: the ReLU's mask when a residual makes y impossible to recompute from x.
  const storedY = readStoredY(gpu, 'batchNormBackward', residual, relu, o.y, x);
  const out = readOptions(o.out, 'batchNormBackward options.out', OUT_KEYS);
  if (!weight && (out.dweight || out.dbias)) throw new Error('out.dweight and out.dbias are written only with a weight');
  if (!residual && out.dz) throw new Error('out.dz is written only with residual: true');
  // dz is dy masked by the ReLU, written by the '-residual' kernels; without a ReLU it is dy itself, and
  // those kernels run only to copy it into out.dz.
  const residualKernels = residual && (relu || out.dz !== undefined);
  const mask = optionalMask(gpu, o.mask, x.shape, (o.axis ?? 1) as number);
  const masked = training && mask !== null;

  // Inference needs the sums only for dweight and dbias.
  const reduce = training || weight !== null;
  const storage = storageFor(x.dtype, gpu.features);
  const flags =
    (training ? FLAGS.TRAINING : 0) | (weight ? FLAGS.HAS_WEIGHT : 0) | (bias ? FLAGS.HAS_BIAS : 0) | (relu ? FLAGS.RELU : 0);
  const gradient = (name: 'dweight' | 'dbias') =>
    outputRole(`out.${name}`, out[name], weight ? { shape: [channels], dtype: 'f32', label: `batchNormBackward ${name}` } : null);
  const tensors = runOperation(gpu, {
    label: 'batchNorm backward',
    layout,
    encoder: o.encoder as GPUCommandEncoder | undefined,
    timestampWrites: o.timestampWrites as GPUComputePassTimestampWrites | undefined,
    shared: { flags, eps, momentum: 0 },
    reduces: reduce,
    masked,
    storage,
    roles: {
      dy: { name: 'dy', tensor: dy, access: 'read' },
      mask: { name: 'mask', tensor: mask, access: 'read' },
      x: { name: 'x', tensor: x, access: 'read' },
      weight: { name: 'weight', tensor: weight, access: 'read' },
      bias: { name: 'bias', tensor: bias, access: 'read' },
      mean: { name: meanName, tensor: mean as Tensor, access: 'read' },
      spread: { name: spreadName, tensor: spread as Tensor, access: 'read' },
      dx: outputRole('out.dx', out.dx, { shape: x.shape, dtype: x.dtype, label: 'batchNormBackward dx' }),
      dweight: gradient('dweight'),
      dbias: gradient('dbias'),
      y: { name: 'y', tensor: storedY, access: 'read' },
      dz: outputRole('out.dz', out.dz, residualKernels ? { shape: x.shape, dtype: x.dtype, label: 'batchNormBackward dz' } : null),
    },
    passes: (plan) => {
      const subgroups = gpu.features.subgroups;
      const { rows, vec4 } = plan;
      const [x, dy, y, dx, dz] = [windowOf('x'), windowOf('dy'), windowOf('y'), windowOf('dx'), windowOf('dz')];
      const [weight, bias, mean, spread] = [whole('weight'), whole('bias'), whole('mean'), whole('spread')];
      const [dweight, dbias] = [whole('dweight'), whole('dbias')];
      const fused = `backward-fused${rows ? '-rows' : ''}${residualKernels ? '-residual' : ''}` as const;
      if (plan.singlePass && !masked && fitsDevice(gpu, fused)) {
        if (residualKernels) {
          const bindings = { params, x, dy, y, weight, mean, spread, dweight, dbias, dx, dz };
          return [
            rows
              ? pass({ kernel: 'backward-fused-rows-residual', storage }, 'reduce', bindings)
              : pass({ kernel: 'backward-fused-residual', storage, vec4, subgroups }, 'reduce', bindings),
          ];
        }
        const bindings = { params, x, dy, weight, bias, mean, spread, dweight, dbias, dx };
        return [
          rows
            ? pass({ kernel: 'backward-fused-rows', storage }, 'reduce', bindings)
            : pass({ kernel: 'backward-fused', storage, vec4, subgroups }, 'reduce', bindings),
        ];
      }
      // The same windows, element type and slicing as the forward statistics; dy and dx share x's windows.
      // With a mask, one more: the mask's count, stored past the reduction's (shaders/count-partial.wgsl).
      const partials = scratch('backward partials', ((reduce ? channels * plan.partialStride : 1) + (masked ? 1 : 0)) * PARTIAL_BYTES);
      const coefficients = scratch('backward coefficients', channels * COEFFICIENT_BYTES);
      const reduceResidual = { params, x, dy, y, mean, spread, partials };
      const reducePlain = { params, x, dy, weight, bias, mean, spread, partials };
      const reduction = residualKernels
        ? rows
          ? pass({ kernel: 'backward-reduce-rows-residual', storage }, 'reduce', reduceResidual)
          : pass({ kernel: 'backward-reduce-residual', storage, vec4, subgroups }, 'reduce', reduceResidual)
        : rows
          ? pass({ kernel: 'backward-reduce-rows', storage }, 'reduce', reducePlain)
          : pass({ kernel: 'backward-reduce', storage, vec4, subgroups }, 'reduce', reducePlain);
      const finalize = { params, partials, weight, bias, mean, spread, dweight, dbias, coefficients };
      const perInvocation = plan.finalizePerInvocation;
      return [
        ...(reduce ? [reduction] : []),
        // With a mask, the coefficients take the count of the positions it keeps, and dx's pass gives the others only dy's term.
        ...(masked
          ? [
            pass({ kernel: 'mask-count-partial' }, 'single', { params, mask: whole('mask'), partials }),
            pass({ kernel: 'backward-finalize-masked', perInvocation }, 'finalize', finalize),
          ]
          : [pass({ kernel: 'backward-finalize', perInvocation }, 'finalize', finalize)]),
        inputGradientPass(masked, residualKernels, storage, vec4, coefficients),
      ];
    },
  });
  // Without the '-residual' kernels dz is dy itself (no activation, no out.dz).
  return { dx: tensors.dx!, dweight: tensors.dweight, dbias: tensors.dbias, dz: residual ? (tensors.dz ?? dy) : null };
}
