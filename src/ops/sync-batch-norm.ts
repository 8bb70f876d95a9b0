// The SyncBatchNorm building blocks, PyTorch's split of batch norm across replicas
// (torch/nn/modules/_functions.py): batchNormStats (a replica's per-channel count, mean and biased
// variance), batchNormGatherStats (every replica's merged into the global mean and invstd, the running
// statistics updated), batchNormElemt (the normalization with given statistics), batchNormBackwardReduce
// (a replica's gradient sums) and batchNormBackwardElemt (dx from the sums of every replica). Each is a
// list of passes for the runner made of batchNorm's and batchNormBackward's kernels: their reductions as
// pass 1, and finalizes and applies that write or read the exchanged values. Unlike those two, each takes
// an x without elements, a replica's empty batch, which still takes part in every exchange.
import { DEFAULT_EPS } from '../runtime/defaults.js';
import { inputGradientPass, statisticsPass } from './shared-passes.js';
import { storageFor } from '../engine/element-storage.js';
import { assertGpu, type Gpu } from '../runtime/gpu.js';
import { readOptions } from '../runtime/options.js';
import { FLAGS } from '../engine/params.js';
import { outputRole, pass, params, runOperation, scratch, whole, windowOf, type EncoderOptions, type TensorRole } from '../engine/runner.js';
import { channelLayout, type ChannelLayout } from '../runtime/shape.js';
import { Tensor } from '../runtime/tensor.js';
import {
  assertActivation,
  assertBoolean,
  assertEps,
  assertPerChannel,
  assertRunningVarEstimator,
  assertSameShapeAndDType,
  assertUsableTensor,
  optionalMask,
  optionalPerChannel,
  readStoredY,
  runningFactor,
  type Activation,
} from '../runtime/validate.js';

/** Options of {@link batchNormStats}. */
export interface BatchNormStatsOptions extends EncoderOptions {
  /** The channel axis of x, negative from the end; default 1. */
  axis?: number;
  /**
   * Keras's `mask` (batchNorm's): the statistics are taken over the positions it keeps, and the result's
   * `maskCount` counts them. Default none.
   */
  mask?: Tensor | null;
  /** Tensors of yours to write instead of allocating new ones; each is returned in the result. */
  out?: {
    /** Written with the mean, f32 [C]. */
    mean?: Tensor;
    /** Written with the biased variance, f32 [C]. */
    variance?: Tensor;
  };
}

/** What {@link batchNormStats} returns: this replica's statistics. The tensors are yours. */
export interface BatchNormStatsResult {
  /** Values per channel in x (N times the dimensions after the channel axis); 0 for an empty x. */
  count: number;
  /** Per channel: the mean of x, f32 [C] (0 for an empty x). */
  mean: Tensor;
  /** Per channel: the biased (population) variance of x, f32 [C] (0 for an empty x). */
  variance: Tensor;
  /**
   * With a mask: the positions it keeps, f32 [1], this replica's count for batchNormGatherStats (read it
   * back with the statistics); null without one.
   */
  maskCount: Tensor | null;
}

/** Options of {@link batchNormGatherStats}: every replica's statistics, and batchNorm's running-statistics options. */
export interface BatchNormGatherStatsOptions extends EncoderOptions {
  /** Each replica's mean (batchNormStats' mean): f32 [W, C], row w replica w's. */
  mean: Tensor;
  /** Each replica's biased variance (batchNormStats' variance): f32 [W, C]. */
  variance: Tensor;
  /**
   * Each replica's count (batchNormStats' count): f32 [W], non-negative integers (exact in f32 up to
   * 2^24). A replica with count 0 contributes nothing; the total must be at least 1.
   */
  counts: Tensor;
  /** Running mean, f32 [C], updated in place with the global batch mean; given together with runningVar, or neither. */
  runningMean?: Tensor | null;
  /** Running variance, f32 [C], updated in place with the global batch variance (unbiased, or biased with runningVarEstimator). */
  runningVar?: Tensor | null;
  /** As batchNorm's: the weight of the batch statistics in the running ones, or null (cumulative average); default 0.1. */
  momentum?: number | null;
  /** With `momentum: null`: batches seen including this one, an integer >= 1. */
  numBatchesTracked?: number;
  /** Added to the global variance before the square root; default {@link DEFAULT_EPS}. */
  eps?: number;
  /** The variance blended into runningVar: 'unbiased' (PyTorch, default; needs a total count above 1) or 'biased' (Keras 3). */
  runningVarEstimator?: 'unbiased' | 'biased';
  /** Tensors of yours to write instead of allocating new ones; each is returned in the result. */
  out?: {
    /** Written with the global mean, f32 [C]. */
    mean?: Tensor;
    /** Written with the global 1/sqrt(biased variance + eps), f32 [C]. */
    invstd?: Tensor;
  };
}

/** What {@link batchNormGatherStats} returns: the global statistics, as batchNorm's saveMean and saveInvstd. */
export interface BatchNormGatherStatsResult {
  /** The mean over every replica's values, f32 [C]. */
  mean: Tensor;
  /** 1/sqrt(biased variance over every replica's values + eps), f32 [C]. */
  invstd: Tensor;
}

