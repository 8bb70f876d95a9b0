// Shards of a batch for the SyncBatchNorm tests (test/gpu/sync-ops.test.ts, test/gpu/sync-module.test.ts,
// test/dawn/sync-workers.test.ts): a batch cut along dimension 0 into replicas' shards of unequal sizes
// (0 and 1 sample among them), and the comparison of what the replicas computed, put back together, with
// the float64 references on the concatenated batch.
import { batchNormGatherStats, batchNormStats, Tensor, type Gpu } from '../../src/index.js';
import type { ReferenceForwardResult } from '../../src/reference.js';
import { batchNormStatsReference } from '../../src/reference.js';
import {
  backwardTolerances,
  gatheredForwardTolerances,
  withHalfRounding,
  type GatheredForwardInputs,
} from '../../src/reference/tolerances.js';
import { compareElements } from './compare.js';

type Values = ArrayLike<number>;

/** One replica's shard: its values (a view of the batch's) and shape [n, ...rest]. */
export interface Shard {
  readonly values: Float32Array;
  readonly shape: readonly number[];
}

/** The batch `values` of shape [sum(sizes), ...rest] cut along dimension 0 into shards of `sizes` samples. */
export function shardBatch(values: Float32Array, rest: readonly number[], sizes: readonly number[]): Shard[] {
  const per = rest.reduce((a, b) => a * b, 1);
  let at = 0;
  return sizes.map((n) => {
    const shard = { values: values.subarray(at * per, (at + n) * per), shape: [n, ...rest] };
    at += n;
    return shard;
  });
}

/** The shards' arrays one after the other: the concatenated batch's. */
export function concatenate(parts: readonly Values[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(Array.from(p), at);
    at += p.length;
  }
  return out;
}

/** Worst |error| / tolerance of each comparison against the concatenated batch, over a test file. */
export type Worst = Record<string, number>;

export function tally(worst: Worst, what: string, ratio: number): void {
  worst[what] = Math.max(worst[what] ?? 0, ratio);
}

/**
 * Compares a forward through the replicas (their y put back together, the global statistics and the
 * running ones) with `ref`, the float64 forward over the concatenated batch, under the bounds of the
 * gathered statistics (src/reference/tolerances.ts); `shards` are the replicas' inputs. Returns the worst ratios.
 */
export function compareGatheredForward(
  what: string,
  shards: readonly Shard[],
  inputs: Omit<GatheredForwardInputs, 'x' | 'shape'>,
  ref: ReferenceForwardResult,
  actual: { y: Values; mean?: Values; invstd?: Values; runningMean?: Values; runningVar?: Values },
  dtype: 'f32' | 'f16' = 'f32',
): Record<string, number> {
  const x = concatenate(shards.map((s) => s.values));
  const shape = [shards.reduce((n, s) => n + s.shape[0]!, 0), ...shards[0]!.shape.slice(1)];
  const replicas = shards.map((s) => batchNormStatsReference(s.values, s.shape, { axis: inputs.axis ?? 1 }));
  const tolerance = gatheredForwardTolerances(replicas, { ...inputs, x, shape }, ref);
  const ratios: Record<string, number> = {
    y: compareElements(`${what} y`, actual.y, ref.y, dtype === 'f16' ? withHalfRounding(tolerance.y, ref.y) : tolerance.y).worstRatio,
  };
  if (actual.mean) ratios.mean = compareElements(`${what} mean`, actual.mean, ref.saveMean, tolerance.mean).worstRatio;
  if (actual.invstd) ratios.invstd = compareElements(`${what} invstd`, actual.invstd, ref.saveInvstd, tolerance.invstd).worstRatio;
  if (actual.runningMean) ratios.runningMean = compareElements(`${what} runningMean`, actual.runningMean, ref.runningMean!, tolerance.runningMean).worstRatio;
  if (actual.runningVar) ratios.runningVar = compareElements(`${what} runningVar`, actual.runningVar, ref.runningVar!, tolerance.runningVar).worstRatio;
  return ratios;
}

/**
 * Compares a backward through the replicas (their dx put back together, their dweight and dbias added)
 * with the float64 backward over the concatenated batch, fed the global statistics the replicas read
 * (`stats`, f32), under the single-device bounds: each replica's sums are within SUM_RTOL of its own terms,
 * so their total is within SUM_RTOL of all of them. `g` is the concatenated dy as the batch norm sees it
 * (masked by the forward's ReLU output, if any). Returns the worst ratios.
 */
export function compareGatheredBackward(
  what: string,
  inputs: { dy: Values; x: Values; shape: readonly number[]; axis: number; weight: Values | null; reluOutput: Values | null; dtype: 'f32' | 'f16' },
  ref: { dx: Values; dweight: Values | null; dbias: Values | null; saveMean: Values; saveInvstd: Values },
  actual: { dx: Values; dweight: Values | null; dbias: Values | null },
): Record<string, number> {
  const { dy, x, shape, axis, weight, reluOutput, dtype } = inputs;
  const tolerance = backwardTolerances({ dy, x, shape, weight, training: true, axis, reluOutput }, ref);
  const dxTolerance = dtype === 'f16' ? withHalfRounding(tolerance.dx, ref.dx) : tolerance.dx;
  const ratios: Record<string, number> = { dx: compareElements(`${what} dx`, actual.dx, ref.dx, dxTolerance).worstRatio };
  if (weight) {
    ratios.dweight = compareElements(`${what} dweight`, actual.dweight!, ref.dweight!, tolerance.dweight).worstRatio;
    ratios.dbias = compareElements(`${what} dbias`, actual.dbias!, ref.dbias!, tolerance.dbias).worstRatio;
  }
  return ratios;
}

/**
 * The global f32 statistics replicas normalized with, recomputed by the building blocks on `gpu` (a device
 * of the replicas' adapter: the same kernels and plans give the same bits): what the float64 backward on
 * the concatenated batch must be fed (src/reference/tolerances.ts).
 */
export async function globalStatistics(gpu: Gpu, shards: readonly Shard[], axis: number, eps: number): Promise<{ mean: Float32Array; invstd: Float32Array }> {
  const local = [];
  for (const s of shards) {
    const x = Tensor.fromArray(gpu, s.values, s.shape);
    const stats = batchNormStats(gpu, x, { axis });
    local.push({ count: stats.count, mean: await stats.mean.toArray(), variance: await stats.variance.toArray() });
    for (const t of [x, stats.mean, stats.variance]) t.destroy();
  }
  const C = local[0]!.mean.length;
  const t = (values: Float32Array, shape: number[]) => Tensor.fromArray(gpu, values, shape);
  const inputs = {
    mean: t(concatenate(local.map((l) => l.mean)), [shards.length, C]),
    variance: t(concatenate(local.map((l) => l.variance)), [shards.length, C]),
    counts: t(Float32Array.from(local, (l) => l.count), [shards.length]),
  };
  const global = batchNormGatherStats(gpu, { ...inputs, eps });
  const result = { mean: await global.mean.toArray(), invstd: await global.invstd.toArray() };
  for (const tensor of [...Object.values(inputs), global.mean, global.invstd]) tensor.destroy();
  return result;
}

/** Per channel, the sum over replicas of their per-channel arrays, in float64. */
export function addReplicas(parts: readonly Values[], channels: number): Float64Array {
  return Float64Array.from({ length: channels }, (_, c) => parts.reduce((sum, p) => sum + p[c]!, 0));
}
