// The SyncBatchNorm building blocks on the GPU (src/ops/sync-batch-norm.ts): each against its float64
// reference (src/reference/sync.ts) fed the same inputs, and all of them together, over replicas' shards
// of unequal sizes (0 and 1 sample among them), against the single-device float64 forward and backward on
// the concatenated batch (the worst error / tolerance of those is printed at the end). Layouts: NCHW with
// vec4 and scalar runs, channels-last (the rows kernels), a middle channel axis, f16, chunked windows, a
// ReLU, a variance far below eps, a mean far from 0. Then empty batches, recording into an encoder, and
// bad input.
import { afterAll, describe, expect, it } from 'vitest';
import {
  batchNormBackwardElemt,
  batchNormBackwardReduce,
  batchNormElemt,
  batchNormGatherStats,
  batchNormStats,
  Tensor,
  type Gpu,
} from '../../src/index.js';
import { roundToHalf } from '../../src/runtime/half.js';
import {
  batchNormBackwardElemtReference,
  batchNormBackwardReduceReference,
  batchNormBackwardReference,
  batchNormElemtReference,
  batchNormGatherStatsReference,
  batchNormReference,
  batchNormStatsReference,
} from '../../src/reference.js';
import { channelLayout } from '../../src/runtime/shape.js';
import {
  backwardTolerances,
  elemtDxTolerance,
  gradientSumTolerances,
  meanTolerance,
  relativeTolerance,
  runningMeanTolerance,
  STAT_RTOL,
  withHalfRounding,
  yTolerance,
} from '../../src/reference/tolerances.js';
import { compareElements } from '../support/compare.js';
import { gaussian, seededRandom, uniform } from '../support/random.js';
import { addReplicas, compareGatheredBackward, compareGatheredForward, concatenate, shardBatch, tally, type Worst } from '../support/sync.js';
import { inErrorScopes, testGpu } from './gpu-context.js';

interface Case {
  readonly name: string;
  /** The dimensions after the first (the sharded) one. */
  readonly rest: readonly number[];
  readonly axis: number;
  readonly sizes: readonly number[];
  readonly dtype: 'f32' | 'f16';
  readonly subgroups: boolean;
  readonly maxBindingBytes?: number;
  readonly mean: number;
  readonly spread: number;
  readonly eps: number;
  readonly relu: boolean;
  readonly weighted: boolean;
  /** Running statistics: momentum 0.25 (null: a cumulative average, this being the 3rd batch) and the estimator. */
  readonly momentum: number | null;
  readonly estimator: 'unbiased' | 'biased';
}

const base = {
  axis: 1, dtype: 'f32', subgroups: true, mean: 2, spread: 1.5, eps: 1e-5, relu: false, weighted: true, momentum: 0.25, estimator: 'unbiased',
} as const;
const CASES: Case[] = [
  { ...base, name: 'NCHW, vec4 runs', rest: [3, 4, 4], sizes: [3, 0, 1, 5] },
  { ...base, name: 'NCHW, scalar runs, workgroup memory', rest: [2, 3, 5], sizes: [0, 2, 1], subgroups: false, weighted: false },
  { ...base, name: 'channels-last (rows kernels)', rest: [3, 2, 5], axis: -1, sizes: [2, 1, 0, 3] },
  { ...base, name: 'channel axis 2 of 4, cumulative average, Keras\'s biased estimator', rest: [2, 3, 6], axis: 2, sizes: [1, 4], momentum: null, estimator: 'biased' },
  { ...base, name: 'f16', rest: [3, 4, 4], dtype: 'f16', sizes: [2, 0, 3] },
  { ...base, name: 'chunked (1 KiB windows)', rest: [3, 5, 7], sizes: [5, 1, 0, 4], maxBindingBytes: 1024 },
  // A sample larger than a binding, or one straddling byte 256 of a 256-byte binding: windows cut samples.
  { ...base, name: 'samples cut (1 KiB windows), vec4 runs', rest: [3, 16, 16], sizes: [1, 0, 2], maxBindingBytes: 1024 },
  { ...base, name: 'samples cut (1 KiB windows), scalar runs, f16, ReLU', rest: [3, 15, 15], dtype: 'f16', sizes: [2, 1], maxBindingBytes: 1024, relu: true },
  { ...base, name: 'samples cut (1 KiB windows), channels-last', rest: [2, 300], axis: -1, sizes: [2, 1], maxBindingBytes: 1024, subgroups: false },
  { ...base, name: 'channels-last [30,3] in 256-byte windows (sample 21 straddles byte 256)', rest: [3], axis: -1, sizes: [30, 0, 2], maxBindingBytes: 256 },
  { ...base, name: 'ReLU with a bias', rest: [4, 9], sizes: [1, 3, 2], relu: true },
  { ...base, name: 'variance far below eps', rest: [2, 8], sizes: [3, 2], mean: 0.5, spread: 1e-4, eps: 1e-3 },
  { ...base, name: 'mean 1e3 times the spread', rest: [2, 16], sizes: [2, 1, 3], mean: 1e3, spread: 1 },
];