/** Options of {@link batchNormElemt}: the statistics to normalize with, and batchNorm's affine and activation. */
export interface BatchNormElemtOptions extends EncoderOptions {
  /** Per-channel mean to subtract (batchNormGatherStats' mean), f32 [C]. */
  mean: Tensor;
  /** Per-channel 1/sqrt(variance + eps) to scale by (batchNormGatherStats' invstd), f32 [C]. */
  invstd: Tensor;
  /** Per-channel scale, f32 [C]; default none (scale 1). */
  weight?: Tensor | null;
  /** Per-channel shift, f32 [C]; default none (shift 0). */
  bias?: Tensor | null;
  /** The channel axis of x, negative from the end; default 1. */
  axis?: number;
  /** 'relu' applies a ReLU after the normalization, as batchNorm's; default null. */
  activation?: Activation | null;
  /**
   * A residual z added before the activation in the same pass, as batchNorm's `residual`: y = act(bn(x) + z).
   * x's shape and dtype; must not overlap y; default none.
   */
  residual?: Tensor | null;
  /** A tensor of yours to write instead of allocating a new one; it is returned in the result. */
  out?: {
    /** Written with the normalized x: x's shape and dtype. */
    y?: Tensor;
  };
}

/** What {@link batchNormElemt} returns. */
export interface BatchNormElemtResult {
  /** (x - mean)*invstd*weight + bias (then the activation): x's shape and dtype; yours. */
  y: Tensor;
}

/** Options of both backward building blocks: the forward's statistics, weight and activation. */
export interface BatchNormBackwardSyncCommon extends EncoderOptions {
  /** The mean the forward normalized with (batchNormGatherStats' mean), f32 [C]. */
  mean: Tensor;
  /** The invstd the forward normalized with (batchNormGatherStats' invstd), f32 [C]. */
  invstd: Tensor;
  /** The forward's weight, f32 [C]; default none (scale 1). */
  weight?: Tensor | null;
  /** The forward's channel axis; default 1. */
  axis?: number;
  /** The forward's activation: with 'relu', dy is masked where the forward's y was clipped (recomputed from x). */
  activation?: Activation | null;
  /** With activation 'relu' and no residual: the forward's bias, f32 [C] (none if the forward had none); refused otherwise. */
  bias?: Tensor | null;
  /**
   * true: the forward had a residual z (batchNormElemt's `residual`), as batchNormBackward's `residual`:
   * with activation 'relu' the mask is the stored y's sign, and batchNormBackwardElemt also returns dz.
   * Default false.
   */
  residual?: boolean;
  /** With `residual: true` and activation 'relu' (required there, refused otherwise): the forward's output y. */
  y?: Tensor | null;
}

/** Options of {@link batchNormBackwardReduce}. */
export interface BatchNormBackwardReduceOptions extends BatchNormBackwardSyncCommon {
  /** Tensors of yours to write instead of allocating new ones; each is returned in the result. */
  out?: {
    /** Written with sum(dy) per channel, f32 [C]. */
    sumDy?: Tensor;
    /** Written with sum(dy*(x - mean)) per channel, f32 [C]. */
    sumDyXmu?: Tensor;
    /** With a weight only: written with dweight, f32 [C]. */
    dweight?: Tensor;
    /** With a weight only: written with dbias, f32 [C]. */
    dbias?: Tensor;
  };
}

/** What {@link batchNormBackwardReduce} returns: this replica's sums, the ones to add over every replica. The tensors are yours. */
export interface BatchNormBackwardReduceResult {
  /** sum(dy) per channel over this replica's x (dy masked by the ReLU with activation 'relu'), f32 [C]. */
  sumDy: Tensor;
  /** sum(dy*(x - mean)) per channel over this replica's x, f32 [C]. */
  sumDyXmu: Tensor;
  /** This replica's dweight, sum(dy*xhat) per channel, f32 [C]; null without a weight. */
  dweight: Tensor | null;
  /** This replica's dbias, sum(dy) per channel, f32 [C]; null without a weight. */
  dbias: Tensor | null;
}

/** The result with a weight: dweight and dbias are there. */
export interface BatchNormBackwardReduceWeightedResult extends BatchNormBackwardReduceResult {
  dweight: Tensor;
  dbias: Tensor;
}

/** Options of {@link batchNormBackwardElemt}: the sums over every replica and their count. */
export interface BatchNormBackwardElemtOptions extends BatchNormBackwardSyncCommon {
  /** sum(dy) per channel over every replica (their batchNormBackwardReduce sumDy, added), f32 [C]. */
  sumDy: Tensor;
  /** sum(dy*(x - mean)) per channel over every replica, f32 [C]. */
  sumDyXmu: Tensor;
  /** Each replica's count, f32 [W] (as batchNormGatherStats took them); dx divides by their total. */
  counts: Tensor;
  /**
   * This replica's mask, when the statistics were a mask's (batchNormStats's `mask`, `counts` their
   * maskCounts): positions it left out get only the direct term of dx. Default none.
   */
  mask?: Tensor | null;
  /** Tensors of yours to write instead of allocating new ones; each is returned in the result. */
  out?: {
    /** Written with dx: x's shape and dtype. */
    dx?: Tensor;
    /** With `residual: true` only: written with dz, x's shape and dtype (without an activation, dz is dy otherwise). */
    dz?: Tensor;
  };
}

