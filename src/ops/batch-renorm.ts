// Batch renormalization (Keras 3's BatchNormalization with renorm=True) as passes for the runner, run by
// the BatchNorm module: a training forward is batchNormStats' reduction, the per-channel 'renorm' pass
// (batch statistics, r and d, the moving statistics) and batchNormElemt's apply with the renormalized
// weight r*gamma and bias d*gamma + beta, so x is read twice, as by the three-pass training forward. The
// backward is batchNormBackward's with weight r*gamma; 'renorm-gradient' then turns its dweight into
// dgamma. The per-channel values live in one tensor of rows (RENORM_ROWS), which the 'renorm' pass writes
// through one binding and every other pass reads as separate tensors, one per row.
import { statisticsPass } from './shared-passes.js';
import { storageFor } from '../engine/element-storage.js';
import { FLAGS } from '../engine/params.js';
import { pass, params, runOperation, scratch, whole, type EncoderOptions } from '../engine/runner.js';
import type { Gpu } from '../runtime/gpu.js';
import { channelLayout } from '../runtime/shape.js';
import { Tensor } from '../runtime/tensor.js';
import { assertOutput, assertSameShapeAndDType, assertUsableTensor, optionalMask, optionalPerChannel, type Activation } from '../runtime/validate.js';
import { overlaps } from '../runtime/write-log.js';
import { batchNormElemt } from './sync-batch-norm.js';

/** The rows of the renorm tensor, in shaders/renorm.wgsl's order (its ROW_* constants). */
export const RENORM_ROWS = ['runningStddev', 'renormMean', 'renormStddev', 'saveMean', 'saveInvstd', 'weight', 'bias', 'r', 'd'] as const;
export type RenormRow = (typeof RENORM_ROWS)[number];
/** Values per row, rounded up: shaders/renorm.wgsl's RENORM_ROW_VALUES (256 bytes, any device's storage offset alignment). */
const ROW_VALUES = 64;
// Mirrors struct Partial of shaders/stats.wgsl and struct RenormSettings of shaders/renorm.wgsl.
const PARTIAL_BYTES = 32;
const SETTINGS_VALUES = 8;

/** Keras's renorm_clipping as the module keeps it: each bound, or null where the key is absent. */
export interface RenormBounds {
  readonly rmin: number | null;
  readonly rmax: number | null;
  readonly dmax: number | null;
}

/** A module's renorm state: the tensor of rows, each row as a tensor of its own, and the constants of its passes. */
export interface RenormState {
  /** Every row, bound whole by the 'renorm' pass. */
  readonly all: Tensor;
  /** Row by row, f32 [C] each: views of `all`'s buffer. */
  readonly rows: Readonly<Record<RenormRow, Tensor>>;
  /** struct RenormSettings: the renorm momentum and the clipping. */
  readonly settings: Tensor;
}

/** The renorm tensor's shape for `channels` channels: a row per RENORM_ROWS name, each padded to ROW_VALUES values. */
export function renormStateShape(channels: number): [number, number] {
  return [RENORM_ROWS.length, Math.ceil(channels / ROW_VALUES) * ROW_VALUES];
}

/** The rows of a renorm tensor `all` (renormStateShape's), f32 [C] each: views of its buffer. */
export function renormRows(gpu: Gpu, all: Tensor, channels: number): Record<RenormRow, Tensor> {
  const [, stride] = renormStateShape(channels);
  return Object.fromEntries(
    RENORM_ROWS.map((name, i) => [name, Tensor.fromBuffer(gpu, all.buffer, [channels], { byteOffset: all.byteOffset + i * stride * 4, label: `BatchNorm ${name}` })]),
  ) as Record<RenormRow, Tensor>;
}

/** struct RenormSettings's values: `momentum` (the renorm momentum's weight of the batch's value) and the bounds. */
export function renormSettingsValues(momentum: number, bounds: RenormBounds): number[] {
  const { rmin, rmax, dmax } = bounds;
  return [momentum, rmin ?? 0, rmax ?? 0, dmax ?? 0, rmin === null ? 0 : 1, rmax === null ? 0 : 1, dmax === null ? 0 : 1, 0];
}

/**
 * A renorm state of `channels` channels: running and renorm standard deviations `stddev` (Keras's
 * sqrt(moving_variance's initial value)), renorm_mean 0. `momentum` is the renorm momentum's weight of the
 * batch's value.
 */
export function createRenormState(gpu: Gpu, channels: number, stddev: number, momentum: number, bounds: RenormBounds): RenormState {
  const shape = renormStateShape(channels);
  const stride = shape[1];
  const initial = new Float32Array(RENORM_ROWS.length * stride);
  initial.fill(stddev, 0, channels);
  initial.fill(stddev, 2 * stride, 2 * stride + channels);
  const all = Tensor.fromArray(gpu, initial, shape, { label: 'BatchNorm renorm state' });
  const settings = Tensor.fromArray(gpu, renormSettingsValues(momentum, bounds), [SETTINGS_VALUES], { label: 'BatchNorm renorm settings' });
  return { all, rows: renormRows(gpu, all, channels), settings };
}

