// Timing statistics of the benchmark: trials are timed runs of many iterations; the first ones warm
// caches and clocks and are dropped; the median of the rest is the result (robust to stray slow trials),
// with the minimum beside it. The GPU's measurements warm up until their time is stable and interleave
// the series they compare (variants, the copy kernel) trial by trial, so a clock that drifts hits all alike.
// Also here: the bytes each kernel moves, the one source of every bandwidth figure.
import type { KernelName } from '../src/engine/kernels.js';

/** One f32 value of a tensor of x's shape, read or written once. */
const VALUE_BYTES = 4;

/**
 * Bytes each kernel must move per element of x (f32): its reads and writes of tensors of x's shape.
 * Per-channel traffic is not counted; null for a kernel that touches only per-channel data (the
 * finalizes). The one-dispatch kernels move what their two passes would. A '-residual' kernel moves one
 * tensor more: z read (forward), or y read for the ReLU mask and dz written (backward, whose dx passes
 * read y once more).
 */
export const KERNEL_BYTES_PER_ELEMENT: Readonly<Record<KernelName, number | null>> = {
  stats: VALUE_BYTES, // read x
  'stats-rows': VALUE_BYTES,
  'stats-masked': VALUE_BYTES, // read x (and the mask, 1/C of it: not counted)
  'stats-rows-masked': VALUE_BYTES,
  'stats-apply': 3 * VALUE_BYTES, // read x twice, write y
  'stats-apply-rows': 3 * VALUE_BYTES,
  'stats-apply-residual': 4 * VALUE_BYTES, // read x twice and z, write y
  'stats-apply-rows-residual': 4 * VALUE_BYTES,
  finalize: null,
  apply: 2 * VALUE_BYTES, // read x, write y
  'apply-running': 2 * VALUE_BYTES,
  'apply-residual': 3 * VALUE_BYTES, // read x and z, write y
  'apply-running-residual': 3 * VALUE_BYTES,
  'backward-reduce': 2 * VALUE_BYTES, // read dy and x
  'backward-reduce-rows': 2 * VALUE_BYTES,
  'backward-reduce-residual': 3 * VALUE_BYTES, // read dy, x and y
  'backward-reduce-rows-residual': 3 * VALUE_BYTES,
  'backward-fused': 5 * VALUE_BYTES, // read dy and x twice, write dx
  'backward-fused-rows': 5 * VALUE_BYTES,
  'backward-fused-residual': 8 * VALUE_BYTES, // read dy, x and y twice, write dx and dz
  'backward-fused-rows-residual': 8 * VALUE_BYTES,
  'backward-finalize': null,
  'backward-finalize-masked': null,
  'mask-count': null, // reads the mask only
  'mask-count-partial': null, // reads the mask only
  'backward-apply': 3 * VALUE_BYTES, // read dy and x, write dx
  'backward-apply-residual': 5 * VALUE_BYTES, // read dy, x and y, write dx and dz
  'backward-apply-masked': 3 * VALUE_BYTES,
  'backward-apply-masked-residual': 5 * VALUE_BYTES,
  moments: null,
  'gather-statistics': null,
  'apply-given': 2 * VALUE_BYTES, // read x, write y
  'apply-given-residual': 3 * VALUE_BYTES, // read x and z, write y
  'backward-sums': null,
  'global-coefficients': null,
  renorm: null,
  'renorm-gradient': null,
};