/** What {@link batchNormBackwardElemt} returns. */
export interface BatchNormBackwardElemtResult {
  /** The gradient of the loss with respect to this replica's x: x's shape and dtype; yours. */
  dx: Tensor;
  /**
   * With `residual: true`: the gradient of the forward's residual z, dy masked by the activation (dy itself
   * without one, unless out.dz is given); x's shape and dtype. null without a residual.
   */
  dz: Tensor | null;
}

/** @internal The keys of each options type (test/unit/options-types.test.ts checks them against the types). */
export const STATS_KEYS = ['axis', 'out', 'encoder', 'timestampWrites', 'mask'] as const;
/** @internal */
export const STATS_OUT_KEYS = ['mean', 'variance'] as const;
/** @internal */
export const GATHER_KEYS = [
  'mean', 'variance', 'counts', 'runningMean', 'runningVar', 'momentum', 'numBatchesTracked', 'eps', 'runningVarEstimator', 'out', 'encoder',
  'timestampWrites',
] as const;
/** @internal */
export const GATHER_OUT_KEYS = ['mean', 'invstd'] as const;
/** @internal */
export const ELEMT_KEYS = ['mean', 'invstd', 'weight', 'bias', 'axis', 'activation', 'residual', 'out', 'encoder', 'timestampWrites'] as const;
/** @internal */
export const ELEMT_OUT_KEYS = ['y'] as const;
const BACKWARD_COMMON_KEYS = ['mean', 'invstd', 'weight', 'axis', 'activation', 'bias', 'residual', 'y', 'out', 'encoder', 'timestampWrites'] as const;
/** @internal */
export const BACKWARD_REDUCE_KEYS = BACKWARD_COMMON_KEYS;
/** @internal */
export const BACKWARD_REDUCE_OUT_KEYS = ['sumDy', 'sumDyXmu', 'dweight', 'dbias'] as const;
/** @internal */
export const BACKWARD_ELEMT_KEYS = [...BACKWARD_COMMON_KEYS, 'sumDy', 'sumDyXmu', 'counts', 'mask'] as const;
/** @internal */
export const BACKWARD_ELEMT_OUT_KEYS = ['dx', 'dz'] as const;

// Mirror the partials of shaders/stats.wgsl and shaders/backward-reduce.wgsl and struct Coefficients of
// shaders/global-coefficients.wgsl (as src/ops/batch-norm.ts and src/ops/batch-norm-backward.ts do).
const STATISTICS_PARTIAL_BYTES = 32;
const GRADIENT_PARTIAL_BYTES = 32;
const COEFFICIENT_BYTES = 32;

/** x's layout, an empty batch allowed. */
function layoutOf(gpu: Gpu, x: unknown, axis: unknown): ChannelLayout {
  assertUsableTensor(gpu, x, 'x');
  return channelLayout(x.shape, (axis ?? 1) as number, true);
}

/** A per-channel output: the caller's `out` tensor, or one allocated with `label`. */
function perChannelOutput(name: string, provided: unknown, channels: number, label: string): TensorRole {
  return outputRole(`out.${name}`, provided, { shape: [channels], dtype: 'f32', label });
}

/**
 * This replica's statistics, as torch.batch_norm_stats but with the biased variance in place of invstd.
 *
 * Per channel, the count, mean and biased variance of x, accumulated in f32 with compensated sums (the
 * training forward's statistics pass and its Chan merge; see docs/numerics.md). Exchange these with the
 * other replicas and merge them with {@link batchNormGatherStats}. The variance, not invstd, is what to
 * exchange: PyTorch rebuilds it from invstd as 1/invstd^2 - eps, which loses a variance much smaller than
 * eps. An x without elements (an empty batch) gives count 0 and zeros.
 *
 * @example
 * ```ts
 * import { batchNormStats, requestGpu, Tensor } from 'webgpu-batchnorm';
 *
 * const gpu = await requestGpu();
 * const x = Tensor.fromArray(gpu, Float32Array.from({ length: 4 * 3 * 8 * 8 }, Math.random), [4, 3, 8, 8]); // this replica's batch
 * const { count, mean, variance } = batchNormStats(gpu, x); // count 256 (4*8*8); mean and variance f32 [3]
 * // What the other replicas need from this one: its row of counts, means and variances.
 * const row = { count, mean: await mean.toArray(), variance: await variance.toArray() };
 * ```
 *
 * @param gpu - The Gpu that x and the `out` tensors live on.
 * @param x - This replica's input, of rank 2 to 5, f32 or f16; N (and any dimension but the channel's) may be 0.
 * @throws TypeError or RangeError, before anything is allocated or recorded, for a bad argument.
 */
