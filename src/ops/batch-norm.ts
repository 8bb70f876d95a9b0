// Batch-norm forward (torch.nn.functional.batch_norm) as a list of passes for the runner. Training:
// statistics -> finalize -> apply, or all three in one dispatch where a workgroup reaches a whole
// channel (PassPlan.singlePass). Inference: one apply pass that reads the running statistics. A tensor
// larger than one storage binding runs the statistics and apply passes once per window (chunking.ts).
// A residual z is read by whichever pass applies (its '-residual' kernel): y = act(bn(x) + z), no extra pass.
import { DEFAULT_EPS, DEFAULT_MOMENTUM } from '../runtime/defaults.js';
import { statisticsPass } from './shared-passes.js';
import { storageFor } from '../engine/element-storage.js';
import { assertGpu, type Gpu } from '../runtime/gpu.js';
import { readOptions } from '../runtime/options.js';
import { fitsDevice } from '../engine/kernels.js';
import { FLAGS } from '../engine/params.js';
import { outputRole, pass, params, runOperation, scratch, whole, windowOf, type EncoderOptions } from '../engine/runner.js';
import { channelLayout } from '../runtime/shape.js';
import type { Tensor } from '../runtime/tensor.js';
import {
  assertActivation,
  assertBoolean,
  assertEps,
  assertRunningVarEstimator,
  assertSameShapeAndDType,
  assertUsableTensor,
  optionalMask,
  optionalPerChannel,
  runningFactor,
  type Activation,
} from '../runtime/validate.js';

/**
 * Options of {@link batchNorm}: torch.nn.functional.batch_norm's arguments, and where to write and record.
 *
 * Per-channel tensors have C elements (C = x.shape[axis]), are 'f32' (with f16 x too) and live on the same Gpu.
 */
export interface BatchNormOptions extends EncoderOptions {
  /** Per-channel scale (PyTorch's weight, Keras's gamma), f32 [C]; default none (scale 1). */
  weight?: Tensor | null;
  /** Per-channel shift (PyTorch's bias, Keras's beta), f32 [C]; default none (shift 0). */
  bias?: Tensor | null;
  /**
   * Running mean, f32 [C]: a training forward updates it in place, an inference forward normalizes with
   * it. Given together with runningVar, or neither; default none.
   */
  runningMean?: Tensor | null;
  /** Running variance, f32 [C]: updated and used as runningMean is. */
  runningVar?: Tensor | null;
  /**
   * true: normalize with the batch statistics (biased variance) and blend them into the running ones
   * when given. false: normalize with runningMean and runningVar, which are then required.
   */
  training: boolean;
  /**
   * Weight of the batch statistics in the running ones (running = (1 - momentum)*running + momentum*batch),
   * in [0, 1]; default {@link DEFAULT_MOMENTUM}. null: a cumulative average, factor 1/numBatchesTracked.
   */
  momentum?: number | null;
  /** With `momentum: null`: batches seen including this one (the factor is 1/numBatchesTracked), an integer >= 1. */
  numBatchesTracked?: number;
  /** Added to the variance before the square root, a finite number >= 0; default {@link DEFAULT_EPS}. */
  eps?: number;
  /**
   * Tensors of yours to write instead of allocating new ones (a steady state without allocations): each
   * is returned in the result. They must not overlap x or each other.
   */
  out?: {
    /** Written with the normalized x: x's shape and dtype. */
    y?: Tensor;
    /** Training only: written with the batch mean, f32 [C]. */
    saveMean?: Tensor;
    /** Training only: written with 1/sqrt(biased batch variance + eps), f32 [C]. */
    saveInvstd?: Tensor;
  };
  /**
   * Index of the channel dimension, negative from the end (Keras's name); default 1 (PyTorch's (N, C, *)),
   * -1 for channels-last (NHWC).
   */
  axis?: number;
  /** 'relu' applies a ReLU in the same pass: y = max(x*scale + shift, 0); default null (none). */
  activation?: Activation | null;
  /** Which batch variance updates runningVar: 'unbiased' (PyTorch, default) or 'biased' (Keras 3). */
  runningVarEstimator?: 'unbiased' | 'biased';
  /**
   * A tensor z of x's shape and dtype (ResNet's shortcut) added to the normalized x before the activation:
   * y = act(x*scale + shift + z), in the pass that writes y (one more read, no extra pass), as cuDNN's
   * CUDNN_BATCHNORM_OPS_BN_ADD_ACTIVATION and TensorFlow's _FusedBatchNormEx with a side input. The
   * statistics are x's alone. Its gradient comes from {@link batchNormBackward} with `residual: true`.
   * Default none. It must not overlap y.
   */
  residual?: Tensor | null;
  /**
   * Keras's `mask`: an f32 tensor of x's shape without the channel axis, 1 where a position counts and 0
   * where it does not (a sequence's padding). Training takes the mean and variance over the positions
   * it keeps (the running variance's unbiased correction uses their count) and normalizes every position
   * with them; inference ignores it, as Keras does. Pass the same mask to {@link batchNormBackward}.
   * A mask that keeps no position gives mean 0 and variance 0, as Keras's. Default none.
   */
  mask?: Tensor | null;
}