/** Bytes a training forward must move per element: read x twice (statistics, apply), write y once. */
export const FORWARD_BYTES_PER_ELEMENT = KERNEL_BYTES_PER_ELEMENT['stats-apply']!;
/** Bytes an inference forward must move per element: read x, write y. */
export const INFERENCE_BYTES_PER_ELEMENT = KERNEL_BYTES_PER_ELEMENT['apply-running']!;
/** Bytes a backward must move per element: read dy and x twice (reductions, dx), write dx once. */
export const BACKWARD_BYTES_PER_ELEMENT = KERNEL_BYTES_PER_ELEMENT['backward-fused']!;
/** Bytes the copy kernel (the roofline, bench/copy.wgsl) moves per element: read one value, write one. */
export const COPY_BYTES_PER_ELEMENT = 2 * VALUE_BYTES;
/** Bytes the add+ReLU kernel (bench/add-relu.wgsl) moves per element: read y and z, write relu(y + z). */
export const ADD_RELU_BYTES_PER_ELEMENT = 3 * VALUE_BYTES;
/** A training forward with the residual fused: read x twice and z, write y. */
export const RESIDUAL_FUSED_BYTES_PER_ELEMENT = KERNEL_BYTES_PER_ELEMENT['stats-apply-residual']!;
/** The unfused sequence: the training forward (y written), then the add+ReLU kernel (y read again). */
export const RESIDUAL_UNFUSED_BYTES_PER_ELEMENT = FORWARD_BYTES_PER_ELEMENT + ADD_RELU_BYTES_PER_ELEMENT;

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface TrialSummary {
  /** Median milliseconds per iteration over the kept trials. */
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  /** Milliseconds per iteration of every kept trial, in run order. */
  readonly keptMs: readonly number[];
  /** Trials dropped as warm-up. */
  readonly warmupTrials: number;
}

/** Summarizes per-iteration trial times, dropping the first `warmupTrials` of them. */
export function summarizeTrials(trialMs: readonly number[], warmupTrials: number): TrialSummary {
  if (!Number.isInteger(warmupTrials) || warmupTrials < 0) {
    throw new RangeError(`warmupTrials must be a non-negative integer, got ${warmupTrials}`);
  }
  const kept = trialMs.slice(warmupTrials);
  if (kept.length === 0) {
    throw new RangeError(`${trialMs.length} trial(s) with ${warmupTrials} warm-up leave none to summarize`);
  }
  return { medianMs: median(kept), minMs: Math.min(...kept), maxMs: Math.max(...kept), keptMs: kept, warmupTrials };
}

/** Achieved bandwidth in GB/s (10^9 bytes per second) for `elements` moving `bytesPerElement` in `ms`. */
export function gigabytesPerSecond(elements: number, bytesPerElement: number, ms: number): number {
  return (elements * bytesPerElement) / (ms * 1e6);
}

/** How every measurement of the benchmark is trialled. */
export interface BenchmarkSettings {
  /** Timed trials kept for the median. */
  readonly trials: number;
  /** Trials run first and dropped; for the GPU's measurements, the least of them. */
  readonly warmupTrials: number;
  /** Iterations per trial are chosen so that a trial lasts about this long. */
  readonly targetTrialMs: number;
  readonly maxIterations: number;
  /**
   * The GPU's warm-up goes on until the last `stableTrials` trials of every series compared lie within
   * `stableTolerance` (relative spread, (max - min) / min) of each other, or `maxWarmupTrials` have run.
   */
  readonly stableTrials: number;
  readonly stableTolerance: number;
  readonly maxWarmupTrials: number;
}

/** Iterations per trial so that one trial lasts about `targetTrialMs`, given one call's time. */
export function iterationsFor(callMs: number, settings: Pick<BenchmarkSettings, 'targetTrialMs' | 'maxIterations'>): number {
  const wanted = Math.round(settings.targetTrialMs / Math.max(callMs, 1e-3));
  return Math.min(settings.maxIterations, Math.max(1, wanted));
}

/** (max - min) / min of the values. */
export function relativeSpread(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('spread of no values');
  const min = Math.min(...values);
  return (Math.max(...values) - min) / min;
}

/** Whether the last `window` trial times agree within `tolerance` (relative spread); false with fewer. */
export function isStable(trialMs: readonly number[], window: number, tolerance: number): boolean {
  if (!Number.isInteger(window) || window < 2) throw new RangeError(`the stability window must be an integer of at least 2, got ${window}`);
  return trialMs.length >= window && relativeSpread(trialMs.slice(-window)) <= tolerance;
}