export function batchNormStats(gpu: Gpu, x: Tensor, options: BatchNormStatsOptions = {}): BatchNormStatsResult {
  assertGpu(gpu);
  gpu.assertAlive();
  const o = readOptions(options, 'batchNormStats options', STATS_KEYS);
  const layout = layoutOf(gpu, x, o.axis);
  const { channels } = layout;
  const out = readOptions(o.out, 'batchNormStats options.out', STATS_OUT_KEYS);
  const mask = optionalMask(gpu, o.mask, (x as Tensor).shape, (o.axis ?? 1) as number);
  const storage = storageFor(x.dtype, gpu.features);
  const tensors = runOperation(gpu, {
    label: 'batchNormStats',
    layout,
    encoder: o.encoder as GPUCommandEncoder | undefined,
    timestampWrites: o.timestampWrites as GPUComputePassTimestampWrites | undefined,
    shared: { flags: 0, eps: 0, momentum: 0 },
    reduces: true,
    masked: mask !== null,
    storage,
    roles: {
      x: { name: 'x', tensor: x, access: 'read' },
      mask: { name: 'mask', tensor: mask, access: 'read' },
      mean: perChannelOutput('mean', out.mean, channels, 'batchNormStats mean'),
      variance: perChannelOutput('variance', out.variance, channels, 'batchNormStats variance'),
      maskCount: outputRole('maskCount', undefined, mask ? { shape: [1], dtype: 'f32', label: 'batchNormStats maskCount' } : null),
    },
    zeroedWhenEmpty: mask ? ['mean', 'variance', 'maskCount'] : ['mean', 'variance'],
    passes: (plan) => {
      const partials = scratch('forward partials', channels * plan.partialStride * STATISTICS_PARTIAL_BYTES);
      return [
        ...(mask ? [pass({ kernel: 'mask-count' }, 'single', { params, mask: whole('mask'), maskCount: whole('maskCount') })] : []),
        statisticsPass(gpu, plan, storage, partials, mask !== null),
        pass({ kernel: 'moments', perInvocation: plan.finalizePerInvocation }, 'finalize', {
          params,
          partials,
          mean: whole('mean'),
          variance: whole('variance'),
        }),
      ];
    },
  });
  return { count: layout.batch * layout.spatial, mean: tensors.mean!, variance: tensors.variance!, maskCount: tensors.maskCount };
}

/** An f32 tensor of every replica's statistics, [W, C]. */
function assertReplicaRows(gpu: Gpu, t: unknown, name: string): asserts t is Tensor {
  assertUsableTensor(gpu, t, name);
  if (t.dtype !== 'f32') throw new TypeError(`${name} has dtype '${t.dtype}'; the replicas' statistics are 'f32'`);
  if (t.shape.length !== 2 || t.size === 0) {
    throw new RangeError(`${name} has shape [${t.shape.join(',')}]; it takes every replica's statistics as [W, C] (W replicas, C channels)`);
  }
}

/**
 * Merges every replica's statistics into the global ones, as torch.batch_norm_gather_stats_with_counts.
 *
 * It takes variances in place of invstd. Per channel, Chan's merge of the replicas' (count, mean, biased
 * variance), each mean taken as its replica's pivot so that the differences of the means, and the sums
 * they shift, are exact; then, as the training forward over the whole batch: invstd = 1/sqrt(variance +
 * eps), and the running statistics blended with momentum (or the cumulative average), the unbiased
 * variance over the total count unless `runningVarEstimator: 'biased'`. A replica with count 0
 * contributes nothing. The statistics are f32, so the global variance carries the rounding of each
 * replica's f32 mean: up to 2^-23 |mean_w - mean| |mean_w| per replica, weighted by its share
 * (docs/numerics.md).
 *
 * @example
 * ```ts
 * import { batchNormGatherStats, requestGpu, Tensor } from 'webgpu-batchnorm';
 *
 * const gpu = await requestGpu();
 * // Two replicas' batchNormStats (C = 3), gathered: row w is replica w's.
 * const mean = Tensor.fromArray(gpu, [0.5, 0.1, -0.2, 0.4, 0.3, 0.0], [2, 3]);
 * const variance = Tensor.fromArray(gpu, [1.0, 0.8, 1.2, 0.9, 1.1, 1.0], [2, 3]);
 * const counts = Tensor.fromArray(gpu, [256, 128], [2]);
 * const runningMean = Tensor.fromArray(gpu, [0, 0, 0], [3]);
 * const runningVar = Tensor.fromArray(gpu, [1, 1, 1], [3]);
 * const global = batchNormGatherStats(gpu, { mean, variance, counts, runningMean, runningVar, momentum: 0.1 });
 * // global.mean and global.invstd: the statistics of all 384 values per channel, for batchNormElemt
 * ```
 *
 * @param gpu - The Gpu that every tensor lives on.
 * @throws TypeError or RangeError, before anything is allocated or recorded, for a bad argument.
 */