/**
 * What {@link batchNorm} returns. Each tensor is yours: a new one (destroy() it when done), or the `out`
 * tensor you passed.
 */
export interface BatchNormResult {
  /** The normalized x (PyTorch's output, Keras's call result): x's shape and dtype. */
  y: Tensor;
  /** Training: the batch mean, f32 [C] (what {@link batchNormBackward} takes as saveMean); inference: null. */
  saveMean: Tensor | null;
  /** Training: 1/sqrt(biased batch variance + eps), f32 [C] (batchNormBackward's saveInvstd); inference: null. */
  saveInvstd: Tensor | null;
}

/** A training forward: batch statistics, saved for the backward. */
export interface BatchNormTrainingOptions extends BatchNormOptions {
  training: true;
}

/** An inference forward: the running statistics it normalizes with are required. */
export interface BatchNormInferenceOptions extends BatchNormOptions {
  training: false;
  runningMean: Tensor;
  runningVar: Tensor;
}

/** A training forward's outputs: saveMean and saveInvstd are there (what batchNormBackward's training mode takes). */
export interface BatchNormTrainingResult extends BatchNormResult {
  saveMean: Tensor;
  saveInvstd: Tensor;
}

/** An inference forward's outputs: y only. */
export interface BatchNormInferenceResult extends BatchNormResult {
  saveMean: null;
  saveInvstd: null;
}

/** @internal The keys of BatchNormOptions (test/unit/options-types.test.ts checks them against the type). */
export const OPTION_KEYS = [
  'weight', 'bias', 'runningMean', 'runningVar', 'training', 'momentum', 'numBatchesTracked', 'eps', 'out', 'timestampWrites', 'encoder',
  'axis', 'activation', 'runningVarEstimator', 'residual', 'mask',
] as const;
/** @internal */
export const OUT_KEYS = ['y', 'saveMean', 'saveInvstd'] as const;

// Mirrors struct Partial in shaders/stats.wgsl (a Welford state of 7 floats, shaders/welford.wgsl, and
// the pivot) and the scale-shift pairs of shaders/finalize.wgsl.
const PARTIAL_BYTES = 32;
const SCALE_SHIFT_BYTES = 8;

