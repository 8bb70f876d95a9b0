// The float64 references of the SyncBatchNorm building blocks (src/reference/sync.ts): shards of a batch
// through stats -> gather -> elemt, and backward reduce -> (sums added) -> backward elemt, give what the
// single-device references give on the concatenated batch, to float64 rounding; empty shards add
// nothing; arguments are checked as the GPU functions check theirs.
import { describe, expect, it } from 'vitest';
import {
  batchNormBackwardElemtReference,
  batchNormBackwardReduceReference,
  batchNormBackwardReference,
  batchNormElemtReference,
  batchNormGatherStatsReference,
  batchNormReference,
  batchNormStatsReference,
  channelMoments,
} from '../../src/reference.js';
import { gaussian, seededRandom, uniform } from '../support/random.js';

/** Shards of sizes `sizes` along dimension 0 of a batch of shape [sum(sizes), ...rest]. */
function shard(values: Float32Array, rest: readonly number[], sizes: readonly number[]) {
  const per = rest.reduce((a, b) => a * b, 1);
  let at = 0;
  return sizes.map((n) => {
    const part = values.subarray(at * per, (at + n) * per);
    at += n;
    return { values: part, shape: [n, ...rest] };
  });
}

const close = (actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-12) => {
  expect(actual.length).toBe(expected.length);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]!));
  for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i]! - expected[i]!), `[${i}]`).toBeLessThanOrEqual(rtol * (scale + 1));
};