export function batchNormGatherStats(gpu: Gpu, options: BatchNormGatherStatsOptions): BatchNormGatherStatsResult {
  assertGpu(gpu);
  gpu.assertAlive();
  const o = readOptions(options, 'batchNormGatherStats options', GATHER_KEYS, false);
  assertReplicaRows(gpu, o.mean, 'mean');
  const mean = o.mean;
  const [replicas, channels] = mean.shape as [number, number];
  assertSameShapeAndDType(o.variance, 'variance', mean, 'mean');
  assertUsableTensor(gpu, o.variance, 'variance');
  const counts = o.counts;
  assertUsableTensor(gpu, counts, 'counts');
  if (counts.dtype !== 'f32' || counts.shape.length !== 1 || counts.shape[0] !== replicas) {
    throw new RangeError(`counts must be f32 [${replicas}] (one count per row of mean [${mean.shape.join(',')}]), got ${counts.dtype} [${counts.shape.join(',')}]`);
  }
  const running = (t: unknown, name: string) => {
    if (t instanceof Tensor && !t.isDestroyed && t.size !== channels) {
      throw new RangeError(`${name} has ${t.size} elements but the replicas' statistics have ${channels} channels (mean [${mean.shape.join(',')}])`);
    }
    return optionalPerChannel(gpu, t, name, channels, mean.shape);
  };
  const runningMean = running(o.runningMean, 'runningMean');
  const runningVar = running(o.runningVar, 'runningVar');
  if ((runningMean === null) !== (runningVar === null)) {
    throw new Error(`runningMean and runningVar go together; got only ${runningMean ? 'runningMean' : 'runningVar'}`);
  }
  const eps = o.eps ?? DEFAULT_EPS;
  assertEps(eps);
  const factor = runningFactor(true, runningMean !== null, o.momentum, o.numBatchesTracked);
  const estimator = o.runningVarEstimator ?? 'unbiased';
  assertRunningVarEstimator(estimator);
  const out = readOptions(o.out, 'batchNormGatherStats options.out', GATHER_OUT_KEYS);
  const flags = (runningMean ? FLAGS.UPDATE_RUNNING : 0) | (estimator === 'biased' ? FLAGS.BIASED_RUNNING_VAR : 0);
  const tensors = runOperation(gpu, {
    label: 'batchNormGatherStats',
    // One invocation per channel (the finalize's grid); the replicas are read whole, not as windows.
    layout: { batch: 1, channels, spatial: 1 },
    encoder: o.encoder as GPUCommandEncoder | undefined,
    timestampWrites: o.timestampWrites as GPUComputePassTimestampWrites | undefined,
    shared: { flags, eps, momentum: factor },
    reduces: false,
    storage: 'f32',
    roles: {
      counts: { name: 'counts', tensor: counts, access: 'read' },
      means: { name: 'mean', tensor: mean, access: 'read' },
      variances: { name: 'variance', tensor: o.variance as Tensor, access: 'read' },
      runningMean: { name: 'runningMean', tensor: runningMean, access: 'update' },
      runningVar: { name: 'runningVar', tensor: runningVar, access: 'update' },
      saveMean: perChannelOutput('mean', out.mean, channels, 'batchNormGatherStats mean'),
      saveInvstd: perChannelOutput('invstd', out.invstd, channels, 'batchNormGatherStats invstd'),
    },
    passes: () => [
      pass({ kernel: 'gather-statistics' }, 'finalize', {
        params,
        counts: whole('counts'),
        means: whole('means'),
        variances: whole('variances'),
        runningMean: whole('runningMean'),
        runningVar: whole('runningVar'),
        saveMean: whole('saveMean'),
        saveInvstd: whole('saveInvstd'),
      }),
    ],
  });
  return { mean: tensors.saveMean!, invstd: tensors.saveInvstd! };
}

/**
 * Normalizes x with given statistics, as torch.batch_norm_elemt.
 *
 * y = (x - mean)*invstd*weight + bias per channel, then the activation (batchNorm's apply pass, with scale
 * and shift from `mean` and `invstd`). An empty x gives an empty y.
 *
 * @example
 * ```ts
 * import { batchNormElemt, requestGpu, Tensor } from 'webgpu-batchnorm';
 *
 * const gpu = await requestGpu();
 * const x = Tensor.fromArray(gpu, Float32Array.from({ length: 4 * 3 * 8 * 8 }, Math.random), [4, 3, 8, 8]);
 * const perChannel = (...values: number[]) => Tensor.fromArray(gpu, values, [3]);
 * // The global statistics (batchNormGatherStats' mean and invstd) and the layer's weight and bias
 * const { y } = batchNormElemt(gpu, x, {
 *   mean: perChannel(0.48, 0.52, 0.5), invstd: perChannel(3.4, 3.5, 3.4), weight: perChannel(1, 1, 1), bias: perChannel(0, 0, 0),
 * });
 * ```
 *
 * @param gpu - The Gpu that every tensor lives on.
 * @param x - This replica's input, of rank 2 to 5, f32 or f16; N may be 0.
 * @throws TypeError or RangeError, before anything is allocated or recorded, for a bad argument.
 */
