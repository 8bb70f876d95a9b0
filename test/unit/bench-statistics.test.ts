// Timing statistics of the benchmark harness: median, warm-up exclusion, GB/s arithmetic, the iteration
// count that sizes a trial, the warm-up until stable and the interleaving of series, and the byte counts.
import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../../bench/benchmark.js';
import {
  BACKWARD_BYTES_PER_ELEMENT,
  COPY_BYTES_PER_ELEMENT,
  FORWARD_BYTES_PER_ELEMENT,
  gigabytesPerSecond,
  INFERENCE_BYTES_PER_ELEMENT,
  interleavedTrials,
  isStable,
  iterationsFor,
  KERNEL_BYTES_PER_ELEMENT,
  median,
  medianOfTrials,
  relativeSpread,
  summarizeTrials,
} from '../../bench/statistics.js';

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

describe('isStable and relativeSpread', () => {
  it('is stable once the last `window` trials are within the tolerance of each other', () => {
    expect(relativeSpread([1, 1.05, 1.02])).toBeCloseTo(0.05, 12);
    expect(isStable([5, 3, 1, 1.04, 1.02], 3, 0.05)).toBe(true);
    // Earlier trials do not count; a late outlier does.
    expect(isStable([1, 1, 1, 1.2], 3, 0.05)).toBe(false);
    expect(isStable([1, 1], 3, 0.05)).toBe(false);
  });
  it('refuses a window under 2 and an empty spread', () => {
    expect(() => isStable([1, 1], 1, 0.05)).toThrow(/at least 2/);
    expect(() => relativeSpread([])).toThrow(/no values/);
  });
});

/** A series whose trial t (0 = the first timed or warm-up trial after sizing) takes times[t] ms; it logs its calls. */
function scripted(name: string, times: readonly number[], log: string[], sizingMs = 1) {
  let t = -2; // two sizing calls first
  return (iterations: number) => {
    log.push(`${name}${iterations}`);
    const ms = t < 0 ? sizingMs : times[Math.min(t, times.length - 1)]!;
    t++;
    return { ms, t };
  };
}

describe('interleavedTrials', () => {
  const settings = { ...DEFAULT_SETTINGS, trials: 3, warmupTrials: 1, targetTrialMs: 10, maxIterations: 1000, stableTrials: 3, stableTolerance: 0.05, maxWarmupTrials: 8 };

  it('warms until every series is stable, then times `trials` rounds, alternating the order round by round', async () => {
    const log: string[] = [];
    // a settles after its fourth trial, b from its first: the warm-up waits for a.
    const a = scripted('a', [9, 5, 2, 1, 1, 1, 1, 1.01, 0.99, 1], log);
    const b = scripted('b', [2, 2, 2, 2, 2, 2, 2, 2, 2, 2], log);
    const [ra, rb] = await interleavedTrials(settings, [a, b], 'until-stable');
    expect(ra!.warmupMs).toEqual([9, 5, 2, 1, 1, 1]);
    expect(rb!.warmupMs).toHaveLength(6);
    expect(ra!.stable).toBe(true);
    expect(ra!.kept.map((k) => k.ms)).toEqual([1, 1.01, 0.99]);
    expect(ra!.summary).toMatchObject({ medianMs: 1, minMs: 0.99, maxMs: 1.01, warmupTrials: 6 });
    // Sized from the faster of two single iterations: 10 ms / 1 ms.
    expect(ra!.iterations).toBe(10);
    // Sizing a, a, b, b; then rounds a b, b a, a b, ...
    expect(log.slice(0, 4)).toEqual(['a1', 'a1', 'b1', 'b1']);
    expect(log.slice(4, 10)).toEqual(['a10', 'b10', 'b10', 'a10', 'a10', 'b10']);
    expect(log).toHaveLength(4 + 2 * (6 + 3));
  });

  it('stops warming at maxWarmupTrials and says the series never settled', async () => {
    const log: string[] = [];
    const noisy = scripted('n', [1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2], log);
    const [r] = await interleavedTrials(settings, [noisy], 'until-stable');
    expect(r!.warmupMs).toHaveLength(8);
    expect(r!.stable).toBe(false);
    expect(r!.kept).toHaveLength(3);
  });

  it('runs exactly warmupTrials with a fixed warm-up, and medianOfTrials takes its median', async () => {
    const log: string[] = [];
    const [r] = await interleavedTrials({ ...settings, warmupTrials: 2 }, [scripted('f', [50, 40, 3, 1, 2], log)], 'fixed');
    expect(r!.warmupMs).toEqual([50, 40]);
    expect(r!.stable).toBeNull();
    expect(r!.summary.medianMs).toBe(2);
    let t = 0;
    const times = [1, 1, 30, 4, 6, 5];
    expect(await medianOfTrials({ ...settings, warmupTrials: 1 }, () => times[t++]!)).toEqual({ ms: 5, iterations: 10 });
  });

  it('takes the iterations it is given instead of sizing the trials', async () => {
    const log: string[] = [];
    const [r] = await interleavedTrials({ ...settings, warmupTrials: 1 }, [scripted('s', [1, 1, 1, 1], log, 0.001)], 'fixed', [7]);
    expect(r!.iterations).toBe(7);
    expect(log).toEqual(['s7', 's7', 's7', 's7']);
    await expect(interleavedTrials(settings, [scripted('s', [1], [])], 'fixed', [1, 2])).rejects.toThrow(/2 iteration counts for 1 series/);
  });

  it('refuses no series', async () => {
    await expect(interleavedTrials(settings, [], 'fixed')).rejects.toThrow(/at least one series/);
  });
});

describe('bytes per element', () => {
  it('counts a one-dispatch kernel as its two passes, and the operations as their passes', () => {
    const bytes = KERNEL_BYTES_PER_ELEMENT;
    expect(bytes['stats-apply']).toBe(bytes.stats! + bytes.apply!);
    expect(bytes['stats-apply-rows']).toBe(bytes['stats-rows']! + bytes.apply!);
    expect(bytes['backward-fused']).toBe(bytes['backward-reduce']! + bytes['backward-apply']!);
    expect(bytes['backward-fused-rows']).toBe(bytes['backward-reduce-rows']! + bytes['backward-apply']!);
    expect([FORWARD_BYTES_PER_ELEMENT, INFERENCE_BYTES_PER_ELEMENT, BACKWARD_BYTES_PER_ELEMENT, COPY_BYTES_PER_ELEMENT]).toEqual([12, 8, 20, 8]);
    // Finalizes touch per-channel data only: no bandwidth.
    expect(bytes.finalize).toBeNull();
    expect(bytes['backward-finalize']).toBeNull();
  });
});