describe('the SyncBatchNorm references', () => {
  for (const { axis, rest } of [{ axis: 1, rest: [3, 5] }, { axis: -1, rest: [2, 3] }]) {
    it(`equal the single-device references on the concatenated batch (axis ${axis}), empty shards included`, () => {
      const sizes = [2, 0, 1, 4];
      const N = sizes.reduce((a, b) => a + b, 0);
      const shape = [N, ...rest];
      const channels = axis === 1 ? rest[0]! : rest[rest.length - 1]!;
      const rnd = seededRandom(7);
      const x = gaussian(rnd, N * rest[0]! * rest[1]!, 3, 2);
      const dy = gaussian(rnd, x.length, 0.5, 1);
      const weight = uniform(rnd, channels, 0.5, 2);
      const bias = uniform(rnd, channels, -1, 1);
      const runningMean = uniform(rnd, channels, -1, 1);
      const runningVar = uniform(rnd, channels, 0.5, 2);
      const shards = shard(x, rest, sizes);
      const dyShards = shard(dy, rest, sizes);

      const stats = shards.map((s) => batchNormStatsReference(s.values, s.shape, { axis }));
      expect(stats.map((s) => s.count)).toEqual(sizes.map((n) => n * (axis === 1 ? rest[1]! : rest[0]!)));
      expect(Array.from(stats[1]!.mean)).toEqual(new Array(channels).fill(0));
      const rows = (pick: (s: (typeof stats)[number]) => Float64Array) => Float64Array.from(stats.flatMap((s) => Array.from(pick(s))));
      const options = { runningMean, runningVar, momentum: 0.3, eps: 1e-3 };
      const gathered = batchNormGatherStatsReference(rows((s) => s.mean), rows((s) => s.variance), [sizes.length, channels], {
        counts: stats.map((s) => s.count),
        ...options,
      });
      const single = batchNormReference(x, shape, { training: true, axis, weight, bias, ...options });
      close(gathered.mean, single.saveMean);
      close(gathered.invstd, single.saveInvstd);
      close(gathered.variance, channelMoments(x, shape, axis).variance);
      close(gathered.runningMean!, single.runningMean!);
      close(gathered.runningVar!, single.runningVar!);
      const y = shards.flatMap((s) =>
        Array.from(batchNormElemtReference(s.values, s.shape, { axis, mean: gathered.mean, invstd: gathered.invstd, weight, bias }).y),
      );
      close(y, single.y);

      const forward = { axis, mean: gathered.mean, invstd: gathered.invstd, weight };
      const reduced = shards.map((s, i) => batchNormBackwardReduceReference(dyShards[i]!.values, s.values, s.shape, forward));
      const add = (pick: (r: (typeof reduced)[number]) => Float64Array) =>
        Float64Array.from({ length: channels }, (_, c) => reduced.reduce((sum, r) => sum + pick(r)[c]!, 0));
      const sumDy = add((r) => r.sumDy);
      const sumDyXmu = add((r) => r.sumDyXmu);
      const counts = stats.map((s) => s.count);
      const dx = shards.flatMap((s, i) =>
        Array.from(batchNormBackwardElemtReference(dyShards[i]!.values, s.values, s.shape, { ...forward, sumDy, sumDyXmu, counts }).dx),
      );
      const backward = batchNormBackwardReference(dy, x, shape, { training: true, axis, weight, saveMean: gathered.mean, saveInvstd: gathered.invstd });
      close(dx, backward.dx);
      close(add((r) => r.dweight!), backward.dweight!);
      close(add((r) => r.dbias!), backward.dbias!);
    });
  }

  it('mask dy with the ReLU as the backward reference does, recomputed or from the forward output', () => {
    const shape = [4, 2, 3];
    const rnd = seededRandom(3);
    const x = gaussian(rnd, 24, 0, 1);
    const dy = gaussian(rnd, 24, 0, 1);
    const { mean, variance } = channelMoments(x, shape);
    const invstd = variance.map((v) => 1 / Math.sqrt(v + 1e-5));
    const bias = [0.3, -0.2];
    const forward = { mean, invstd, weight: [1, 2], activation: 'relu' as const, bias };
    const reduced = batchNormBackwardReduceReference(dy, x, shape, forward);
    const y = batchNormElemtReference(x, shape, forward).y;
    expect(y.every((v) => v >= 0)).toBe(true);
    const fromOutput = batchNormBackwardReduceReference(dy, x, shape, { mean, invstd, weight: [1, 2], reluOutput: y });
    close(reduced.sumDy, fromOutput.sumDy);
    const counts = [12];
    const dx = batchNormBackwardElemtReference(dy, x, shape, { ...forward, sumDy: reduced.sumDy, sumDyXmu: reduced.sumDyXmu, counts }).dx;
    const single = batchNormBackwardReference(dy, x, shape, { training: true, saveMean: mean, saveInvstd: invstd, weight: [1, 2], activation: 'relu', bias });
    close(dx, single.dx);
  });

  it('merge by counts: a replica with count 0 contributes nothing, whatever its values', () => {
    const options = { counts: [4, 0], eps: 0 };
    const merged = batchNormGatherStatsReference([1, 2, 99, -99], [4, 1, 7, 7], [2, 2], options);
    expect(Array.from(merged.mean)).toEqual([1, 2]);
    expect(Array.from(merged.variance)).toEqual([4, 1]);
    expect(merged.runningMean).toBeNull();
    // Two replicas of 2 values each: {0, 2} and {4, 6}: mean 3, biased variance (9 + 1 + 1 + 9)/4 = 5.
    const two = batchNormGatherStatsReference([1, 5], [1, 1], [2, 1], { counts: [2, 2], eps: 0, runningMean: [0], runningVar: [0], momentum: 1 });
    expect(Array.from(two.mean)).toEqual([3]);
    expect(Array.from(two.variance)).toEqual([5]);
    expect(two.runningVar![0]).toBeCloseTo((5 * 4) / 3, 14); // unbiased over the 4 values
  });

  it('check their arguments as the GPU functions do', () => {
    const x = [1, 2, 3, 4, 5, 6];
    const shape = [2, 3];
    expect(() => batchNormStatsReference(x, shape, { axis: 1, eps: 1 } as never)).toThrow("batchNormStatsReference options has an unknown key 'eps'");
    expect(() => batchNormStatsReference(x, [3, 3])).toThrow('x (shape [3,3]) has 6 elements, expected 9');
    expect(() => batchNormStatsReference([], [2, 0])).toThrow('x has shape [2,0] with 0 channels');
    const empty = batchNormStatsReference([], [0, 3]);
    expect(empty.count).toBe(0);
    expect(() => batchNormGatherStatsReference([1, 2], [1, 1], [2, 1], { counts: [1, -1] })).toThrow('counts[1] must be a non-negative integer, got -1');
    expect(() => batchNormGatherStatsReference([1, 2], [1, 1], [2, 1], { counts: [0, 0] })).toThrow('counts add up to 0');
    expect(() => batchNormGatherStatsReference([1, 2], [1, 1], [2, 1], { counts: [1] })).toThrow('counts (per replica) has 1 elements, expected 2');
    expect(() => batchNormGatherStatsReference([1, 2], [1, 1], [2], { counts: [1, 1] })).toThrow('shape must be [W, C]');
    expect(() => batchNormGatherStatsReference([1, 2], [1, 1], [2, 1], { counts: [1, 1], runningMean: [0] })).toThrow('runningMean and runningVar go together');
    expect(() => batchNormElemtReference(x, shape, { mean: [0, 0], invstd: [1, 1, 1] })).toThrow('mean (per channel) has 2 elements, expected 3');
    expect(() => batchNormBackwardReduceReference(x, x, shape, { mean: [0, 0, 0], invstd: [1, 1, 1], bias: [0, 0, 0] })).toThrow(
      "bias is read only with activation: 'relu'",
    );
    expect(() => batchNormBackwardElemtReference(x, x, shape, { mean: [0, 0, 0], invstd: [1, 1, 1], sumDy: [0, 0, 0], sumDyXmu: [0, 0, 0], counts: 2 as never })).toThrow(
      'counts (per replica) must be a Float32Array, a Float64Array or an array of numbers, got 2',
    );
  });
});
