// SyncBatchNorm over createLocalGroup: K replicas, each on its own device (K devices of SwiftShader in one
// page), shards of unequal sizes with 0 and 1 sample among them. Training: every shard's y, the running
// statistics (on every replica), every shard's dx and the replicas' dweight and dbias added, against the
// float64 forward and backward on the concatenated batch; eval and a group of one are BatchNorm's; the
// state dict moves between SyncBatchNorm and BatchNorm; a group of the user's own works and carries 2C + 1
// and 2C values per step; bad groups and bad answers are named.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GPU_PLANS } from '../support/gpu-plans.js';
import {
  BatchNorm,
  createLocalGroup,
  requestGpu,
  SyncBatchNorm,
  Tensor,
  type Gpu,
  type SyncGroup,
} from '../../src/index.js';
import { roundToHalf } from '../../src/runtime/half.js';
import { batchNormBackwardReference, batchNormReference } from '../../src/reference.js';
import { channelLayout } from '../../src/runtime/shape.js';
import { backwardTolerances, relativeTolerance } from '../../src/reference/tolerances.js';
import { compareElements } from '../support/compare.js';
import { compareY } from '../support/tolerances.js';
import { gaussian, seededRandom, uniform } from '../support/random.js';
import { addReplicas, compareGatheredBackward, compareGatheredForward, concatenate, globalStatistics, shardBatch, tally, type Worst } from '../support/sync.js';
import { inErrorScopes } from './gpu-context.js';

const DEVICES = 4;
let gpus: Gpu[] = [];
const worst: Worst = {};

beforeAll(async () => {
  gpus = await Promise.all(Array.from({ length: DEVICES }, () => requestGpu(GPU_PLANS)));
});

afterAll(() => {
  if (Object.keys(worst).length > 0) console.log(`SyncBatchNorm, worst |error| / tolerance against the concatenated batch: ${JSON.stringify(worst)}`);
  for (const gpu of gpus) gpu.destroy();
});

/** Runs `body` on every replica at once inside its device's error scopes. */
function onEvery<T>(replicas: number, body: (r: number) => Promise<T>): Promise<T[]> {
  return Promise.all(Array.from({ length: replicas }, (_, r) => inErrorScopes(gpus[r]!, () => body(r))));
}

interface Config {
  readonly name: string;
  readonly rest: readonly number[];
  readonly axis: number;
  readonly sizes: readonly number[];
  readonly dtype: 'f32' | 'f16';
  readonly momentum: number | null;
  readonly activation: 'relu' | null;
}

const CONFIGS: Config[] = [
  { name: 'NCHW, ReLU, 3 replicas', rest: [4, 3, 3], axis: 1, sizes: [4, 0, 1], dtype: 'f32', momentum: 0.1, activation: 'relu' },
  { name: 'channels-last, cumulative average, 4 replicas', rest: [3, 2, 5], axis: -1, sizes: [1, 2, 0, 3], dtype: 'f32', momentum: null, activation: null },
  { name: 'f16, 2 replicas', rest: [3, 8], axis: 1, sizes: [3, 2], dtype: 'f16', momentum: 0.3, activation: null },
];

