// The internal switch GpuOptions.statisticsMerge: 'block' (the default; a Chan merge per block of 16
// values, shaders/fold-block.wgsl) and 'vec4' (the Welford update per Elem it replaced, kept so that one
// benchmark run can time both, shaders/fold-vec4.wgsl). Both must give a training forward within the
// tolerances, on every statistics path: slices (vec4 and scalar) and rows, each in one dispatch and in
// three passes, f32 and packed f16, a mean of 1e4 with unit spread and a far outlier.
import { describe, expect, it } from 'vitest';
import { GPU_PLANS } from '../support/gpu-plans.js';
import type { StatisticsMerge } from '../../src/runtime/gpu.js';
import { roundToHalf } from '../../src/runtime/half.js';
import { batchNorm, requestGpu, Tensor, type Gpu } from '../../src/index.js';
import { batchNormReference } from '../../src/reference.js';
import { planOperation } from '../../src/engine/runner.js';
import { channelLayout, numElements } from '../../src/runtime/shape.js';
import { gaussian, seededRandom, uniform } from '../support/random.js';
import { compareTrainingStatistics, compareY } from '../support/tolerances.js';
import { inErrorScopes } from './gpu-context.js';

interface MergeCase {
  readonly what: string;
  readonly shape: readonly number[];
  readonly axis: number;
  readonly mean?: number;
  readonly outlier?: number;
  readonly dtype?: 'f32' | 'f16';
}

const CASES: readonly MergeCase[] = [
  { what: 'slices, vec4', shape: [8, 4, 16, 16], axis: 1 },
  { what: 'slices, vec4, several slices', shape: [8, 2, 48, 48], axis: 1 },
  { what: 'slices, scalar', shape: [6, 3, 37, 5], axis: 1 },
  { what: 'rows, BatchNorm1d', shape: [3000, 5], axis: 1 },
  { what: 'rows, one block', shape: [15, 7], axis: 1 }, // under one fold block a row lane: one block however many workgroups are wanted
  { what: 'rows, channels-last', shape: [4, 9, 9, 70], axis: -1 },
  { what: 'mean 1e4, unit spread', shape: [8, 4, 16, 16], axis: 1, mean: 1e4 },
  { what: 'a far outlier', shape: [16, 3, 9, 9], axis: 1, outlier: 1e12 },
  { what: 'f16, vec4', shape: [4, 3, 12, 12], axis: 1, dtype: 'f16' },
  { what: 'f16, rows', shape: [777, 3], axis: 1, dtype: 'f16' },
];

async function forwardStatistics(gpu: Gpu, c: MergeCase, seed: number): Promise<Float32Array> {
  const { shape, axis, dtype = 'f32' } = c;
  const rnd = seededRandom(seed);
  const { channels } = channelLayout(shape, axis);
  let x = gaussian(rnd, numElements(shape), c.mean ?? 0.5, 2);
  if (c.outlier !== undefined) x[0] = c.outlier;
  if (dtype === 'f16') x = roundToHalf(x);
  const weight = uniform(rnd, channels, 0.5, 2);
  const bias = uniform(rnd, channels, -1, 1);
  const runningMean = uniform(rnd, channels, -1, 1);
  const runningVar = uniform(rnd, channels, 0.5, 2);
  const t = (data: Float32Array, s: readonly number[], type: 'f32' | 'f16' = 'f32') => Tensor.fromArray(gpu, data, s, { dtype: type });
  const [wT, bT, rmT, rvT] = [t(weight, [channels]), t(bias, [channels]), t(runningMean, [channels]), t(runningVar, [channels])];
  const xT = t(x, shape, dtype);
  const out = batchNorm(gpu, xT, { training: true, axis, weight: wT, bias: bT, runningMean: rmT, runningVar: rvT });
  const ref = batchNormReference(x, shape, { training: true, axis, weight, bias, runningMean, runningVar });
  const what = `${c.what} [${shape}] ${gpu.numerics.statisticsMerge} (${gpu.reductionWorkgroups} workgroups)`;
  compareY(`${what} y`, await out.y.toArray(), x, shape, ref, weight, bias, axis, dtype);
  const saveMean = await out.saveMean.toArray();
  compareTrainingStatistics(what, { saveMean, saveInvstd: await out.saveInvstd.toArray(), runningMean: await rmT.toArray(), runningVar: await rvT.toArray() }, ref);
  for (const tensor of [xT, wT, bT, rmT, rvT, out.y, out.saveMean, out.saveInvstd]) tensor.destroy();
  return saveMean;
}

describe('statisticsMerge (internal): the block merge and the former merge per Elem', () => {
  it('refuses anything but block and vec4', async () => {
    await expect(requestGpu({ statisticsMerge: 'scalar' as StatisticsMerge })).rejects.toThrow("statisticsMerge must be 'block' or 'vec4', got 'scalar'");
    const gpu = await requestGpu();
    expect(gpu.numerics.statisticsMerge).toBe('block');
    gpu.destroy();
  });

  it('both within tolerance on every statistics path, in one dispatch and in three passes', async () => {
    const plansSeen = new Set<string>();
    let differ = false;
    for (const plans of [{}, GPU_PLANS]) {
      const devices = await Promise.all(
        (['block', 'vec4'] as const).map((statisticsMerge) => requestGpu({ statisticsMerge, ...plans })),
      );
      const [block, vec4] = devices as [Gpu, Gpu];
      for (const [i, c] of CASES.entries()) {
        if (c.dtype === 'f16' && block.features.shaderF16) throw new Error('this test covers the packed f16 path; the adapter offers shader-f16');
        const plan = planOperation(block, channelLayout(c.shape, c.axis), true, c.dtype === 'f16' ? 'f16-packed' : 'f32');
        plansSeen.add(`${plan.rows ? 'rows' : 'slices'} ${plan.singlePass ? 'one dispatch' : 'three passes'}`);
        const means: Float32Array[] = [];
        for (const gpu of [block, vec4]) means.push(await inErrorScopes(gpu, () => forwardStatistics(gpu, c, 300 + i)));
        differ ||= means[0]!.some((m, channel) => m !== means[1]![channel]);
      }
      for (const gpu of devices) gpu.destroy();
    }
    expect([...plansSeen].sort()).toEqual(['rows one dispatch', 'rows three passes', 'slices one dispatch', 'slices three passes']);
    // The switch reaches the kernels: the two merges round differently somewhere.
    expect(differ).toBe(true);
  });
});