export function batchNormElemt(gpu: Gpu, x: Tensor, options: BatchNormElemtOptions): BatchNormElemtResult {
  assertGpu(gpu);
  gpu.assertAlive();
  const o = readOptions(options, 'batchNormElemt options', ELEMT_KEYS, false);
  const layout = layoutOf(gpu, x, o.axis);
  const { channels } = layout;
  for (const name of ['mean', 'invstd'] as const) assertPerChannel(gpu, o[name], name, channels, x.shape);
  const weight = optionalPerChannel(gpu, o.weight, 'weight', channels, x.shape);
  const bias = optionalPerChannel(gpu, o.bias, 'bias', channels, x.shape);
  const activation = o.activation ?? null;
  assertActivation(activation);
  const residual = (o.residual ?? null) as Tensor | null;
  if (residual !== null) {
    assertSameShapeAndDType(residual, 'residual', x, 'x');
    assertUsableTensor(gpu, residual, 'residual');
  }
  const out = readOptions(o.out, 'batchNormElemt options.out', ELEMT_OUT_KEYS);
  const storage = storageFor(x.dtype, gpu.features);
  const flags = (weight ? FLAGS.HAS_WEIGHT : 0) | (bias ? FLAGS.HAS_BIAS : 0) | (activation === 'relu' ? FLAGS.RELU : 0);
  const tensors = runOperation(gpu, {
    label: 'batchNormElemt',
    layout,
    encoder: o.encoder as GPUCommandEncoder | undefined,
    timestampWrites: o.timestampWrites as GPUComputePassTimestampWrites | undefined,
    shared: { flags, eps: 0, momentum: 0 },
    reduces: false,
    storage,
    roles: {
      x: { name: 'x', tensor: x, access: 'read' },
      weight: { name: 'weight', tensor: weight, access: 'read' },
      bias: { name: 'bias', tensor: bias, access: 'read' },
      mean: { name: 'mean', tensor: o.mean as Tensor, access: 'read' },
      invstd: { name: 'invstd', tensor: o.invstd as Tensor, access: 'read' },
      z: { name: 'residual', tensor: residual, access: 'read' },
      y: outputRole('out.y', out.y, { shape: x.shape, dtype: x.dtype, label: 'batchNormElemt y' }),
    },
    passes: (plan) => {
      const bindings = {
        params,
        x: windowOf('x'),
        weight: whole('weight'),
        bias: whole('bias'),
        mean: whole('mean'),
        invstd: whole('invstd'),
        y: windowOf('y'),
      };
      return [
        residual
          ? pass({ kernel: 'apply-given-residual', storage, vec4: plan.vec4 }, 'apply', { ...bindings, z: windowOf('z') })
          : pass({ kernel: 'apply-given', storage, vec4: plan.vec4 }, 'apply', bindings),
      ];
    },
  });
  return { y: tensors.y! };
}

/** The checks both backward building blocks share; returns what they pass on. */
function readBackwardCommon(gpu: Gpu, what: string, dy: unknown, x: unknown, o: Partial<Record<(typeof BACKWARD_COMMON_KEYS)[number], unknown>>) {
  const layout = layoutOf(gpu, x, o.axis);
  const xt = x as Tensor;
  assertSameShapeAndDType(dy, 'dy', xt, 'x');
  assertUsableTensor(gpu, dy, 'dy');
  const { channels } = layout;
  for (const name of ['mean', 'invstd'] as const) assertPerChannel(gpu, o[name], name, channels, xt.shape);
  const weight = optionalPerChannel(gpu, o.weight, 'weight', channels, xt.shape);
  const activation = o.activation ?? null;
  assertActivation(activation);
  const bias = optionalPerChannel(gpu, o.bias, 'bias', channels, xt.shape);
  const residual = o.residual ?? false;
  assertBoolean(residual, `${what} options.residual`);
  const relu = activation === 'relu';
  if (bias && !(relu && !residual)) {
    throw new Error(`${what}: bias is read only with activation: 'relu' and no residual (to recompute the forward's ReLU mask; with a residual the mask is the stored y's)`);
  }
  // With a residual and a ReLU the mask is the stored y's sign: the '-residual' kernels read y.
  const storedY = readStoredY(gpu, what, residual, relu, o.y, xt);
  const flags = FLAGS.TRAINING | (weight ? FLAGS.HAS_WEIGHT : 0) | (bias ? FLAGS.HAS_BIAS : 0) | (relu ? FLAGS.RELU : 0);
  const roles = {
    dy: { name: 'dy', tensor: dy as Tensor, access: 'read' },
    x: { name: 'x', tensor: xt, access: 'read' },
    weight: { name: 'weight', tensor: weight, access: 'read' },
    bias: { name: 'bias', tensor: bias, access: 'read' },
    mean: { name: 'mean', tensor: o.mean as Tensor, access: 'read' },
    invstd: { name: 'invstd', tensor: o.invstd as Tensor, access: 'read' },
    y: { name: 'y', tensor: storedY, access: 'read' },
  } as const satisfies Record<string, TensorRole>;
  return { layout, weight, flags, roles, residual, storedMask: storedY !== null, storage: storageFor(xt.dtype, gpu.features) };
}