const worst: Worst = {};
afterAll(() => {
  if (Object.keys(worst).length > 0) console.log(`SyncBatchNorm building blocks, worst |error| / tolerance against the concatenated batch: ${JSON.stringify(worst)}`);
});

const read = (t: Tensor) => t.toArray();

async function runCase(gpu: Gpu, k: Case): Promise<void> {
  const { rest, axis, sizes, dtype } = k;
  const N = sizes.reduce((a, b) => a + b, 0);
  const shape = [N, ...rest];
  const { channels } = channelLayout(shape, axis);
  const rnd = seededRandom(N * 131 + channels);
  const rounded = (values: Float32Array) => (dtype === 'f16' ? roundToHalf(values) : values);
  const x = rounded(gaussian(rnd, N * rest.reduce((a, b) => a * b, 1), k.mean, k.spread));
  const dy = rounded(gaussian(rnd, x.length, 0.3, 1));
  const weight = k.weighted ? uniform(rnd, channels, -2, 2) : null;
  const bias = k.relu ? uniform(rnd, channels, -0.5, 0.5) : k.weighted ? uniform(rnd, channels, -1, 1) : null;
  const runningMean = uniform(rnd, channels, -1, 1);
  const runningVar = uniform(rnd, channels, 0.5, 2);
  const { momentum } = k;
  const xs = shardBatch(x, rest, sizes);
  const dys = shardBatch(dy, rest, sizes);
  const t = (values: Float32Array, s: readonly number[], half = false) => Tensor.fromArray(gpu, values, s, half ? { dtype } : {});
  const perChannel = (values: ArrayLike<number>) => t(Float32Array.from(values), [channels]);
  const [wT, bT, rmT, rvT] = [weight && perChannel(weight), bias && perChannel(bias), perChannel(runningMean), perChannel(runningVar)];
  const xTs = xs.map((s) => t(s.values, s.shape, true));
  const dyTs = dys.map((s) => t(s.values, s.shape, true));
  const owned: (Tensor | null)[] = [wT, bT, rmT, rvT, ...xTs, ...dyTs];

  // Each replica's statistics.
  const stats = xTs.map((xT) => batchNormStats(gpu, xT, { axis }));
  const local = await Promise.all(stats.map(async (s) => ({ count: s.count, mean: await read(s.mean), variance: await read(s.variance) })));
  xs.forEach((s, w) => {
    const ref = batchNormStatsReference(s.values, s.shape, { axis });
    expect(local[w]!.count).toBe(ref.count);
    const spread = (c: number) => 1 / Math.sqrt(ref.variance[c]!);
    compareElements(`${k.name} replica ${w} mean`, local[w]!.mean, ref.mean, (c) => STAT_RTOL * (Math.abs(ref.mean[c]!) + 1 / spread(c)));
    compareElements(`${k.name} replica ${w} variance`, local[w]!.variance, ref.variance, relativeTolerance(ref.variance));
  });

  // The exchange: every replica's (count, mean, variance), gathered.
  const W = sizes.length;
  const counts = local.map((l) => l.count);
  const means = concatenate(local.map((l) => l.mean));
  const variances = concatenate(local.map((l) => l.variance));
  const [countsT, meansT, variancesT] = [t(Float32Array.from(counts), [W]), t(means, [W, channels]), t(variances, [W, channels])];
  owned.push(countsT, meansT, variancesT, ...stats.flatMap((s) => [s.mean, s.variance]));
  const running = { momentum, eps: k.eps, runningVarEstimator: k.estimator, ...(momentum === null ? { numBatchesTracked: 3 } : {}) };
  const gathered = batchNormGatherStats(gpu, { mean: meansT, variance: variancesT, counts: countsT, runningMean: rmT, runningVar: rvT, ...running });
  owned.push(gathered.mean, gathered.invstd);
  const [mean, invstd, rm, rv] = await Promise.all([read(gathered.mean), read(gathered.invstd), read(rmT), read(rvT)]);
  const gatherRef = batchNormGatherStatsReference(means, variances, [W, channels], { counts, runningMean, runningVar, ...running });
  compareElements(`${k.name} gathered mean`, mean, gatherRef.mean, meanTolerance(gatherRef.mean, gatherRef.invstd));
  compareElements(`${k.name} gathered invstd`, invstd, gatherRef.invstd, relativeTolerance(gatherRef.invstd));
  compareElements(`${k.name} runningMean`, rm, gatherRef.runningMean!, runningMeanTolerance(gatherRef.runningMean!, gatherRef.mean, gatherRef.invstd));
  compareElements(`${k.name} runningVar`, rv, gatherRef.runningVar!, relativeTolerance(gatherRef.runningVar!));

  // Each replica's y, with the global statistics.
  const activation = k.relu ? ('relu' as const) : null;
  const affine = { weight: wT, bias: bT, activation, axis };
  const ys = xTs.map((xT) => batchNormElemt(gpu, xT, { mean: gathered.mean, invstd: gathered.invstd, ...affine }).y);
  owned.push(...ys);
  const yValues = await Promise.all(ys.map(read));
  xs.forEach((s, w) => {
    const ref = batchNormElemtReference(s.values, s.shape, { mean, invstd, weight, bias, activation, axis });
    const tolerance = yTolerance(s.values, s.shape, { saveMean: mean, saveInvstd: invstd }, weight, bias, axis);
    compareElements(`${k.name} replica ${w} y`, yValues[w]!, ref.y, dtype === 'f16' ? withHalfRounding(tolerance, ref.y) : tolerance);
  });
  const single = batchNormReference(x, shape, { training: true, weight, bias, runningMean, runningVar, activation, axis, ...running });
  const forward = compareGatheredForward(
    k.name,
    xs,
    { axis, weight, bias, eps: k.eps, factor: momentum ?? 1 / 3, unbiased: k.estimator === 'unbiased' },
    single,
    { y: concatenate(yValues), mean, invstd, runningMean: rm, runningVar: rv },
    dtype,
  );
  for (const [what, ratio] of Object.entries(forward)) tally(worst, `${dtype} forward ${what}`, ratio);

  // Each replica's gradient sums, added over the replicas (as an all-reduce in float64, rounded once), then dx.
  const reluOutputs = k.relu ? yValues : null;
  // The references mask dy with the GPU forward's y (its sign decides values next to 0, as PyTorch's saved output does).
  const backward = { mean, invstd, weight, axis };
  const reduced = xTs.map((xT, w) => batchNormBackwardReduce(gpu, dyTs[w]!, xT, { mean: gathered.mean, invstd: gathered.invstd, ...affine, bias: k.relu ? bT : null }));
  owned.push(...reduced.flatMap((r) => [r.sumDy, r.sumDyXmu, r.dweight, r.dbias]));
  const sums = await Promise.all(reduced.map(async (r) => ({
    sumDy: await read(r.sumDy),
    sumDyXmu: await read(r.sumDyXmu),
    dweight: r.dweight && (await read(r.dweight)),
    dbias: r.dbias && (await read(r.dbias)),
  })));
  xs.forEach((s, w) => {
    const reluOutput = reluOutputs?.[w] ?? null;
    const ref = batchNormBackwardReduceReference(dys[w]!.values, s.values, s.shape, { ...backward, reluOutput });
    const g = reluOutput ? dys[w]!.values.map((v, i) => (reluOutput[i]! > 0 ? v : 0)) : dys[w]!.values;
    const tolerance = gradientSumTolerances(g, s.values, s.shape, { saveMean: mean, saveInvstd: invstd }, axis);
    compareElements(`${k.name} replica ${w} sumDy`, sums[w]!.sumDy, ref.sumDy, tolerance.sumDy);
    compareElements(`${k.name} replica ${w} sumDyXmu`, sums[w]!.sumDyXmu, ref.sumDyXmu, tolerance.sumDyXmu);
    if (weight) {
      const gradients = backwardTolerances({ dy: g, x: s.values, shape: s.shape, weight, training: true, axis }, { saveMean: mean, saveInvstd: invstd });
      compareElements(`${k.name} replica ${w} dweight`, sums[w]!.dweight!, ref.dweight!, gradients.dweight);
      compareElements(`${k.name} replica ${w} dbias`, sums[w]!.dbias!, ref.dbias!, gradients.dbias);
    } else {
      expect(sums[w]!.dweight).toBeNull();
    }
  });
  const sumDy = Float32Array.from(addReplicas(sums.map((s) => s.sumDy), channels));
  const sumDyXmu = Float32Array.from(addReplicas(sums.map((s) => s.sumDyXmu), channels));
  const [sumDyT, sumDyXmuT] = [perChannel(sumDy), perChannel(sumDyXmu)];
  owned.push(sumDyT, sumDyXmuT);
  const dxs = xTs.map((xT, w) =>
    batchNormBackwardElemt(gpu, dyTs[w]!, xT, {
      mean: gathered.mean, invstd: gathered.invstd, ...affine, bias: k.relu ? bT : null, sumDy: sumDyT, sumDyXmu: sumDyXmuT, counts: countsT,
    }).dx,
  );
  owned.push(...dxs);
  const dxValues = await Promise.all(dxs.map(read));
  const total = counts.reduce((a, b) => a + b, 0);
  xs.forEach((s, w) => {
    const reluOutput = reluOutputs?.[w] ?? null;
    const ref = batchNormBackwardElemtReference(dys[w]!.values, s.values, s.shape, { ...backward, reluOutput, sumDy, sumDyXmu, counts });
    const g = reluOutput ? dys[w]!.values.map((v, i) => (reluOutput[i]! > 0 ? v : 0)) : dys[w]!.values;
    const tolerance = elemtDxTolerance(g, s.values, s.shape, { saveMean: mean, saveInvstd: invstd }, weight, { sumDy, sumDyXmu, count: total }, axis);
    compareElements(`${k.name} replica ${w} dx`, dxValues[w]!, ref.dx, dtype === 'f16' ? withHalfRounding(tolerance, ref.dx) : tolerance);
  });
  const reluOutput = reluOutputs ? concatenate(reluOutputs) : null;
  const singleBackward = batchNormBackwardReference(dy, x, shape, { training: true, weight, axis, reluOutput, saveMean: mean, saveInvstd: invstd });
  const together = compareGatheredBackward(k.name, { dy, x, shape, axis, weight, reluOutput, dtype }, singleBackward, {
    dx: concatenate(dxValues),
    dweight: weight && addReplicas(sums.map((s) => s.dweight!), channels),
    dbias: weight && addReplicas(sums.map((s) => s.dbias!), channels),
  });
  for (const [what, ratio] of Object.entries(together)) tally(worst, `${dtype} backward ${what}`, ratio);
  for (const tensor of owned) tensor?.destroy();
}

