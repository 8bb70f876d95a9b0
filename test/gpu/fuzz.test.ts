// Seeded fuzzing of the forward pass against the float64 reference: 500 random problems in CI
// (`npm test`), any number locally with `npm run fuzz -- --cases 20000 [--seed S]`.
import { afterAll, describe, inject, it } from 'vitest';
import { batchNorm, batchNormReference, Tensor } from '../../src/index.js';
import { compareElements } from '../support/compare.js';
import { fuzzCase, type FuzzCase } from '../support/fuzz-case.js';
import { inErrorScopes, testGpu } from './gpu-context.js';

// As in forward.test.ts: y within Y_RTOL of the terms the fused pass adds; statistics relative to spread.
const Y_RTOL = 4e-6;
const Y_ATOL = 1e-6;
const STAT_RTOL = 1e-6;

const cases = inject('fuzzCases');
const firstSeed = inject('fuzzSeed');
const tally = { cases: 0, training: 0, inference: 0, worstRatio: 0 };

async function check(c: FuzzCase): Promise<void> {
  const gpu = await testGpu(c.seed % 2 === 0); // alternate the two reduction paths
  const channels = c.shape[1]!;
  const spatial = c.x.length / (c.shape[0]! * channels);
  const options = { weight: c.weight, bias: c.bias, runningMean: c.runningMean, runningVar: c.runningVar, training: c.training, momentum: c.momentum, numBatchesTracked: c.numBatchesTracked, eps: c.eps };
  const ref = batchNormReference(c.x, c.shape, options);
  await inErrorScopes(gpu, async () => {
    const tensor = (data: Float32Array | null, shape: readonly number[]) => (data ? Tensor.fromArray(gpu, data, shape) : null);
    const inputs = {
      x: tensor(c.x, c.shape)!,
      weight: tensor(c.weight, [channels]),
      bias: tensor(c.bias, [channels]),
      runningMean: tensor(c.runningMean, [channels])!,
      runningVar: tensor(c.runningVar, [channels])!,
    };
    const out = batchNorm(gpu, inputs.x, { ...options, ...inputs });
    const scale = (ch: number) => (c.weight ? c.weight[ch]! : 1) * ref.invstd[ch]!;
    const shift = (ch: number) => (c.bias ? c.bias[ch]! : 0) - ref.mean[ch]! * scale(ch);
    const y = compareElements('y', await out.y.toArray(), ref.y, (i) => {
      const ch = Math.floor(i / spatial) % channels;
      return Y_RTOL * (Math.abs(c.x[i]! * scale(ch)) + Math.abs(shift(ch))) + Y_ATOL;
    });
    tally.worstRatio = Math.max(tally.worstRatio, y.worstRatio);
    if (c.training) {
      const spread = (ch: number) => 1 / ref.invstd[ch]!;
      compareElements('saveMean', await out.saveMean!.toArray(), ref.mean, (ch) => STAT_RTOL * (Math.abs(ref.mean[ch]!) + spread(ch)));
      compareElements('saveInvstd', await out.saveInvstd!.toArray(), ref.invstd, (ch) => STAT_RTOL * ref.invstd[ch]!);
      compareElements('runningMean', await inputs.runningMean.toArray(), ref.runningMean!, (ch) => STAT_RTOL * (Math.abs(ref.runningMean![ch]!) + spread(ch)));
      compareElements('runningVar', await inputs.runningVar.toArray(), ref.runningVar!, (ch) => STAT_RTOL * ref.runningVar![ch]!);
    }
    for (const t of [...Object.values(inputs), out.y, out.saveMean, out.saveInvstd]) t?.destroy();
  });
  tally.cases++;
  tally[c.training ? 'training' : 'inference']++;
}

describe(`fuzz: ${cases} cases from seed ${firstSeed}`, () => {
  it.each(Array.from({ length: cases }, (_, i) => firstSeed + i))('seed %i', async (seed) => {
    const c = fuzzCase(seed);
    try {
      await check(c);
    } catch (error) {
      const what = `shape [${c.shape.join(',')}] ${c.training ? 'training' : 'inference'} eps ${c.eps} momentum ${c.momentum} affine ${c.weight !== null} x ~ N(${c.offset}, ${c.scale}^2)`;
      throw new Error(`fuzz seed ${seed} failed (replay: npm run fuzz -- --seed ${seed} --cases 1): ${what}\n${String(error)}`);
    }
  });
});

afterAll(() => {
  console.log(`fuzz: ${JSON.stringify(tally)}`);
});