/**
 * This replica's gradient sums, as torch.batch_norm_backward_reduce.
 *
 * Per channel, sum(dy) and sum(dy*(x - mean)) over this replica's x (dy masked where a fused ReLU clipped y), compensated in f32
 * (batchNormBackward's reduction), and with a weight this replica's dweight = sum(dy*xhat) and dbias =
 * sum(dy). Add sumDy and sumDyXmu over every replica (an all-reduce) for {@link batchNormBackwardElemt};
 * dweight and dbias are this replica's share, which a data-parallel step adds up with the other
 * gradients. An empty x gives zeros.
 *
 * @example
 * ```ts
 * import { batchNormBackwardReduce, requestGpu, Tensor } from 'webgpu-batchnorm';
 *
 * const gpu = await requestGpu();
 * const random = () => Float32Array.from({ length: 4 * 3 * 8 * 8 }, () => Math.random() - 0.5);
 * const x = Tensor.fromArray(gpu, random(), [4, 3, 8, 8]); // this replica's input of the forward
 * const dy = Tensor.fromArray(gpu, random(), [4, 3, 8, 8]); // the gradient of the loss with respect to its y
 * const perChannel = (...values: number[]) => Tensor.fromArray(gpu, values, [3]);
 * // The forward's global statistics (batchNormGatherStats) and weight
 * const { sumDy, sumDyXmu, dweight, dbias } = batchNormBackwardReduce(gpu, dy, x, {
 *   mean: perChannel(0.01, -0.02, 0), invstd: perChannel(3.4, 3.5, 3.4), weight: perChannel(1, 1, 1),
 * });
 * // Add sumDy and sumDyXmu over the replicas (an all-reduce) for batchNormBackwardElemt.
 * ```
 *
 * @param gpu - The Gpu that every tensor lives on.
 * @param dy - The gradient of the loss with respect to this replica's y: x's shape and dtype.
 * @param x - This replica's input of the forward.
 * @throws TypeError or RangeError, before anything is allocated or recorded, for a bad argument.
 */
export function batchNormBackwardReduce(
  gpu: Gpu, dy: Tensor, x: Tensor, options: BatchNormBackwardReduceOptions & { weight: Tensor },
): BatchNormBackwardReduceWeightedResult;
export function batchNormBackwardReduce(gpu: Gpu, dy: Tensor, x: Tensor, options: BatchNormBackwardReduceOptions): BatchNormBackwardReduceResult;
export function batchNormBackwardReduce(gpu: Gpu, dy: Tensor, x: Tensor, options: BatchNormBackwardReduceOptions): BatchNormBackwardReduceResult {
  assertGpu(gpu);
  gpu.assertAlive();
  const o = readOptions(options, 'batchNormBackwardReduce options', BACKWARD_REDUCE_KEYS, false);
  const { layout, weight, flags, roles, storedMask, storage } = readBackwardCommon(gpu, 'batchNormBackwardReduce', dy, x, o);
  const { channels } = layout;
  const out = readOptions(o.out, 'batchNormBackwardReduce options.out', BACKWARD_REDUCE_OUT_KEYS);
  if (!weight && (out.dweight || out.dbias)) throw new Error('out.dweight and out.dbias are written only with a weight');
  const gradient = (name: 'dweight' | 'dbias') =>
    outputRole(`out.${name}`, out[name], weight ? { shape: [channels], dtype: 'f32', label: `batchNormBackwardReduce ${name}` } : null);
  const tensors = runOperation(gpu, {
    label: 'batchNormBackwardReduce',
    layout,
    encoder: o.encoder as GPUCommandEncoder | undefined,
    timestampWrites: o.timestampWrites as GPUComputePassTimestampWrites | undefined,
    shared: { flags, eps: 0, momentum: 0 },
    reduces: true,
    storage,
    roles: {
      ...roles,
      sumDy: perChannelOutput('sumDy', out.sumDy, channels, 'batchNormBackwardReduce sumDy'),
      sumDyXmu: perChannelOutput('sumDyXmu', out.sumDyXmu, channels, 'batchNormBackwardReduce sumDyXmu'),
      dweight: gradient('dweight'),
      dbias: gradient('dbias'),
    },
    zeroedWhenEmpty: ['sumDy', 'sumDyXmu', ...(weight ? (['dweight', 'dbias'] as const) : [])],
    passes: (plan) => {
      const partials = scratch('backward partials', channels * plan.partialStride * GRADIENT_PARTIAL_BYTES);
      const reduce = {
        params,
        x: windowOf('x'),
        dy: windowOf('dy'),
        weight: whole('weight'),
        bias: whole('bias'),
        mean: whole('mean'),
        spread: whole('invstd'),
        partials,
      };
      // With a residual and a ReLU, the mask is read from y instead of recomputed with weight and bias.
      const masked = { params, x: windowOf('x'), dy: windowOf('dy'), y: windowOf('y'), mean: whole('mean'), spread: whole('invstd'), partials };
      const subgroups = gpu.features.subgroups;
      return [
        storedMask
          ? plan.rows
            ? pass({ kernel: 'backward-reduce-rows-residual', storage }, 'reduce', masked)
            : pass({ kernel: 'backward-reduce-residual', storage, vec4: plan.vec4, subgroups }, 'reduce', masked)
          : plan.rows
            ? pass({ kernel: 'backward-reduce-rows', storage }, 'reduce', reduce)
            : pass({ kernel: 'backward-reduce', storage, vec4: plan.vec4, subgroups }, 'reduce', reduce),
        pass({ kernel: 'backward-sums', perInvocation: plan.finalizePerInvocation }, 'finalize', {
          params,
          partials,
          mean: whole('mean'),
          spread: whole('invstd'),
          dweight: whole('dweight'),
          dbias: whole('dbias'),
          sumDy: whole('sumDy'),
          sumDyXmu: whole('sumDyXmu'),
        }),
      ];
    },
  });
  return { sumDy: tensors.sumDy!, sumDyXmu: tensors.sumDyXmu!, dweight: tensors.dweight, dbias: tensors.dbias };
}