/** Options of {@link renormForward}: the module's tensors and settings, and where to write and record. */
export interface RenormForwardOptions extends EncoderOptions {
  readonly state: RenormState;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  /** moving_mean's and moving_stddev's weight of the batch's value (1/numBatchesTracked for a cumulative average). */
  readonly momentum: number;
  readonly eps: number;
  readonly axis: number;
  readonly activation: Activation | null;
  readonly residual: Tensor | null;
  /** Keras's mask of positions (batchNorm's `mask`): the batch statistics are the kept positions'. */
  readonly mask: Tensor | null;
  readonly y: Tensor | undefined;
}

/**
 * A training forward with batch renormalization: returns y, and leaves in the state's rows the batch
 * statistics (saveMean, saveInvstd), r and d, and the renormalized weight and bias, for the backward.
 * Two operations, since the apply reads as separate tensors the rows that 'renorm' writes as one: the
 * statistics and 'renorm' passes, then batchNormElemt's apply. Everything the second checks is checked
 * before the first records anything.
 */
export function renormForward(gpu: Gpu, x: Tensor, o: RenormForwardOptions): Tensor {
  assertUsableTensor(gpu, x, 'x');
  const layout = channelLayout(x.shape, o.axis);
  const { batch, channels, spatial } = layout;
  optionalPerChannel(gpu, o.runningMean, 'runningMean', channels, x.shape);
  if (batch * spatial <= 1) throw new RangeError(`Expected more than 1 value per channel when training, got input size [${x.shape.join(',')}]`);
  if (o.residual) {
    assertSameShapeAndDType(o.residual, 'residual', x, 'x');
    assertUsableTensor(gpu, o.residual, 'residual');
  }
  if (o.y) {
    assertOutput(gpu, o.y, 'out.y', x.shape, x.dtype);
    for (const [name, t] of [['x', x], ['residual', o.residual]] as const) {
      if (t && overlaps(o.y, t)) throw new Error(`out.y ${o.y === t ? 'is the same tensor as' : 'overlaps'} ${name}; a tensor the operation writes must not alias its other tensors`);
    }
  }
  const mask = optionalMask(gpu, o.mask, x.shape, o.axis);
  const { all, rows, settings } = o.state;
  const storage = storageFor(x.dtype, gpu.features);
  runOperation(gpu, {
    label: 'BatchNorm renorm statistics',
    layout,
    encoder: o.encoder,
    timestampWrites: o.timestampWrites,
    shared: { flags: FLAGS.TRAINING | (o.weight ? FLAGS.HAS_WEIGHT : 0) | (o.bias ? FLAGS.HAS_BIAS : 0), eps: o.eps, momentum: o.momentum },
    reduces: true,
    masked: mask !== null,
    storage,
    roles: {
      x: { name: 'x', tensor: x, access: 'read' },
      mask: { name: 'mask', tensor: mask, access: 'read' },
      weight: { name: 'weight', tensor: o.weight, access: 'read' },
      bias: { name: 'bias', tensor: o.bias, access: 'read' },
      settings: { name: 'renorm settings', tensor: settings, access: 'read' },
      runningMean: { name: 'runningMean', tensor: o.runningMean, access: 'update' },
      runningVar: { name: 'runningVar', tensor: o.runningVar, access: 'update' },
      renorm: { name: 'renorm state', tensor: all, access: 'update' },
    },
    passes: (plan) => {
      const partials = scratch('forward partials', channels * plan.partialStride * PARTIAL_BYTES);
      return [
        statisticsPass(gpu, plan, storage, partials, mask !== null),
        pass({ kernel: 'renorm', perInvocation: plan.finalizePerInvocation }, 'finalize', {
          params,
          partials,
          weight: whole('weight'),
          bias: whole('bias'),
          settings: whole('settings'),
          runningMean: whole('runningMean'),
          runningVar: whole('runningVar'),
          renorm: whole('renorm'),
        }),
      ];
    },
  });
  const { y } = batchNormElemt(gpu, x, {
    mean: rows.saveMean,
    invstd: rows.saveInvstd,
    weight: rows.weight,
    bias: rows.bias,
    axis: o.axis,
    activation: o.activation,
    residual: o.residual,
    ...(o.y ? { out: { y: o.y } } : {}),
    ...(o.encoder ? { encoder: o.encoder } : {}),
  });
  return y;
}

/**
 * dgamma = r*dweight + d*dbias, written over `dweight`: the training backward's gradients with the
 * renormalized weight, made gamma's (r and d from the state's rows).
 */
export function renormGammaGradient(gpu: Gpu, state: Pick<RenormState, 'rows'>, dweight: Tensor, dbias: Tensor, encoder: GPUCommandEncoder | undefined): void {
  const channels = dweight.size;
  runOperation(gpu, {
    label: 'BatchNorm renorm dgamma',
    // One invocation per channel (the finalize's grid), as batchNormGatherStats.
    layout: { batch: 1, channels, spatial: 1 },
    encoder,
    shared: { flags: 0, eps: 0, momentum: 0 },
    reduces: false,
    storage: 'f32',
    roles: {
      r: { name: 'r', tensor: state.rows.r, access: 'read' },
      d: { name: 'd', tensor: state.rows.d, access: 'read' },
      dbias: { name: 'dbias', tensor: dbias, access: 'read' },
      dweight: { name: 'dweight', tensor: dweight, access: 'update' },
    },
    passes: () => [pass({ kernel: 'renorm-gradient' }, 'finalize', { params, r: whole('r'), d: whole('d'), dbias: whole('dbias'), dweight: whole('dweight') })],
  });
}
