// Timing statistics of the benchmark harness: median, warm-up exclusion, GB/s arithmetic, and the
// iteration count that sizes a trial.
import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../../src/bench/benchmark.js';
import {
  gigabytesPerSecond,
  iterationsFor,
  median,
  summarizeTrials,
} from '../../src/bench/statistics.js';

describe('median', () => {
  it('takes the middle value of an odd count and the mean of the middle two of an even count', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });
  it('is not moved by one outlier and does not reorder its input', () => {
    const trials = [1.0, 1.1, 0.9, 50, 1.05];
    expect(median(trials)).toBe(1.05);
    expect(trials).toEqual([1.0, 1.1, 0.9, 50, 1.05]);
  });
  it('rejects an empty list', () => {
    expect(() => median([])).toThrow(/no values/);
  });
});

describe('summarizeTrials', () => {
  it('drops the warm-up trials before taking the median, min and max', () => {
    // A slow first trial (compilation, cold caches) must not count.
    const summary = summarizeTrials([40, 2, 3, 1, 2.5, 2], 1);
    expect(summary.keptMs).toEqual([2, 3, 1, 2.5, 2]);
    expect(summary.medianMs).toBe(2);
    expect(summary.minMs).toBe(1);
    expect(summary.maxMs).toBe(3);
    expect(summary.warmupTrials).toBe(1);
  });
  it('keeps every trial without warm-up and refuses to summarize nothing', () => {
    expect(summarizeTrials([3, 1, 2], 0).medianMs).toBe(2);
    expect(() => summarizeTrials([1, 2], 2)).toThrow(/leave none/);
    expect(() => summarizeTrials([1, 2], -1)).toThrow(/non-negative integer/);
  });
});

describe('gigabytesPerSecond', () => {
  it('turns elements, bytes per element and milliseconds into GB/s', () => {
    // 32x64x112x112 in 1 ms: 25,690,112 * 12 bytes / 1e-3 s = 308.28 GB/s.
    expect(gigabytesPerSecond(32 * 64 * 112 * 112, 12, 1)).toBeCloseTo(308.281344, 6);
    // 1e9 elements * 20 bytes in 10 s = 2 GB/s.
    expect(gigabytesPerSecond(1e9, 20, 10_000)).toBeCloseTo(2, 12);
  });
});

describe('iterationsFor', () => {
  it('sizes a trial to the target length, between 1 and the cap', () => {
    const settings = { ...DEFAULT_SETTINGS, targetTrialMs: 100, maxIterations: 1000 };
    expect(iterationsFor(0.5, settings)).toBe(200);
    expect(iterationsFor(250, settings)).toBe(1);
    expect(iterationsFor(0.001, settings)).toBe(1000);
  });
});