describe('SyncBatchNorm over replicas on separate devices', () => {
  it.each(CONFIGS)('$name: shards $sizes, two training steps, then eval, against the concatenated batch', async (config) => {
    const { rest, axis, sizes, dtype, momentum, activation } = config;
    const K = sizes.length;
    const N = sizes.reduce((a, b) => a + b, 0);
    const shape = [N, ...rest];
    const { channels: C } = channelLayout(shape, axis);
    const rnd = seededRandom(N + 17 * C);
    const rounded = (v: Float32Array) => (dtype === 'f16' ? roundToHalf(v) : v);
    const size = N * rest.reduce((a, b) => a * b, 1);
    const weight = uniform(rnd, C, 0.5, 2);
    const bias = uniform(rnd, C, -0.5, 0.5);
    const groups = createLocalGroup(K);
    const eps = 1e-4;
    const bns = groups.map((group, r) => new SyncBatchNorm(gpus[r]!, C, { group, axis, momentum, eps, activation }));
    for (const bn of bns) bn.setWeights([weight, bias, new Float32Array(C), new Float32Array(C).fill(1)]);
    let runningMean: Float64Array | Float32Array = new Float32Array(C);
    let runningVar: Float64Array | Float32Array = new Float32Array(C).fill(1);

    for (let step = 1; step <= 2; step++) {
      const x = rounded(gaussian(rnd, size, 1 + step, 2));
      const dy = rounded(gaussian(rnd, size, 0.2, 1));
      const xs = shardBatch(x, rest, sizes);
      const dys = shardBatch(dy, rest, sizes);
      const ys = await onEvery(K, async (r) => {
        const xT = Tensor.fromArray(gpus[r]!, xs[r]!.values, xs[r]!.shape, { dtype });
        const y = await bns[r]!.forward(xT);
        expect(y.shape).toEqual(xs[r]!.shape);
        return { xT, y, values: await y.toArray() };
      });
      const ref = batchNormReference(x, shape, {
        training: true, axis, weight, bias, eps, activation, runningMean, runningVar, momentum, numBatchesTracked: step,
      });
      const running = await onEvery(K, async (r) => ({ mean: await bns[r]!.runningMean!.toArray(), variance: await bns[r]!.runningVar!.toArray() }));
      for (const r of running) {
        expect(r.mean).toEqual(running[0]!.mean); // every replica holds the same running statistics
        expect(r.variance).toEqual(running[0]!.variance);
      }
      expect(bns.map((bn) => bn.numBatchesTracked)).toEqual(new Array(K).fill(step));
      const forward = compareGatheredForward(
        `${config.name} step ${step}`,
        xs,
        { axis, weight, bias, eps, factor: momentum ?? 1 / step, unbiased: true },
        ref,
        { y: concatenate(ys.map((y) => y.values)), runningMean: running[0]!.mean, runningVar: running[0]!.variance },
        dtype,
      );
      for (const [what, ratio] of Object.entries(forward)) tally(worst, `${dtype} forward ${what}`, ratio);
      [runningMean, runningVar] = [ref.runningMean!, ref.runningVar!];

      const grads = await onEvery(K, async (r) => {
        const dyT = Tensor.fromArray(gpus[r]!, dys[r]!.values, dys[r]!.shape, { dtype });
        const g = await bns[r]!.backward(dyT);
        expect(g.dx.shape).toEqual(xs[r]!.shape);
        const result = { dx: await g.dx.toArray(), dweight: await g.dweight!.toArray(), dbias: await g.dbias!.toArray() };
        for (const t of [dyT, g.dx, g.dweight, g.dbias, ys[r]!.xT, ys[r]!.y]) t?.destroy();
        return result;
      });
      const stats = await globalStatistics(gpus[0]!, xs, axis, eps);
      const reluOutput = activation ? concatenate(ys.map((y) => y.values)) : null;
      const backwardRef = batchNormBackwardReference(dy, x, shape, { training: true, axis, weight, reluOutput, saveMean: stats.mean, saveInvstd: stats.invstd });
      const backward = compareGatheredBackward(`${config.name} step ${step}`, { dy, x, shape, axis, weight, reluOutput, dtype }, backwardRef, {
        dx: concatenate(grads.map((g) => g.dx)),
        dweight: addReplicas(grads.map((g) => g.dweight), C),
        dbias: addReplicas(grads.map((g) => g.dbias), C),
      });
      for (const [what, ratio] of Object.entries(backward)) tally(worst, `${dtype} backward ${what}`, ratio);
      // The empty replica's share is zero.
      sizes.forEach((n, r) => n === 0 && expect(Array.from(grads[r]!.dweight)).toEqual(new Array(C).fill(0)));
    }

    // Eval: BatchNorm's forward with the running statistics, no exchange; an empty shard gives an empty y.
    const x = rounded(gaussian(rnd, size, 0, 3));
    const xs = shardBatch(x, rest, sizes);
    const ref = batchNormReference(x, shape, { training: false, axis, weight, bias, eps, activation, runningMean, runningVar });
    const ys = await onEvery(K, async (r) => {
      const xT = Tensor.fromArray(gpus[r]!, xs[r]!.values, xs[r]!.shape, { dtype });
      const y = await bns[r]!.eval().forward(xT);
      const g = await bns[r]!.backward(y); // eval's backward is local too
      expect(g.dx.shape).toEqual(xs[r]!.shape);
      const values = await y.toArray();
      for (const t of [xT, y, g.dx, g.dweight, g.dbias]) t?.destroy();
      return values;
    });
    const evalRef = { ...ref, runningMean: null, runningVar: null };
    const ratio = compareY(`${config.name} eval`, concatenate(ys), x, shape, evalRef, weight, bias, axis, dtype).worstRatio;
    tally(worst, `${dtype} eval y`, ratio);
    for (const bn of bns) bn.destroy();
  });
});