describe('the building blocks over replicas, against their references and the concatenated batch', () => {
  it.each(CASES)('$name: shards $sizes of [N, $rest], axis $axis', async (k) => {
    const gpu = await testGpu(k.subgroups, k.maxBindingBytes);
    await inErrorScopes(gpu, () => runCase(gpu, k));
  });
});

describe('batchNormElemt with a residual', () => {
  // y = relu(bn(x) + z) in the apply pass, as batchNorm's residual: NCHW (vec4 and scalar runs) and
  // channels-last, f32 and f16, against the float64 reference fed the same statistics.
  it.each([
    { shape: [3, 4, 4, 4], axis: 1, dtype: 'f32' as const },
    { shape: [3, 5, 3], axis: 1, dtype: 'f32' as const },
    { shape: [6, 3, 3, 5], axis: -1, dtype: 'f32' as const },
    { shape: [3, 4, 4, 4], axis: 1, dtype: 'f16' as const },
  ])('$dtype $shape axis $axis', async ({ shape, axis, dtype }) => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const { channels } = channelLayout(shape, axis);
      const size = shape.reduce((a, b) => a * b, 1);
      const stored = (values: number[]) => (dtype === 'f16' ? Array.from(roundToHalf(Float32Array.from(values))) : values);
      const x = stored(Array.from({ length: size }, (_, i) => Math.sin(i * 1.7) * 3 + 1));
      const z = stored(Array.from({ length: size }, (_, i) => Math.cos(i * 0.9)));
      const mean = Array.from({ length: channels }, (_, c) => 0.5 - c * 0.25);
      const invstd = Array.from({ length: channels }, (_, c) => 0.5 + c * 0.125);
      const weight = Array.from({ length: channels }, (_, c) => 1 + c * 0.5);
      const bias = Array.from({ length: channels }, (_, c) => c * 0.1 - 0.2);
      const [xT, zT] = [x, z].map((v) => Tensor.fromArray(gpu, v, shape, { dtype }));
      const perChannel = [mean, invstd, weight, bias].map((v) => Tensor.fromArray(gpu, v, [channels]));
      const [meanT, invstdT, weightT, biasT] = perChannel;
      const { y } = batchNormElemt(gpu, xT!, { mean: meanT!, invstd: invstdT!, weight: weightT!, bias: biasT!, activation: 'relu', axis, residual: zT! });
      const ref = batchNormElemtReference(x, shape, { mean, invstd, weight, bias, activation: 'relu', axis, residual: z });
      const saveInvstd = Float64Array.from(invstd);
      const tolerance = yTolerance(x, shape, { saveMean: Float64Array.from(mean), saveInvstd }, weight, bias, axis, z);
      compareElements(`${dtype} [${shape}] y`, await y.toArray(), ref.y, dtype === 'f16' ? withHalfRounding(tolerance, ref.y) : tolerance);
      for (const t of [xT!, zT!, ...perChannel, y]) t!.destroy();
    });
  });
});