/**
 * Batch norm forward, as torch.nn.functional.batch_norm (or torch.native_batch_norm, with the saved statistics).
 *
 * y = (x - mean) / sqrt(var + eps) * weight + bias per channel. The result's type follows `training`. The
 * work is submitted at once, and `toArray()` of an output waits for it; with `options.encoder` it is
 * recorded instead ({@link EncoderOptions}). The running statistics are updated in place.
 *
 * Ownership: the returned tensors are yours (destroy() them when done), unless they are the `out`
 * tensors you passed; x, the weight, bias and running statistics stay yours too.
 *
 * @example
 * ```ts
 * import { batchNorm, requestGpu, Tensor } from 'webgpu-batchnorm';
 *
 * const gpu = await requestGpu();
 * const x = Tensor.fromArray(gpu, Float32Array.from({ length: 8 * 16 * 14 * 14 }, Math.random), [8, 16, 14, 14]); // [N, C, H, W]
 * const perChannel = (value: number) => Tensor.fromArray(gpu, new Float32Array(16).fill(value), [16]);
 * const weight = perChannel(1), bias = perChannel(0), runningMean = perChannel(0), runningVar = perChannel(1);
 * // F.batch_norm(x, running_mean, running_var, weight, bias, training=True): batch statistics, running ones updated
 * const { y, saveMean, saveInvstd } = batchNorm(gpu, x, { weight, bias, runningMean, runningVar, training: true });
 * // training=False: the running statistics
 * const { y: inferred } = batchNorm(gpu, x, { weight, bias, runningMean, runningVar, training: false });
 * console.log(await y.toArray(), await inferred.toArray());
 * ```
 *
 * @param gpu - The Gpu that x and every tensor of the options live on.
 * @param x - The input, of rank 2 to 5: (N, C), (N, C, L), (N, C, H, W), (N, C, D, H, W), or channels-last
 * with `axis: -1`; f32 or f16. Training needs more than one value per channel.
 * @throws TypeError or RangeError, before anything is allocated or recorded, for a bad argument (the
 * message names it); Error for a destroyed or foreign tensor.
 */