describe('SyncBatchNorm as BatchNorm', () => {
  it('in a group of one is BatchNorm, bit for bit; state dicts move both ways', async () => {
    const gpu = gpus[0]!;
    await inErrorScopes(gpu, async () => {
      const rnd = seededRandom(5);
      const x = Tensor.fromArray(gpu, gaussian(rnd, 4 * 3 * 5, 1, 2), [4, 3, 5]);
      const dy = Tensor.fromArray(gpu, gaussian(rnd, 60), [4, 3, 5]);
      const [group] = createLocalGroup(1);
      const sync = new SyncBatchNorm(gpu, 3, { group: group!, momentum: 0.2 });
      const plain = new BatchNorm(gpu, 3, { momentum: 0.2 });
      const [ySync, yPlain] = [await sync.forward(x), plain.forward(x)];
      expect(await ySync.toArray()).toEqual(await yPlain.toArray());
      const [gSync, gPlain] = [await sync.backward(dy), plain.backward(dy)];
      expect(await gSync.dx.toArray()).toEqual(await gPlain.dx.toArray());
      const saved = await sync.stateDict();
      expect(saved).toEqual(await plain.stateDict());
      expect(Object.keys(saved)).toEqual(['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
      const restored = new BatchNorm(gpu, 3);
      restored.loadStateDict(JSON.parse(JSON.stringify(saved)));
      const back = new SyncBatchNorm(gpu, 3, { group: group! });
      back.loadStateDict(await restored.stateDict());
      expect(await back.stateDict()).toEqual(saved);
      expect(back.numBatchesTracked).toBe(1);
      const keras = SyncBatchNorm.keras(gpu, 3, { group: group!, axis: 1 });
      expect(keras.momentum).toBeCloseTo(0.01, 12);
      expect(keras.runningVarEstimator).toBe('biased');
      for (const t of [x, dy, ySync, yPlain, gSync.dx, gSync.dweight, gSync.dbias, gPlain.dx, gPlain.dweight, gPlain.dbias]) t?.destroy();
      for (const m of [sync, plain, restored, back, keras]) m.destroy();
    });
  });
});

describe('the group', () => {
  it("may be the user's own object; a step moves 6 + 2C + 1 floats forward and 2 + 2C backward per replica", async () => {
    const C = 3;
    const inner = createLocalGroup(2);
    const sent: { collective: string; floats: number }[][] = [[], []];
    // A group written by hand, as for any transport: it only has to have this shape.
    const own = inner.map((g, r): SyncGroup => ({
      rank: r,
      size: 2,
      allGather: (data) => {
        sent[r]!.push({ collective: 'allGather', floats: data.length });
        return g.allGather(data);
      },
      allReduceSum: (data) => {
        sent[r]!.push({ collective: 'allReduceSum', floats: data.length });
        return g.allReduceSum(data);
      },
    }));
    const results = await onEvery(2, async (r) => {
      const gpu = gpus[r]!;
      const bn = new SyncBatchNorm(gpu, C, { group: own[r]! });
      const x = Tensor.fromArray(gpu, r === 0 ? [1, 2, 3, 4, 5, 6] : [7, 8, 9, 10, 11, 12], [2, C]);
      const y = await bn.forward(x);
      const g = await bn.backward(y);
      const out = await y.toArray();
      for (const t of [x, y, g.dx, g.dweight, g.dbias]) t?.destroy();
      bn.destroy();
      return out;
    });
    // The forward's header (status and configuration) and statistics; a status slot per replica and the sums.
    for (const r of [0, 1]) expect(sent[r]).toEqual([{ collective: 'allGather', floats: 6 + 2 * C + 1 }, { collective: 'allReduceSum', floats: 2 + 2 * C }]);
    const ref = batchNormReference([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [4, C], { training: true });
    compareY('own group', concatenate(results), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [4, C], ref, null, null);
  });

  it('is checked: its shape, and what its collectives answer; a batch of one value over all replicas is refused on every replica', async () => {
    const gpu = gpus[0]!;
    await inErrorScopes(gpu, async () => {
      const make = (group: unknown) => () => new SyncBatchNorm(gpu, 2, { group } as never);
      expect(make(undefined)).toThrow('SyncBatchNorm options.group must be a group { rank, size, allGather, allReduceSum }');
      expect(make({ rank: 2, size: 2, allGather: () => 0, allReduceSum: () => 0 })).toThrow('SyncBatchNorm options.group.rank must be an integer in [0, 1] (size 2), got 2');
      expect(make({ rank: 0, size: 0, allGather: () => 0, allReduceSum: () => 0 })).toThrow('group.size must be an integer >= 1, got 0');
      expect(make({ rank: 0, size: 2, allGather: () => 0 })).toThrow('group.allReduceSum must be a function, got undefined');
      expect(() => new SyncBatchNorm(gpu, 2, { group: createLocalGroup(1)[0]!, momemtum: 0.1 } as never)).toThrow("SyncBatchNorm options has an unknown key 'momemtum'");
      expect(() => createLocalGroup(0)).toThrow('createLocalGroup(size): size must be an integer >= 1, got 0');

      const x = Tensor.fromArray(gpu, [1, 2, 3, 4], [2, 2]);
      const answering = (allGather: SyncGroup['allGather']) => new SyncBatchNorm(gpu, 2, { group: { rank: 1, size: 2, allGather, allReduceSum: async (d) => d } });
      await expect(answering(async (d) => [d]).forward(x)).rejects.toThrow('group.allGather must resolve with 2 Float32Arrays (one per replica), got an array of length 1');
      await expect(answering(async (d) => [new Float32Array(3), d]).forward(x)).rejects.toThrow("rank 0 sent a Float32Array of 3 values, not SyncBatchNorm's forward message");
      await expect(answering(async (d) => [d, new Float32Array(5)]).forward(x)).rejects.toThrow("array 1 (this replica's rank) is not the data this replica sent");
      // A gathered variance below 0 is refused (C = 2: the header's 6 values, then 2 means, then 2 variances).
      const negative = (d: Float32Array) => Float32Array.from(d, (v, i) => (i === 6 + 2 + 1 ? -0.5 : v));
      await expect(answering(async (d) => [negative(d), d]).forward(x)).rejects.toThrow('rank 0 sent a negative variance, -0.5 for channel 1');
      const bn = answering(async (d) => [d, d]);
      const busy = bn.forward(x);
      await expect(bn.forward(x)).rejects.toThrow("SyncBatchNorm.forward: the module's previous forward or backward has not finished; await it first");
      await busy;
      // One value per channel on each replica, 0 on the other: 1 over the group, refused on both.
      const groups = createLocalGroup(2);
      const one = Tensor.fromArray(gpus[1]!, [1, 2], [1, 2]);
      const none = Tensor.fromArray(gpu, [], [0, 2]);
      const refused = await Promise.allSettled([new SyncBatchNorm(gpu, 2, { group: groups[0]! }).forward(none), new SyncBatchNorm(gpus[1]!, 2, { group: groups[1]! }).forward(one)]);
      for (const r of refused) expect(r.status === 'rejected' && String(r.reason)).toMatch('Expected more than 1 value per channel when training, got 1 over the group\'s 2 replicas (counts 0, 1)');
      const mismatched = createLocalGroup(2);
      const calls = await Promise.allSettled([mismatched[0]!.allGather(new Float32Array(2)), mismatched[1]!.allReduceSum(new Float32Array(2))]);
      for (const c of calls) expect(c.status === 'rejected' && String(c.reason)).toMatch('at collective #0, rank 1 called allReduceSum with 2 values but rank 0 called allGather with 2');
      for (const t of [x, one, none]) t.destroy();
    });
  });

  it('an eval forward of an empty batch gives an empty y, and its backward an empty dx and zero gradients', async () => {
    const gpu = gpus[0]!;
    await inErrorScopes(gpu, async () => {
      const bn = new SyncBatchNorm(gpu, 3, { group: createLocalGroup(1)[0]! }).eval();
      const x = Tensor.fromArray(gpu, [], [0, 3, 2]);
      const y = await bn.forward(x);
      expect(y.shape).toEqual([0, 3, 2]);
      const g = await bn.backward(y);
      expect(g.dx.shape).toEqual([0, 3, 2]);
      expect(await g.dweight!.toArray()).toEqual(new Float32Array(3));
      for (const t of [x, y, g.dx, g.dweight, g.dbias]) t?.destroy();
      bn.destroy();
    });
  });
});

/** Settles every call (null: that replica does not call), each inside its replica's error scopes; the results and reasons in rank order. */
function settleEvery<T>(calls: (((r: number) => Promise<T>) | null)[]): Promise<PromiseSettledResult<T | null>[]> {
  return Promise.allSettled(calls.map((call, r) => (call ? inErrorScopes(gpus[r]!, () => call(r)) : null)));
}

/** The reason of a rejected call, as text; fails the test if it resolved. */
function reason(result: PromiseSettledResult<unknown> | undefined): string {
  expect(result?.status).toBe('rejected');
  return String((result as PromiseRejectedResult).reason);
}

describe('SyncBatchNorm never hangs', () => {
  const C = 3;
  const shards = [[2, C], [3, C], [1, C]];
  const values = (r: number) => Float32Array.from({ length: shards[r]![0]! * C }, (_, i) => Math.sin(7 * r + i) * 3 + r);

  it('a forward or backward that refuses its input rejects on every replica, naming it; the next step of every replica works', async () => {
    const groups = createLocalGroup(3, { timeoutMs: 60_000 });
    const bns = groups.map((group, r) => new SyncBatchNorm(gpus[r]!, C, { group }));
    const xs = shards.map((shape, r) => Tensor.fromArray(gpus[r]!, values(r), shape));
    const wrong = Tensor.fromArray(gpus[0]!, new Float32Array(8), [2, 4]); // 4 channels, not 3
    const started = Date.now();
    const refused = await settleEvery(bns.map((bn, r) => () => bn.forward(r === 0 ? wrong : xs[r]!)));
    expect(reason(refused[0])).toMatch('x has 4 channels on axis 1 (shape [2,4]) but the module has numFeatures = 3');
    for (const r of [1, 2]) expect(reason(refused[r])).toMatch(/the forward of a replica failed, so no replica ran this step \(rank 0: x has 4 channels/);
    expect(Date.now() - started).toBeLessThan(30_000); // promptly, not at the timeout
    expect(bns.map((bn) => bn.numBatchesTracked)).toEqual([0, 0, 0]);

    // Every replica calls again with good input: the step matches the concatenated batch.
    const ys = await onEvery(3, async (r) => bns[r]!.forward(xs[r]!));
    const all = concatenate(shards.map((_, r) => values(r)));
    const ref = batchNormReference(all, [6, C], { training: true });
    compareY('after a refused step', concatenate(await Promise.all(ys.map((y) => y.toArray()))), all, [6, C], ref, null, null);
    expect(bns.map((bn) => bn.numBatchesTracked)).toEqual([1, 1, 1]);

    // Rank 1's backward refuses its dy: every replica's rejects; then every backward with good dy works.
    const dys = ys.map((y) => y);
    const badDy = Tensor.fromArray(gpus[1]!, new Float32Array(3 * 2), [3, 2]);
    const backRefused = await settleEvery(bns.map((bn, r) => () => bn.backward(r === 1 ? badDy : dys[r]!)));
    expect(reason(backRefused[1])).toMatch('dy');
    for (const r of [0, 2]) expect(reason(backRefused[r])).toMatch('the backward of rank 1 failed (see the error there), so no replica ran this step');
    const grads = await onEvery(3, (r) => bns[r]!.backward(dys[r]!));
    const backwardRef = batchNormBackwardReference(await concatenateTensors(ys), all, [6, C], { training: true, saveMean: ref.saveMean, saveInvstd: ref.saveInvstd });
    const dx = concatenate(await Promise.all(grads.map((g) => g.dx.toArray())));
    dx.forEach((v, i) => expect(Math.abs(v - backwardRef.dx[i]!)).toBeLessThan(1e-4));
    for (const t of [...xs, wrong, badDy, ...ys, ...grads.flatMap((g) => [g.dx, g.dweight, g.dbias])]) t?.destroy();
    for (const bn of bns) bn.destroy();
  });

  it('replicas that differ in numFeatures, eps, momentum or affine reject on every replica', async () => {
    const cases: { name: string; options: object[]; expected: RegExp }[] = [
      { name: 'numFeatures', options: [{}, { numFeatures: 2 }], expected: /rank \d has numFeatures [23].* but this replica has numFeatures [23]/ },
      { name: 'eps', options: [{}, { eps: 1e-3 }], expected: /eps 0\.001.*eps 0\.00001|eps 0\.00001.*eps 0\.001/ },
      { name: 'momentum', options: [{ momentum: null }, {}], expected: /momentum null.*momentum 0\.1|momentum 0\.1.*momentum null/ },
      { name: 'affine', options: [{ affine: false }, {}], expected: /no weight, no bias.*a weight, a bias|a weight, a bias.*no weight, no bias/ },
    ];
    for (const { name, options, expected } of cases) {
      const groups = createLocalGroup(2, { timeoutMs: 60_000 });
      const bns = groups.map((group, r) => {
        const { numFeatures = C, ...rest } = options[r] as { numFeatures?: number };
        return new SyncBatchNorm(gpus[r]!, numFeatures, { group, ...rest });
      });
      const xs = bns.map((bn, r) => Tensor.fromArray(gpus[r]!, values(r).subarray(0, 2 * bn.numFeatures), [2, bn.numFeatures]));
      const results = await settleEvery(bns.map((bn, r) => () => bn.forward(xs[r]!)));
      for (const result of results) expect(reason(result), name).toMatch(/the replicas' modules differ/);
      for (const result of results) expect(reason(result), name).toMatch(expected);
      for (const t of [...xs]) t.destroy();
      for (const bn of bns) bn.destroy();
    }
  });

  it('a replica that never calls: the others reject at the timeout, naming it, and every later call says the group was aborted', async () => {
    const groups = createLocalGroup(3, { timeoutMs: 300 });
    const bns = groups.map((group, r) => new SyncBatchNorm(gpus[r]!, C, { group }));
    const xs = shards.map((shape, r) => Tensor.fromArray(gpus[r]!, values(r), shape));
    const forward = (r: number) => bns[r]!.forward(xs[r]!);
    const results = await settleEvery([forward, null, forward]);
    for (const r of [0, 2]) expect(reason(results[r])).toMatch('collective #0 (allGather) timed out after 300 ms: rank(s) 1 never arrived');
    const later = await settleEvery(bns.map((bn, r) => () => bn.forward(xs[r]!)));
    for (const result of later) expect(reason(result)).toMatch('the group was aborted');
    for (const t of xs) t.destroy();
    for (const bn of bns) bn.destroy();
  });

  it('a replica in eval beside one in training: the eval forward is local (as PyTorch\'s), the training one rejects at the timeout naming it', async () => {
    const groups = createLocalGroup(2, { timeoutMs: 300 });
    const bns = groups.map((group, r) => new SyncBatchNorm(gpus[r]!, C, { group }));
    bns[1]!.eval();
    const xs = shards.slice(0, 2).map((shape, r) => Tensor.fromArray(gpus[r]!, values(r), shape));
    const results = await settleEvery(bns.map((bn, r) => () => bn.forward(xs[r]!)));
    expect(reason(results[0])).toMatch('timed out after 300 ms: rank(s) 1 never arrived');
    expect(results[1]!.status).toBe('fulfilled');
    // Evaluating on one replica alone works in any group, as PyTorch's does.
    const alone = await bns[1]!.forward(xs[1]!);
    expect(alone.shape).toEqual(xs[1]!.shape);
    for (const t of [...xs, alone]) t.destroy();
    if (results[1]!.status === 'fulfilled') (results[1] as PromiseFulfilledResult<Tensor>).value.destroy();
    for (const bn of bns) bn.destroy();
  });

  it('destroy() settles a forward that waits for its exchange, with a rejection; so does the group\'s close()', async () => {
    const groups = createLocalGroup(2, { timeoutMs: 60_000 });
    const bn = new SyncBatchNorm(gpus[0]!, C, { group: groups[0]! });
    const x = Tensor.fromArray(gpus[0]!, values(0), shards[0]!);
    const waiting = bn.forward(x);
    await new Promise((resolve) => setTimeout(resolve, 50));
    bn.destroy();
    await expect(waiting).rejects.toThrow('SyncBatchNorm: the module was destroyed while this call waited for its exchange');
    const other = new SyncBatchNorm(gpus[0]!, C, { group: groups[0]! });
    const closing = other.forward(x);
    groups[1]!.close();
    await expect(closing).rejects.toThrow('createLocalGroup: rank 1 closed the group');
    x.destroy();
    other.destroy();
  });
});

/** Every replica's tensor read back, concatenated in rank order. */
async function concatenateTensors(tensors: readonly Tensor[]): Promise<Float32Array> {
  return concatenate(await Promise.all(tensors.map((t) => t.toArray())));
}

describe('SyncBatchNorm with a residual', () => {
  it.each(['relu', null] as const)('activation %s: y = act(bn(x) + z) over the concatenated batch, and backward returns dz, as BatchNorm does', async (activation) => {
    const C = 3;
    const rest = [C, 2];
    const sizes = [3, 2];
    const shape = [5, ...rest];
    const rnd = seededRandom(41);
    const x = gaussian(rnd, 30, 1, 2);
    const z = gaussian(rnd, 30, 0, 1);
    const dy = gaussian(rnd, 30, 0.1, 1);
    const weight = uniform(rnd, C, 0.5, 2);
    const bias = uniform(rnd, C, -0.5, 0.5);
    const [xs, zs, dys] = [shardBatch(x, rest, sizes), shardBatch(z, rest, sizes), shardBatch(dy, rest, sizes)];
    const groups = createLocalGroup(2, { timeoutMs: 60_000 });
    const results = await onEvery(2, async (r) => {
      const gpu = gpus[r]!;
      const bn = new SyncBatchNorm(gpu, C, { group: groups[r]!, activation });
      bn.setWeights([weight, bias, new Float32Array(C), new Float32Array(C).fill(1)]);
      const [xT, zT, dyT] = [xs, zs, dys].map((s) => Tensor.fromArray(gpu, s[r]!.values, s[r]!.shape)) as [Tensor, Tensor, Tensor];
      const y = await bn.forward(xT, { residual: zT });
      const g = await bn.backward(dyT);
      expect(g.dz).not.toBeNull();
      if (activation === null) expect(g.dz).toBe(dyT); // without an activation dz is dy itself, as BatchNorm's
      const out = { y: await y.toArray(), dx: await g.dx.toArray(), dz: await g.dz!.toArray() };
      for (const t of new Set([xT, zT, dyT, y, g.dx, g.dweight, g.dbias, g.dz])) t?.destroy();
      bn.destroy();
      return out;
    });
    const ref = batchNormReference(x, shape, { training: true, weight, bias, activation, residual: z });
    const y = concatenate(results.map((r) => r.y));
    compareY(`residual, ${activation}`, y, x, shape, ref, weight, bias);
    const backwardRef = batchNormBackwardReference(dy, x, shape, {
      training: true, weight, activation, residual: true, reluOutput: activation ? y : null, saveMean: ref.saveMean, saveInvstd: ref.saveInvstd,
    });
    expect(concatenate(results.map((r) => r.dz))).toEqual(Float32Array.from(backwardRef.dz!)); // dy masked by y's sign: exact
    const dx = concatenate(results.map((r) => r.dx));
    dx.forEach((v, i) => expect(Math.abs(v - backwardRef.dx[i]!), `dx[${i}]`).toBeLessThan(1e-4 * (1 + Math.abs(backwardRef.dx[i]!))));
  });
});

describe('SyncBatchNorm with a mask', () => {
  it("takes the statistics over the positions every replica's mask keeps, and differentiates through them, as BatchNorm over the concatenated batch", async () => {
    const [T, C] = [5, 4];
    const rest = [T, C];
    const sizes = [3, 2];
    const shape = [5, ...rest];
    const rnd = seededRandom(43);
    const x = gaussian(rnd, 5 * T * C, 1, 2);
    const dy = gaussian(rnd, 5 * T * C, 0.1, 1);
    // Padded sequences: each sample keeps a prefix (lengths 5, 2, 3, 1, 4), the rest is padding.
    const mask = Float32Array.from({ length: 5 * T }, (_, i) => (i % T < [5, 2, 3, 1, 4][Math.floor(i / T)]! ? 1 : 0));
    const weight = uniform(rnd, C, 0.5, 2);
    const bias = uniform(rnd, C, -0.5, 0.5);
    const [xs, dys, masks] = [shardBatch(x, rest, sizes), shardBatch(dy, rest, sizes), shardBatch(mask, [T], sizes)];
    const groups = createLocalGroup(2, { timeoutMs: 60_000 });
    const results = await onEvery(2, async (r) => {
      const gpu = gpus[r]!;
      const bn = new SyncBatchNorm(gpu, C, { group: groups[r]!, axis: -1 });
      bn.setWeights([weight, bias, new Float32Array(C), new Float32Array(C).fill(1)]);
      const [xT, dyT] = [xs, dys].map((s) => Tensor.fromArray(gpu, s[r]!.values, s[r]!.shape)) as [Tensor, Tensor];
      const maskT = Tensor.fromArray(gpu, masks[r]!.values, masks[r]!.shape);
      const y = await bn.forward(xT, { mask: maskT });
      const g = await bn.backward(dyT);
      const out = {
        y: await y.toArray(), dx: await g.dx.toArray(), dweight: await g.dweight.toArray(), dbias: await g.dbias.toArray(),
        runningMean: await bn.runningMean!.toArray(), runningVar: await bn.runningVar!.toArray(),
      };
      for (const t of [xT, dyT, maskT, y, g.dx, g.dweight, g.dbias]) t.destroy();
      bn.destroy();
      return out;
    });
    const ref = batchNormReference(x, shape, {
      training: true, axis: -1, weight, bias, mask, runningMean: new Float32Array(C), runningVar: new Float32Array(C).fill(1),
    });
    compareY('masked y', concatenate(results.map((r) => r.y)), x, shape, ref, weight, bias, -1);
    for (const r of results) {
      compareElements('masked runningMean', r.runningMean, ref.runningMean!, relativeTolerance(ref.runningMean!));
      compareElements('masked runningVar', r.runningVar, ref.runningVar!, relativeTolerance(ref.runningVar!));
    }
    const backwardRef = batchNormBackwardReference(dy, x, shape, { training: true, axis: -1, weight, mask, saveMean: ref.saveMean, saveInvstd: ref.saveInvstd });
    const tolerance = backwardTolerances({ dy, x, shape, weight, training: true, axis: -1, mask }, backwardRef);
    compareElements('masked dx', concatenate(results.map((r) => r.dx)), backwardRef.dx, tolerance.dx);
    compareElements('masked dweight', addReplicas(results.map((r) => r.dweight), C), backwardRef.dweight!, tolerance.dweight);
    compareElements('masked dbias', addReplicas(results.map((r) => r.dbias), C), backwardRef.dbias!, tolerance.dbias);
  });
});