describe('batchNormGatherStats with an infinite mean', () => {
  // A replica whose shard holds an Inf: the global mean (and the running mean) is Inf whatever the rank
  // order, as PyTorch's weighted average and the single-device forward give; channel 1 stays finite.
  it.each([
    { order: 'the Inf replica first', means: [Infinity, 1, 2, 3] },
    { order: 'the Inf replica last', means: [2, 3, Infinity, 1] },
  ])('$order', async ({ means }) => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const owned = [
        Tensor.fromArray(gpu, means, [2, 2]),
        Tensor.fromArray(gpu, [0, 1, 0, 1], [2, 2]),
        Tensor.fromArray(gpu, [2, 3], [2]),
        Tensor.fromArray(gpu, [0, 0], [2]),
        Tensor.fromArray(gpu, [1, 1], [2]),
      ];
      const [meanT, varianceT, countsT, runningMean, runningVar] = owned as [Tensor, Tensor, Tensor, Tensor, Tensor];
      const gathered = batchNormGatherStats(gpu, { mean: meanT, variance: varianceT, counts: countsT, runningMean, runningVar });
      const [mean, rm] = [await gathered.mean.toArray(), await runningMean.toArray()];
      expect(mean[0]).toBe(Infinity);
      expect(rm[0]).toBe(Infinity);
      expect(Number.isFinite(mean[1])).toBe(true);
      for (const t of [...owned, gathered.mean, gathered.invstd]) t.destroy();
    });
  });
});

