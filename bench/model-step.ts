// The benchmark's model row: one training step of the seed article's CNN (./seed-cnn.ts) in TensorFlow.js,
// with tfjs's BatchNormalization against webgpu-batchnorm/tfjs's, on the benchmark's device, and the
// share of each step spent in batch norm. This module is the pure part (what is measured, the report's
// types); ./model-step-run.ts measures (imported dynamically: it loads TensorFlow.js).
import { BATCH_NORM_WORK_TEXT } from './seed-cnn.js';

/** The batches the row is measured at (each where memory allows: one that fails records why). */
export const MODEL_BATCHES: readonly number[] = [64, 256];
/** On a CPU-emulated adapter a step at batch 64 takes tens of seconds: batch 256 only when asked for. */
export const EMULATED_MODEL_BATCHES: readonly number[] = [64];

/** What a step's time is. */
export const MODEL_STEP_TIMING =
  'wall time of model.trainOnBatch(x, y) until it resolves (its loss read back: the whole step, forward, backward and ' +
  "Adam's update, done on the GPU), steps back to back, per step; the same seeded batch every step (the cost does not " +
  'depend on the values); both models from the same weights, on tfjs-backend-webgpu constructed on the benchmark\'s device';

/** What batch norm's time is. */
export const BATCH_NORM_TIMING =
  `${BATCH_NORM_WORK_TEXT}. Calls back to back, then one flush of tfjs's pending commands and one onSubmittedWorkDone, per call`;

/** One model at one batch. */
export interface ModelStepTiming {
  /** Median ms per training step. */
  readonly stepMs: number;
  readonly stepMinMs: number;
  readonly stepsPerTrial: number;
  /** Median ms of the model's batch norm on its own (BATCH_NORM_TIMING). */
  readonly batchNormMs: number;
  readonly batchNormMinMs: number;
  readonly batchNormCallsPerTrial: number;
  /** batchNormMs / stepMs. */
  readonly batchNormShare: number;
  /** The first step's loss, from the weights both models start from. */
  readonly firstLoss: number;
  /** Warm-up trials of the step's series, and whether they had settled (null: a fixed warm-up). */
  readonly warmup: { readonly trials: number; readonly stable: boolean | null };
}

export interface ModelStepRow {
  readonly batch: number;
  /** With tfjs's BatchNormalization; null when the batch could not run. */
  readonly tfjs: ModelStepTiming | null;
  /** With webgpu-batchnorm/tfjs's; null when the batch could not run. */
  readonly ours: ModelStepTiming | null;
  /** ours.stepMs / tfjs.stepMs: below 1 the model with our batch norm trains faster. */
  readonly stepRatio: number | null;
  /** |first loss ours - tfjs's| / |tfjs's|. */
  readonly lossDifference: number | null;
  /** lossDifference within LOSS_AGREEMENT_RTOL (./seed-cnn.ts). */
  readonly passed: boolean;
  /** Why the batch did not run (memory, a GPU error, a leak). */
  readonly error?: string;
}

export interface ModelStepReport {
  /** The network and its training, in words. */
  readonly network: string;
  /** The two models' batch norm, with versions. */
  readonly libraries: { readonly tfjs: string; readonly ours: string };
  readonly stepTiming: string;
  readonly batchNormTiming: string;
  readonly statistic: string;
  /** What each row's check is. */
  readonly check: string;
  readonly rows: readonly ModelStepRow[];
}

/** The row of a batch that could not run. */
export function failedModelRow(batch: number, error: unknown): ModelStepRow {
  return { batch, tfjs: null, ours: null, stepRatio: null, lossDifference: null, passed: false, error: error instanceof Error ? error.message : String(error) };
}

/** The row of a batch from both models' timings. */
export function modelRow(batch: number, tfjs: ModelStepTiming, ours: ModelStepTiming, lossTolerance: number): ModelStepRow {
  const lossDifference = Math.abs(ours.firstLoss - tfjs.firstLoss) / Math.abs(tfjs.firstLoss);
  return { batch, tfjs, ours, stepRatio: ours.stepMs / tfjs.stepMs, lossDifference, passed: lossDifference <= lossTolerance };
}

/** Parses a list of batches ("64,256"): positive integers, at least one, no repeats. */
export function parseModelBatches(text: string): number[] {
  const batches = text.split(',').map((part) => part.trim());
  const numbers = batches.map(Number);
  const bad = batches.filter((part, i) => !/^\d+$/.test(part) || numbers[i]! < 2);
  if (batches.length === 0 || bad.length > 0) {
    throw new RangeError(`model batches must be integers of at least 2 separated by commas, e.g. "64,256"; got ${JSON.stringify(text)}`);
  }
  if (new Set(numbers).size !== numbers.length) throw new RangeError(`model batches repeat one: ${JSON.stringify(text)}`);
  return numbers;
}
