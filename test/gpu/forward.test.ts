// Forward batch norm on the GPU against the float64 reference over the seeded shape sweep: training on
// both reduction paths (subgroups and workgroup memory), and inference; affine or not; momentum a number
// or null (cumulative average). Then the same shapes channels-last (axis -1), in training and inference,
// each shape with the fused ReLU in one of the two modes.
import { afterAll, describe, expect, it } from 'vitest';
import { batchNorm, Tensor, type Gpu } from '../../src/index.js';
import { batchNormReference } from '../../src/reference.js';
import { channelLayout } from '../../src/runtime/shape.js';
import { compareTrainingStatistics, compareY } from '../support/tolerances.js';
import { gaussian, seededRandom, uniform } from '../support/random.js';
import { channelsLast, shapeSweep, type SweepCase } from '../support/shape-sweep.js';
import { inErrorScopes, testGpu } from './gpu-context.js';

// Tolerances: test/support/tolerances.ts.
const CASES = shapeSweep(200);
const worst = { y: 0, stats: 0, checked: 0 };
const worstChannelsLast = { y: 0, stats: 0, checked: 0, relu: 0 };

interface Config {
  training: boolean;
  subgroups: boolean;
  /** Channel axis (default 1); -1 for the channels-last cases. */
  axis?: number;
  relu?: boolean;
}
const CONFIGS: Config[] = [
  { training: true, subgroups: true },
  { training: true, subgroups: false },
  { training: false, subgroups: true },
];

async function runCase(gpu: Gpu, c: SweepCase, config: Config): Promise<void> {
  const { axis = 1, relu = false } = config;
  const tally = axis === 1 ? worst : worstChannelsLast;
  const rnd = seededRandom(c.seed);
  const size = c.shape.reduce((a, b) => a * b, 1);
  const { channels } = channelLayout(c.shape, axis);
  const x = gaussian(rnd, size, c.mean, c.spread);
  const affine = rnd() < 0.7;
  const weight = affine ? uniform(rnd, channels, -2, 2) : null;
  const bias = affine ? uniform(rnd, channels, -1, 1) : null;
  const momentumPick = rnd();
  // The GPU receives momentum as a float32 uniform; give the reference the same value.
  const momentum = momentumPick < 0.25 ? null : Math.fround(momentumPick < 0.6 ? 0.1 : rnd());
  const numBatchesTracked = 1 + Math.floor(rnd() * 5);
  const eps = [1e-5, 1e-3, 1e-8][Math.floor(rnd() * 3)]!;
  const runningMean = uniform(rnd, channels, c.mean - c.spread, c.mean + c.spread);
  const runningVar = uniform(rnd, channels, 0.5 * c.spread ** 2, 2 * c.spread ** 2);

  const t = (data: Float32Array | null, shape: readonly number[]) => (data ? Tensor.fromArray(gpu, data, shape) : null);
  const xT = t(x, c.shape)!;
  const wT = t(weight, [channels]);
  const bT = t(bias, [channels]);
  const rmT = t(runningMean, [channels])!;
  const rvT = t(runningVar, [channels])!;
  const options = { weight, bias, runningMean, runningVar, training: config.training, momentum, numBatchesTracked, eps, axis, activation: relu ? 'relu' as const : null };
  const ref = batchNormReference(x, c.shape, options);
  const out = batchNorm(gpu, xT, { ...options, weight: wT, bias: bT, runningMean: rmT, runningVar: rvT });

  const yCmp = compareY(`${c.name} y`, await out.y.toArray(), x, c.shape, ref, weight, bias, axis);
  tally.y = Math.max(tally.y, yCmp.worstRatio);

  if (config.training) {
    const saved = { saveMean: await out.saveMean!.toArray(), saveInvstd: await out.saveInvstd!.toArray() };
    tally.stats = Math.max(tally.stats, compareTrainingStatistics(c.name, { ...saved, runningMean: await rmT.toArray(), runningVar: await rvT.toArray() }, ref));
  } else {
    expect(out.saveMean).toBeNull();
    expect(out.saveInvstd).toBeNull();
    // Inference leaves the running statistics alone.
    expect(await rmT.toArray()).toEqual(runningMean);
    expect(await rvT.toArray()).toEqual(runningVar);
  }
  tally.checked++;
  if (relu) worstChannelsLast.relu++;
  for (const tensor of [xT, wT, bT, rmT, rvT, out.y, out.saveMean, out.saveInvstd]) tensor?.destroy();
}

for (const config of CONFIGS) {
  const mode = config.training ? `training, ${config.subgroups ? 'subgroup' : 'workgroup-memory'} reduction` : 'inference';
  describe(`forward sweep: ${mode}`, () => {
    it.each(CASES)('$name $shape', async (c) => {
      const gpu = await testGpu(config.subgroups);
      await inErrorScopes(gpu, () => runCase(gpu, c, config));
    });
  });
}

// Channels-last: the sweep's shapes as (N, *spatial, C) with axis -1. With nothing after the channel axis
// they always reduce with the rows kernels, which have a single reduction path; the cases still alternate
// the two devices. Each shape runs with the ReLU in one mode and without it in the other.
const CHANNELS_LAST = CASES.map(channelsLast);
for (const training of [true, false]) {
  describe(`forward sweep, channels-last: ${training ? 'training' : 'inference'}`, () => {
    const cases = CHANNELS_LAST.map((c, i) => ({ ...c, relu: (i + (training ? 0 : 1)) % 2 === 1, subgroups: i % 2 === 0 }));
    it.each(cases)('$name $shape axis -1, relu $relu', async ({ relu, subgroups, ...c }) => {
      const gpu = await testGpu(subgroups);
      await inErrorScopes(gpu, () => runCase(gpu, c, { training, subgroups, axis: -1, relu }));
    });
  });
}

afterAll(() => {
  // Worst error as a fraction of its tolerance (1 = at the limit), for the closing notes.
  console.log(`forward sweep: ${worst.checked} GPU cases checked; worst error/tolerance: ${JSON.stringify(worst)}`);
  console.log(
    `forward sweep, channels-last: ${worstChannelsLast.checked} GPU cases checked (${worstChannelsLast.relu} with a ReLU); ` +
      `worst error/tolerance: ${JSON.stringify(worstChannelsLast)}`,
  );
});