describe('an empty batch', () => {
  it('gives count 0 and zeros (into out tensors too), an empty y and dx, zero sums; recorded into an encoder as well', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const shape = [0, 3, 4];
      const x = Tensor.fromArray(gpu, [], shape);
      const dy = Tensor.fromArray(gpu, [], shape);
      const c3 = (values: number[]) => Tensor.fromArray(gpu, values, [3]);
      const [mean, invstd, weight] = [c3([1, 2, 3]), c3([1, 1, 1]), c3([2, 2, 2])];
      const out = { mean: c3([7, 7, 7]), variance: c3([7, 7, 7]) };
      const encoder = gpu.device.createCommandEncoder();
      const stats = batchNormStats(gpu, x, { out, encoder });
      const reduced = batchNormBackwardReduce(gpu, dy, x, { mean, invstd, weight, encoder });
      expect(await out.mean.toArray()).toEqual(new Float32Array([7, 7, 7])); // recorded, not yet submitted
      gpu.device.queue.submit([encoder.finish()]);
      expect(stats.count).toBe(0);
      expect(stats.mean).toBe(out.mean);
      for (const t of [stats.mean, stats.variance, reduced.sumDy, reduced.sumDyXmu, reduced.dweight, reduced.dbias]) {
        expect(await t.toArray()).toEqual(new Float32Array(3));
      }
      const { y } = batchNormElemt(gpu, x, { mean, invstd, weight });
      expect(y.shape).toEqual(shape);
      expect(await y.toArray()).toEqual(new Float32Array(0));
      const counts = Tensor.fromArray(gpu, [0, 5], [2]);
      const { dx } = batchNormBackwardElemt(gpu, dy, x, { mean, invstd, weight, sumDy: mean, sumDyXmu: mean, counts });
      expect(dx.shape).toEqual(shape);
      expect(await dx.toArray()).toEqual(new Float32Array(0));
      for (const t of [x, dy, mean, invstd, weight, y, dx, counts, ...Object.values(out), reduced.sumDy, reduced.sumDyXmu, reduced.dweight, reduced.dbias]) t.destroy();
    });
  });
});

