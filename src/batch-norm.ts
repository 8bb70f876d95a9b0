// Batch-norm forward (torch.nn.functional.batch_norm): validates, plans and encodes the three passes
// statistics -> finalize -> apply (inference skips statistics) in one submit. A tensor larger than one
// storage binding runs the statistics and apply passes once per window of whole samples.
import { dispatch, planOperation, submitPass, tensorWindow } from './encode.js';
import type { Gpu } from './gpu.js';
import { bindBuffers, getKernel } from './pipelines.js';
import { FLAG_HAS_BIAS, FLAG_HAS_WEIGHT, FLAG_TRAINING, FLAG_UPDATE_RUNNING, packParams, paramsSlot, windowParams } from './params.js';
import { scratchFor } from './scratch.js';
import { channelLayout } from './shape.js';
import { outputTensors, recordOperation, type Tensor } from './tensor.js';
import { assertEps, assertMomentum, assertNotAliased, assertPerChannel, assertTimestampWrites, assertUsableTensor } from './validate.js';

export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  runningMean?: Tensor | null;
  runningVar?: Tensor | null;
  /** Normalize with the batch statistics (and update the running ones) or with the running ones. */
  training: boolean;
  /** Running-statistics factor, default 0.1; null means a cumulative average over `numBatchesTracked`. */
  momentum?: number | null;
  /** With `momentum: null`: batches seen including this one (the factor is 1/numBatchesTracked). */
  numBatchesTracked?: number;
  eps?: number;
  /** Tensors to write instead of allocating new ones (a steady state without allocations). */
  out?: { y?: Tensor; saveMean?: Tensor; saveInvstd?: Tensor };
  /** Timestamps around the operation's compute pass (needs 'timestamp-query'). */
  timestampWrites?: GPUComputePassTimestampWrites;
}

export interface BatchNormResult {
  y: Tensor;
  /** Training only: the batch mean per channel. */
  saveMean: Tensor | null;
  /** Training only: 1/sqrt(biased batch variance + eps) per channel. */
  saveInvstd: Tensor | null;
}

export const DEFAULT_EPS = 1e-5;
export const DEFAULT_MOMENTUM = 0.1;

// Mirrors struct Partial in shaders/stats.wgsl and the scale-shift pairs of shaders/finalize.wgsl.
const PARTIAL_BYTES = 16;
const SCALE_SHIFT_BYTES = 8;