export function batchNorm(gpu: Gpu, x: Tensor, options: BatchNormTrainingOptions): BatchNormTrainingResult;
export function batchNorm(gpu: Gpu, x: Tensor, options: BatchNormInferenceOptions): BatchNormInferenceResult;
export function batchNorm(gpu: Gpu, x: Tensor, options: BatchNormOptions): BatchNormResult;
export function batchNorm(gpu: Gpu, x: Tensor, options: BatchNormOptions): BatchNormResult {
  assertGpu(gpu);
  gpu.assertAlive();
  const o = readOptions(options, 'batchNorm options', OPTION_KEYS, false);
  const training = o.training;
  assertBoolean(training, 'batchNorm options.training');
  assertUsableTensor(gpu, x, 'x');
  const layout = channelLayout(x.shape, (o.axis ?? 1) as number);
  const { batch, channels, spatial } = layout;
  const weight = optionalPerChannel(gpu, o.weight, 'weight', channels, x.shape);
  const bias = optionalPerChannel(gpu, o.bias, 'bias', channels, x.shape);
  const runningMean = optionalPerChannel(gpu, o.runningMean, 'runningMean', channels, x.shape);
  const runningVar = optionalPerChannel(gpu, o.runningVar, 'runningVar', channels, x.shape);
  if ((runningMean === null) !== (runningVar === null)) {
    throw new Error(`runningMean and runningVar go together; got only ${runningMean ? 'runningMean' : 'runningVar'}`);
  }
  const eps = o.eps ?? DEFAULT_EPS;
  assertEps(eps);
  const factor = runningFactor(training, runningMean !== null, o.momentum, o.numBatchesTracked);
  if (!training && !runningMean) throw new Error('inference (training: false) needs runningMean and runningVar');
  if (training && batch * spatial <= 1) {
    throw new RangeError(`Expected more than 1 value per channel when training, got input size [${x.shape.join(',')}]`);
  }
  const out = readOptions(o.out, 'batchNorm options.out', OUT_KEYS);
  if (!training && (out.saveMean || out.saveInvstd)) throw new Error('out.saveMean and out.saveInvstd are written in training only');

  const activation = o.activation ?? null;
  assertActivation(activation);
  const estimator = o.runningVarEstimator ?? 'unbiased';
  assertRunningVarEstimator(estimator);
  const residual = (o.residual ?? null) as Tensor | null;
  if (residual !== null) {
    assertSameShapeAndDType(residual, 'residual', x, 'x');
    assertUsableTensor(gpu, residual, 'residual');
  }
  const mask = optionalMask(gpu, o.mask, x.shape, (o.axis ?? 1) as number);
  const masked = training && mask !== null;

  const storage = storageFor(x.dtype, gpu.features);
  const flags =
    (training ? FLAGS.TRAINING : 0) |
    (weight ? FLAGS.HAS_WEIGHT : 0) |
    (bias ? FLAGS.HAS_BIAS : 0) |
    (training && runningMean ? FLAGS.UPDATE_RUNNING : 0) |
    (activation === 'relu' ? FLAGS.RELU : 0) |
    (estimator === 'biased' ? FLAGS.BIASED_RUNNING_VAR : 0);
  const saved = (name: 'saveMean' | 'saveInvstd') =>
    outputRole(`out.${name}`, out[name], training ? { shape: [channels], dtype: 'f32', label: `batchNorm ${name}` } : null);
  const running = training ? 'update' : 'read';
  const tensors = runOperation(gpu, {
    label: 'batchNorm forward',
    layout,
    encoder: o.encoder as GPUCommandEncoder | undefined,
    timestampWrites: o.timestampWrites as GPUComputePassTimestampWrites | undefined,
    shared: { flags, eps, momentum: factor },
    reduces: training,
    masked,
    storage,
    roles: {
      x: { name: 'x', tensor: x, access: 'read' },
      mask: { name: 'mask', tensor: mask, access: 'read' },
      weight: { name: 'weight', tensor: weight, access: 'read' },
      bias: { name: 'bias', tensor: bias, access: 'read' },
      runningMean: { name: 'runningMean', tensor: runningMean, access: running },
      runningVar: { name: 'runningVar', tensor: runningVar, access: running },
      z: { name: 'residual', tensor: residual, access: 'read' },
      y: outputRole('out.y', out.y, { shape: x.shape, dtype: x.dtype, label: 'batchNorm y' }),
      saveMean: saved('saveMean'),
      saveInvstd: saved('saveInvstd'),
    },
    passes: (plan) => {
      const { vec4 } = plan;
      const subgroups = gpu.features.subgroups;
      const x = windowOf('x');
      const y = windowOf('y');
      const z = windowOf('z');
      const [weight, bias, runningMean, runningVar] = [whole('weight'), whole('bias'), whole('runningMean'), whole('runningVar')];
      if (!training) {
        const bindings = { params, x, weight, bias, runningMean, runningVar, y };
        return [
          residual
            ? pass({ kernel: 'apply-running-residual', storage, vec4 }, 'apply', { ...bindings, z })
            : pass({ kernel: 'apply-running', storage, vec4 }, 'apply', bindings),
        ];
      }
      const statistics = { weight, bias, runningMean, runningVar, saveMean: whole('saveMean'), saveInvstd: whole('saveInvstd') };
      // The one-dispatch forward with a residual binds 9 storage buffers: a device at WebGPU's default 8 runs three passes.
      const singlePassKernel = `stats-apply${plan.rows ? '-rows' : ''}${residual ? '-residual' : ''}` as const;
      if (plan.singlePass && !masked && fitsDevice(gpu, singlePassKernel)) {
        const bindings = { params, x, ...statistics, y };
        if (residual) {
          return [
            plan.rows
              ? pass({ kernel: 'stats-apply-rows-residual', storage }, 'reduce', { ...bindings, z })
              : pass({ kernel: 'stats-apply-residual', storage, vec4, subgroups }, 'reduce', { ...bindings, z }),
          ];
        }
        return [
          plan.rows
            ? pass({ kernel: 'stats-apply-rows', storage }, 'reduce', bindings)
            : pass({ kernel: 'stats-apply', storage, vec4, subgroups }, 'reduce', bindings),
        ];
      }
      const partials = scratch('forward partials', channels * plan.partialStride * PARTIAL_BYTES);
      const scaleShift = scratch('forward scale-shift', channels * SCALE_SHIFT_BYTES);
      return [
        statisticsPass(gpu, plan, storage, partials, masked),
        pass({ kernel: 'finalize', perInvocation: plan.finalizePerInvocation }, 'finalize', { params, partials, ...statistics, scaleShift }),
        residual
          ? pass({ kernel: 'apply-residual', storage, vec4 }, 'apply', { params, x, scaleShift, z, y })
          : pass({ kernel: 'apply', storage, vec4 }, 'apply', { params, x, scaleShift, y }),
      ];
    },
  });
  return { y: tensors.y!, saveMean: tensors.saveMean, saveInvstd: tensors.saveInvstd };
}