/**
 * This replica's dx from the sums of every replica, as torch.batch_norm_backward_elemt.
 *
 * dx = weight*invstd*(dy - sumDy/N - (x - mean)*invstd^2*sumDyXmu/N), N the total of `counts`, dy masked
 * where a fused ReLU clipped y (batchNormBackward's elementwise pass, its coefficients from the given
 * sums). An empty x gives an empty dx.
 *
 * @example
 * ```ts
 * import { batchNormBackwardElemt, requestGpu, Tensor } from 'webgpu-batchnorm';
 *
 * const gpu = await requestGpu();
 * const random = () => Float32Array.from({ length: 4 * 3 * 8 * 8 }, () => Math.random() - 0.5);
 * const x = Tensor.fromArray(gpu, random(), [4, 3, 8, 8]);
 * const dy = Tensor.fromArray(gpu, random(), [4, 3, 8, 8]);
 * const perChannel = (...values: number[]) => Tensor.fromArray(gpu, values, [3]);
 * const { dx } = batchNormBackwardElemt(gpu, dy, x, {
 *   mean: perChannel(0.01, -0.02, 0), invstd: perChannel(3.4, 3.5, 3.4), weight: perChannel(1, 1, 1), // the forward's
 *   sumDy: perChannel(1.5, -0.7, 0.2), sumDyXmu: perChannel(0.3, 0.1, -0.4), // batchNormBackwardReduce's, added over both replicas
 *   counts: Tensor.fromArray(gpu, [256, 256], [2]), // each replica's count, as batchNormGatherStats took them
 * });
 * ```
 *
 * @param gpu - The Gpu that every tensor lives on.
 * @param dy - The gradient of the loss with respect to this replica's y: x's shape and dtype.
 * @param x - This replica's input of the forward.
 * @throws TypeError or RangeError, before anything is allocated or recorded, for a bad argument.
 */
export function batchNormBackwardElemt(gpu: Gpu, dy: Tensor, x: Tensor, options: BatchNormBackwardElemtOptions): BatchNormBackwardElemtResult {
  assertGpu(gpu);
  gpu.assertAlive();
  const o = readOptions(options, 'batchNormBackwardElemt options', BACKWARD_ELEMT_KEYS, false);
  const { layout, flags, roles, residual, storedMask, storage } = readBackwardCommon(gpu, 'batchNormBackwardElemt', dy, x, o);
  const { channels } = layout;
  for (const name of ['sumDy', 'sumDyXmu'] as const) assertPerChannel(gpu, o[name], name, channels, x.shape);
  const counts = o.counts;
  assertUsableTensor(gpu, counts, 'counts');
  if (counts.dtype !== 'f32' || counts.shape.length !== 1 || counts.size === 0) {
    throw new RangeError(`counts must be f32 [W], each replica's count (W >= 1), got ${counts.dtype} [${counts.shape.join(',')}]`);
  }
  const out = readOptions(o.out, 'batchNormBackwardElemt options.out', BACKWARD_ELEMT_OUT_KEYS);
  if (!residual && out.dz) throw new Error('out.dz is written only with residual: true');
  // dz is dy masked by the ReLU, written by 'backward-apply-residual'; without a ReLU it is dy itself, and
  // that kernel runs only to copy it into out.dz.
  const residualKernel = storedMask || (residual && out.dz !== undefined);
  const mask = optionalMask(gpu, o.mask, x.shape, (o.axis ?? 1) as number);
  const tensors = runOperation(gpu, {
    label: 'batchNormBackwardElemt',
    layout,
    encoder: o.encoder as GPUCommandEncoder | undefined,
    timestampWrites: o.timestampWrites as GPUComputePassTimestampWrites | undefined,
    shared: { flags, eps: 0, momentum: 0 },
    reduces: false,
    masked: mask !== null,
    storage,
    roles: {
      ...roles,
      mask: { name: 'mask', tensor: mask, access: 'read' },
      sumDy: { name: 'sumDy', tensor: o.sumDy as Tensor, access: 'read' },
      sumDyXmu: { name: 'sumDyXmu', tensor: o.sumDyXmu as Tensor, access: 'read' },
      counts: { name: 'counts', tensor: counts, access: 'read' },
      dx: outputRole('out.dx', out.dx, { shape: x.shape, dtype: x.dtype, label: 'batchNormBackwardElemt dx' }),
      dz: outputRole('out.dz', out.dz, residualKernel ? { shape: x.shape, dtype: x.dtype, label: 'batchNormBackwardElemt dz' } : null),
    },
    passes: (plan) => {
      const coefficients = scratch('backward coefficients', channels * COEFFICIENT_BYTES);
      return [
        pass({ kernel: 'global-coefficients' }, 'finalize', {
          params,
          weight: whole('weight'),
          bias: whole('bias'),
          mean: whole('mean'),
          spread: whole('invstd'),
          sumDy: whole('sumDy'),
          sumDyXmu: whole('sumDyXmu'),
          counts: whole('counts'),
          coefficients,
        }),
        inputGradientPass(mask !== null, residualKernel, storage, plan.vec4, coefficients),
      ];
    },
  });
  return { dx: tensors.dx!, dz: residual ? (tensors.dz ?? (dy as Tensor)) : null };
}