describe('bad input', () => {
  it('names the argument', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const x = Tensor.fromArray(gpu, new Float32Array(12), [2, 3, 2]);
      const c = (n: number, values?: number[]) => Tensor.fromArray(gpu, values ?? new Float32Array(n), [n]);
      const [c3, c2] = [c(3), c(2)];
      const rows = Tensor.fromArray(gpu, new Float32Array(6), [2, 3]);
      const counts = c(2, [2, 2]);
      expect(() => batchNormStats(gpu, x, { axis: 1, eps: 1 } as never)).toThrow("batchNormStats options has an unknown key 'eps'");
      expect(() => batchNormStats(gpu, x, { out: { mean: c2 } })).toThrow('out.mean has shape [2] but the operation writes shape [3]');
      expect(() => batchNormStats(gpu, x, { out: { mean: c3, variance: c3 } })).toThrow('out.mean is the same tensor as out.variance');
      expect(() => batchNormGatherStats(gpu, { mean: c3, variance: c3, counts })).toThrow('mean has shape [3]; it takes every replica\'s statistics as [W, C]');
      expect(() => batchNormGatherStats(gpu, { mean: rows, variance: x, counts })).toThrow('variance has shape [2,3,2] but mean has shape [2,3]');
      expect(() => batchNormGatherStats(gpu, { mean: rows, variance: rows, counts: c3 })).toThrow('counts must be f32 [2] (one count per row of mean [2,3]), got f32 [3]');
      expect(() => batchNormGatherStats(gpu, { mean: rows, variance: rows, counts, runningMean: c3 })).toThrow('runningMean and runningVar go together');
      expect(() => batchNormGatherStats(gpu, { mean: rows, variance: rows, counts, runningMean: c2, runningVar: c2 })).toThrow(
        "runningMean has 2 elements but the replicas' statistics have 3 channels (mean [2,3])",
      );
      expect(() => batchNormElemt(gpu, x, { mean: c2, invstd: c3 })).toThrow('mean has 2 elements but x has 3 channels (shape [2,3,2])');
      expect(() => batchNormElemt(gpu, x, { mean: c3, invstd: c3, activation: 'gelu' as never })).toThrow("activation must be 'relu' or null, got 'gelu'");
      expect(() => batchNormBackwardReduce(gpu, rows, x, { mean: c3, invstd: c3 })).toThrow('dy has shape [2,3] but x has shape [2,3,2]');
      expect(() => batchNormBackwardReduce(gpu, x, x, { mean: c3, invstd: c3, bias: c3 })).toThrow("bias is read only with activation: 'relu'");
      expect(() => batchNormBackwardReduce(gpu, x, x, { mean: c3, invstd: c3, out: { dweight: c3 } })).toThrow('out.dweight and out.dbias are written only with a weight');
      expect(() => batchNormBackwardElemt(gpu, x, x, { mean: c3, invstd: c3, sumDy: c3, sumDyXmu: c3, counts: rows })).toThrow(
        "counts must be f32 [W], each replica's count (W >= 1), got f32 [2,3]",
      );
      expect(() => batchNormBackwardElemt(gpu, x, x, { mean: c3, invstd: c3, sumDy: c3, counts } as never)).toThrow('sumDyXmu must be a Tensor');
      for (const t of [x, c3, c2, rows, counts]) t.destroy();
    });
  });
});
