// Forward batch norm on the GPU against the float64 reference over the seeded shape sweep: training on
// both reduction paths (subgroups and workgroup memory), and inference; affine or not; momentum a number
// or null (cumulative average).
import { afterAll, describe, expect, it } from 'vitest';
import { batchNorm, batchNormReference, Tensor, type Gpu } from '../../src/index.js';
import { compareElements } from '../support/compare.js';
import { gaussian, seededRandom, uniform } from '../support/random.js';
import { shapeSweep, type SweepCase } from '../support/shape-sweep.js';
import { inErrorScopes, testGpu } from './gpu-context.js';

// Tolerances, stated once. y is x*scale + shift in float32, so its error scales with the terms added:
// |dy| <= Y_RTOL * (|x*scale| + |shift|) + Y_ATOL. Statistics are relative to the channel's spread.
const Y_RTOL = 4e-6;
const Y_ATOL = 1e-6;
const STAT_RTOL = 1e-6;

const CASES = shapeSweep(200);
const worst = { y: 0, mean: 0, invstd: 0, running: 0, checked: 0 };

interface Config {
  training: boolean;
  subgroups: boolean;
}
const CONFIGS: Config[] = [
  { training: true, subgroups: true },
  { training: true, subgroups: false },
  { training: false, subgroups: true },
];

async function runCase(gpu: Gpu, c: SweepCase, config: Config): Promise<void> {
  const rnd = seededRandom(c.seed);
  const size = c.shape.reduce((a, b) => a * b, 1);
  const channels = c.shape[1]!;
  const x = gaussian(rnd, size, c.mean, c.spread);
  const affine = rnd() < 0.7;
  const weight = affine ? uniform(rnd, channels, -2, 2) : null;
  const bias = affine ? uniform(rnd, channels, -1, 1) : null;
  const momentumPick = rnd();
  const momentum = momentumPick < 0.25 ? null : momentumPick < 0.6 ? 0.1 : rnd();
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
  const options = { weight, bias, runningMean, runningVar, training: config.training, momentum, numBatchesTracked, eps };
  const ref = batchNormReference(x, c.shape, options);
  const out = batchNorm(gpu, xT, { ...options, weight: wT, bias: bT, runningMean: rmT, runningVar: rvT });

  const y = await out.y.toArray();
  const spatial = size / (c.shape[0]! * channels);
  const channelOf = (i: number) => Math.floor(i / spatial) % channels;
  const scale = (ch: number) => (weight ? weight[ch]! : 1) * ref.invstd[ch]!;
  const shift = (ch: number) => (bias ? bias[ch]! : 0) - ref.mean[ch]! * scale(ch);
  const yCmp = compareElements(`${c.name} y`, y, ref.y, (i) => {
    const ch = channelOf(i);
    return Y_RTOL * (Math.abs(x[i]! * scale(ch)) + Math.abs(shift(ch))) + Y_ATOL;
  });
  worst.y = Math.max(worst.y, yCmp.worstRatio);

  if (config.training) {
    const std = (ch: number) => 1 / ref.invstd[ch]!;
    const mean = compareElements(`${c.name} saveMean`, await out.saveMean!.toArray(), ref.mean, (ch) =>
      STAT_RTOL * (Math.abs(ref.mean[ch]!) + std(ch)),
    );
    const invstd = compareElements(`${c.name} saveInvstd`, await out.saveInvstd!.toArray(), ref.invstd, (ch) =>
      STAT_RTOL * ref.invstd[ch]!,
    );
    const rm = compareElements(`${c.name} runningMean`, await rmT.toArray(), ref.runningMean!, (ch) =>
      STAT_RTOL * (Math.abs(ref.runningMean![ch]!) + std(ch)),
    );
    const rv = compareElements(`${c.name} runningVar`, await rvT.toArray(), ref.runningVar!, (ch) =>
      STAT_RTOL * ref.runningVar![ch]!,
    );
    worst.mean = Math.max(worst.mean, mean.worstRatio);
    worst.invstd = Math.max(worst.invstd, invstd.worstRatio);
    worst.running = Math.max(worst.running, rm.worstRatio, rv.worstRatio);
  } else {
    expect(out.saveMean).toBeNull();
    expect(out.saveInvstd).toBeNull();
    // Inference leaves the running statistics alone.
    expect(await rmT.toArray()).toEqual(runningMean);
    expect(await rvT.toArray()).toEqual(runningVar);
  }
  worst.checked++;
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

afterAll(() => {
  // Worst error as a fraction of its tolerance (1 = at the limit), for the closing notes.
  console.log(`forward sweep: ${worst.checked} GPU cases checked; worst error/tolerance: ${JSON.stringify(worst)}`);
});