export function batchNorm(gpu: Gpu, x: Tensor, options: BatchNormOptions): BatchNormResult {
  gpu.assertAlive();
  if (options === null || typeof options !== 'object' || typeof options.training !== 'boolean') {
    throw new TypeError('batchNorm options must say training: true or false');
  }
  assertUsableTensor(gpu, x, 'x');
  const layout = channelLayout(x.shape);
  const { batch, channels, spatial } = layout;
  const { training } = options;
  const weight = options.weight ?? null;
  const bias = options.bias ?? null;
  const runningMean = options.runningMean ?? null;
  const runningVar = options.runningVar ?? null;
  const perChannel = { weight, bias, runningMean, runningVar };
  for (const [name, t] of Object.entries(perChannel)) if (t) assertPerChannel(gpu, t, name, channels, x.shape);
  if ((runningMean === null) !== (runningVar === null)) {
    throw new Error(`runningMean and runningVar go together; got only ${runningMean ? 'runningMean' : 'runningVar'}`);
  }
  const eps = options.eps ?? DEFAULT_EPS;
  assertEps(eps);
  const factor = runningFactor(options);
  if (!training && !runningMean) {
    throw new Error('inference (training: false) needs runningMean and runningVar');
  }
  if (training && batch * spatial <= 1) {
    throw new RangeError(`Expected more than 1 value per channel when training, got input size [${x.shape.join(',')}]`);
  }
  const out = options.out ?? {};
  if (!training && (out.saveMean || out.saveInvstd)) throw new Error('out.saveMean and out.saveInvstd are written in training only');
  assertTimestampWrites(gpu, options.timestampWrites);
  const inputs = [
    { name: 'x', tensor: x },
    { name: 'weight', tensor: weight },
    { name: 'bias', tensor: bias },
    { name: 'runningMean', tensor: runningMean },
    { name: 'runningVar', tensor: runningVar },
  ];
  // The finalize binds the running statistics writable (training updates them in place).
  if (runningMean && runningVar) {
    assertNotAliased(runningMean, 'runningMean', inputs.filter((i) => i.name !== 'runningMean'));
    assertNotAliased(runningVar, 'runningVar', inputs.filter((i) => i.name !== 'runningVar'));
  }

  const plan = planOperation(gpu, layout);
  const flags =
    (training ? FLAG_TRAINING : 0) |
    (weight ? FLAG_HAS_WEIGHT : 0) |
    (bias ? FLAG_HAS_BIAS : 0) |
    (training && runningMean ? FLAG_UPDATE_RUNNING : 0);
  const params = packParams(windowParams(plan, layout, { flags, eps, momentum: factor }));

  const scratch = scratchFor(gpu);
  const paramsBuffer = scratch.uniform('forward params', params.byteLength);
  const partials = scratch.storage('forward partials', channels * plan.partialStride * PARTIAL_BYTES);
  const scaleShift = scratch.storage('forward scale-shift', channels * SCALE_SHIFT_BYTES);

  const [y, saveMean = null, saveInvstd = null] = outputTensors(gpu, inputs, [
    { name: 'out.y', provided: out.y, shape: x.shape, label: 'batchNorm y' },
    ...(training
      ? [
          { name: 'out.saveMean', provided: out.saveMean, shape: [channels], label: 'batchNorm saveMean' },
          { name: 'out.saveInvstd', provided: out.saveInvstd, shape: [channels], label: 'batchNorm saveInvstd' },
        ]
      : []),
  ]) as [Tensor, Tensor?, Tensor?];

  const submission = { label: 'batchNorm forward', paramsBuffer, params, timestampWrites: options.timestampWrites };
  const error = submitPass(gpu, submission, (pass) => {
    if (training) {
      const stats = getKernel(gpu, { kernel: 'stats', vec4: plan.vec4, subgroups: gpu.features.subgroups });
      plan.windows.forEach((w, slot) => {
        const bindings = [paramsSlot(paramsBuffer, slot), tensorWindow(x, w.chunk), partials];
        dispatch(pass, stats, bindBuffers(gpu, stats, bindings), w.reduceGrid);
      });
    }
    const finalize = getKernel(gpu, { kernel: 'finalize' });
    const orPlaceholder = (t: Tensor | null, name: string) => t?.buffer ?? scratch.placeholder(name);
    dispatch(
      pass,
      finalize,
      bindBuffers(gpu, finalize, [
        paramsSlot(paramsBuffer, 0),
        partials,
        orPlaceholder(weight, 'weight'),
        orPlaceholder(bias, 'bias'),
        orPlaceholder(runningMean, 'runningMean'),
        orPlaceholder(runningVar, 'runningVar'),
        orPlaceholder(saveMean, 'saveMean'),
        orPlaceholder(saveInvstd, 'saveInvstd'),
        scaleShift,
      ]),
      plan.finalizeGrid,
    );
    const apply = getKernel(gpu, { kernel: 'apply', vec4: plan.vec4 });
    plan.windows.forEach((w, slot) => {
      const bindings = [paramsSlot(paramsBuffer, slot), tensorWindow(x, w.chunk), scaleShift, tensorWindow(y, w.chunk)];
      dispatch(pass, apply, bindBuffers(gpu, apply, bindings), w.applyGrid);
    });
  });
  recordOperation([y, saveMean, saveInvstd, runningMean, runningVar], [x, weight, bias, runningMean, runningVar], error);
  return { y, saveMean, saveInvstd };
}

/** The factor that blends batch statistics into the running ones (PyTorch's exponential_average_factor). */
function runningFactor(options: BatchNormOptions): number {
  const momentum = options.momentum === undefined ? DEFAULT_MOMENTUM : options.momentum;
  if (momentum !== null) {
    assertMomentum(momentum);
    return momentum;
  }
  if (!options.training || !options.runningMean) return 0; // nothing is updated
  const tracked = options.numBatchesTracked;
  if (tracked === undefined || !Number.isInteger(tracked) || tracked < 1) {
    throw new RangeError(`momentum: null (cumulative average) needs numBatchesTracked >= 1 including this batch, got ${tracked}`);
  }
  return 1 / tracked;
}