/** What one trial of a series returns: ms per iteration, and anything else the series keeps. */
export interface TrialResult {
  readonly ms: number;
}

/** `trial(n)` runs n iterations of one series' work and returns ms per iteration. */
export type Trial<T extends TrialResult> = (iterations: number) => T | Promise<T>;

/** How warm-up ends: after exactly `warmupTrials`, or (the GPU's) once every series is stable. */
export type Warmup = 'fixed' | 'until-stable';

export interface SeriesResult<T extends TrialResult> {
  /** Iterations per trial, sized from one iteration's time. */
  readonly iterations: number;
  /** Warm-up trials' ms per iteration, in run order. */
  readonly warmupMs: readonly number[];
  /** Whether this series' last warm-up trials were within the tolerance (see isStable); null where the warm-up was fixed. */
  readonly stable: boolean | null;
  /** The timed trials, in run order. */
  readonly kept: readonly T[];
  readonly summary: TrialSummary;
}

/**
 * The one trial scheme. Each series' trials are sized so that one lasts about `targetTrialMs` (from
 * the faster of two single iterations), unless `sized` gives their iterations; then
 * rounds run one trial of every series, in turn (reversed every other round, so that no series always
 * follows the same one): warm-up rounds, then `trials` timed rounds. A fixed warm-up runs
 * `warmupTrials` rounds; 'until-stable' runs at least that many, and more until the last `stableTrials`
 * of every series are within `stableTolerance`, or `maxWarmupTrials` rounds have run.
 */
export async function interleavedTrials<T extends TrialResult>(
  settings: BenchmarkSettings,
  series: readonly Trial<T>[],
  warmup: Warmup,
  sized?: readonly number[],
): Promise<SeriesResult<T>[]> {
  if (series.length === 0) throw new RangeError('interleavedTrials needs at least one series');
  if (sized && sized.length !== series.length) throw new RangeError(`${sized.length} iteration counts for ${series.length} series`);
  const iterations: number[] = [];
  // The faster of two single iterations: a first one can carry one-off costs (a pipeline's first use).
  for (const [i, trial] of series.entries()) iterations.push(sized?.[i] ?? iterationsFor(Math.min((await trial(1)).ms, (await trial(1)).ms), settings));
  const results: T[][] = series.map(() => []);
  let round = 0;
  const runRound = async () => {
    const order = series.map((_, i) => i);
    if (round % 2 === 1) order.reverse();
    for (const i of order) results[i]!.push(await series[i]!(iterations[i]!));
    round++;
  };
  const maxWarmup = warmup === 'fixed' ? settings.warmupTrials : Math.max(settings.warmupTrials, settings.maxWarmupTrials);
  const stable = () => results.every((r) => isStable(r.map((t) => t.ms), settings.stableTrials, settings.stableTolerance));
  while (round < maxWarmup && (round < settings.warmupTrials || !stable())) await runRound();
  const warmupRounds = round;
  for (let t = 0; t < settings.trials; t++) await runRound();
  return results.map((r, i) => {
    const warmupMs = r.slice(0, warmupRounds).map((t) => t.ms);
    return {
      iterations: iterations[i]!,
      warmupMs,
      stable: maxWarmup > settings.warmupTrials ? isStable(warmupMs, settings.stableTrials, settings.stableTolerance) : null,
      kept: r.slice(warmupRounds),
      summary: summarizeTrials(
        r.map((t) => t.ms),
        warmupRounds,
      ),
    };
  });
}

/** One series with a fixed warm-up (the CPU loops, the peers): its median ms per iteration. */
export async function medianOfTrials(settings: BenchmarkSettings, trial: (iterations: number) => number | Promise<number>): Promise<{ ms: number; iterations: number }> {
  const [result] = await interleavedTrials(settings, [async (iterations) => ({ ms: await trial(iterations) })], 'fixed');
  return { ms: result!.summary.medianMs, iterations: result!.iterations };
}
