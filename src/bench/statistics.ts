// Timing statistics of the benchmark: trials are timed runs of many iterations; the first ones warm
// caches and clocks and are dropped; the median of the rest is the result (robust to stray slow trials).

/** Bytes a training forward must move per element: read x twice (statistics, apply), write y once. */
export const FORWARD_BYTES_PER_ELEMENT = 12;
/** Bytes an inference forward must move per element: read x, write y. */
export const INFERENCE_BYTES_PER_ELEMENT = 8;
/** Bytes a backward must move per element: read dy and x twice (reductions, dx), write dx once. */
export const BACKWARD_BYTES_PER_ELEMENT = 20;

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
  /** Trials run first and dropped. */
  readonly warmupTrials: number;
  /** Iterations per trial are chosen so that a trial lasts about this long. */
  readonly targetTrialMs: number;
  readonly maxIterations: number;
}

/** Iterations per trial so that one trial lasts about `targetTrialMs`, given one call's time. */
export function iterationsFor(callMs: number, settings: Pick<BenchmarkSettings, 'targetTrialMs' | 'maxIterations'>): number {
  const wanted = Math.round(settings.targetTrialMs / Math.max(callMs, 1e-3));
  return Math.min(settings.maxIterations, Math.max(1, wanted));
}

/**
 * The one trial scheme: `trial(n)` runs n iterations and returns ms per iteration. One iteration sizes
 * the trials (iterationsFor), then warm-up and timed trials run; the median of the timed ones is the result.
 */
export async function medianOfTrials(settings: BenchmarkSettings, trial: (iterations: number) => number | Promise<number>): Promise<{ ms: number; iterations: number }> {
  const iterations = iterationsFor(await trial(1), settings);
  const trials = [];
  for (let t = 0; t < settings.warmupTrials + settings.trials; t++) trials.push(await trial(iterations));
  return { ms: summarizeTrials(trials, settings.warmupTrials).medianMs, iterations };
}
