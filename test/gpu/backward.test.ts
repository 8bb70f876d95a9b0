// Backward batch norm on the GPU against the float64 reference over the seeded shape sweep: training and
// inference, each on both reduction paths (subgroups and workgroup memory), with and without a weight;
// the same shapes channels-last (axis -1), training and inference, each shape with the fused ReLU in one
// of the two modes; then bad input, the module's backward, and the no-allocation steady state.
import { afterAll, describe, expect, it } from 'vitest';
import {
  BatchNorm,
  type Gpu,
  batchNorm,
  batchNormBackward,
  Tensor,
  type BatchNormBackwardOptions,
  type BatchNormBackwardResult,
} from '../../src/index.js';
import { batchNormBackwardReference, channelMoments, type ReferenceBackwardResult } from '../../src/reference.js';
import { gaussian, seededRandom, uniform } from '../support/random.js';
import { channelLayout } from '../../src/runtime/shape.js';
import { channelsLast, CHUNKED_CASES, shapeSweep, type SweepCase } from '../support/shape-sweep.js';
import { compareBackward, type BackwardInputs } from '../support/tolerances.js';
import { inErrorScopes, testGpu } from './gpu-context.js';

// Tolerances: DX_RTOL and SUM_RTOL, relative to the float32 terms of each gradient, stated in
// test/support/tolerances.ts (compareBackward) and shared with the fuzz, chunking and fault tests.
const CASES = shapeSweep(200);
const worst = { dx: 0, dweight: 0, dbias: 0, checked: 0, withWeight: 0 };
const worstChannelsLast = { dx: 0, dweight: 0, dbias: 0, checked: 0, withWeight: 0, relu: 0 };

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
  { training: false, subgroups: false },
];

async function runCase(gpu: Gpu, c: SweepCase, config: Config): Promise<void> {
  const { axis = 1, relu = false } = config;
  const tally = axis === 1 ? worst : worstChannelsLast;
  const rnd = seededRandom(c.seed);
  const size = c.shape.reduce((a, b) => a * b, 1);
  const { channels } = channelLayout(c.shape, axis);
  const x = gaussian(rnd, size, c.mean, c.spread);
  const dy = gaussian(rnd, size, (rnd() - 0.5) * 4, 1); // a nonzero mean exercises the mean(dy) term
  const weight = rnd() < 0.5 ? uniform(rnd, channels, -2, 2) : null;
  const eps = [1e-5, 1e-3, 1e-8][Math.floor(rnd() * 3)]!;

  // Training: the float32 statistics a forward would have saved; inference: running statistics.
  let stats: { a: Float32Array; b: Float32Array };
  if (config.training) {
    const moments = channelMoments(x, c.shape, axis);
    stats = { a: Float32Array.from(moments.mean), b: Float32Array.from(moments.variance, (v) => 1 / Math.sqrt(v + eps)) };
  } else {
    stats = {
      a: uniform(rnd, channels, c.mean - c.spread, c.mean + c.spread),
      b: uniform(rnd, channels, 0.5 * c.spread ** 2, 2 * c.spread ** 2),
    };
  }
  // With the ReLU the backward needs the forward's bias (so that the ReLU clips part of each channel).
  const bias = relu ? uniform(rnd, channels, -1, 1) : null;

  const xT = Tensor.fromArray(gpu, x, c.shape);
  const dyT = Tensor.fromArray(gpu, dy, c.shape);
  const wT = weight ? Tensor.fromArray(gpu, weight, [channels]) : null;
  const biasT = bias ? Tensor.fromArray(gpu, bias, [channels]) : null;
  let aT = Tensor.fromArray(gpu, stats.a, [channels]);
  let bT = Tensor.fromArray(gpu, stats.b, [channels]);
  // With the ReLU: the GPU forward this backward differentiates, whose y masks dy in the reference (the GPU
  // backward recomputes the mask from x, the statistics, the weight and the bias). In training its saved
  // statistics replace the CPU ones, as the backward of a real forward reads them.
  let reluOutput: Float32Array | null = null;
  if (relu) {
    const common = { eps, axis, activation: 'relu' as const, weight: wT, bias: biasT };
    const forward = config.training
      ? batchNorm(gpu, xT, { ...common, training: true })
      : batchNorm(gpu, xT, { ...common, training: false, runningMean: aT, runningVar: bT });
    reluOutput = await forward.y.toArray();
    forward.y.destroy();
    if (config.training) {
      for (const t of [aT, bT]) t.destroy();
      [aT, bT] = [forward.saveMean!, forward.saveInvstd!];
      stats = { a: await aT.toArray(), b: await bT.toArray() };
    }
  }
  const ref = batchNormBackwardReference(dy, x, c.shape, config.training
    ? { weight, axis, reluOutput, saveMean: stats.a, saveInvstd: stats.b, training: true }
    : { weight, axis, reluOutput, runningMean: stats.a, runningVar: stats.b, eps, training: false });
  const common = { weight: wT, axis, ...(relu ? { activation: 'relu' as const, bias: biasT } : {}) };
  const out = batchNormBackward(gpu, dyT, xT, config.training
    ? { ...common, saveMean: aT, saveInvstd: bT, training: true }
    : { ...common, runningMean: aT, runningVar: bT, eps, training: false });

  const ratios = await compareBackward(c.name, out, ref, { dy, x, shape: c.shape, weight, training: config.training, axis, reluOutput });
  tally.dx = Math.max(tally.dx, ratios.dx);
  tally.dweight = Math.max(tally.dweight, ratios.dweight);
  tally.dbias = Math.max(tally.dbias, ratios.dbias);
  if (weight) tally.withWeight++;
  tally.checked++;
  if (relu) worstChannelsLast.relu++;
  for (const t of [xT, dyT, wT, biasT, aT, bT, out.dx, out.dweight, out.dbias]) t?.destroy();
}

for (const config of CONFIGS) {
  const mode = `${config.training ? 'training' : 'inference'}, ${config.subgroups ? 'subgroup' : 'workgroup-memory'} reduction`;
  describe(`backward sweep: ${mode}`, () => {
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
  describe(`backward sweep, channels-last: ${training ? 'training' : 'inference'}`, () => {
    const cases = CHANNELS_LAST.map((c, i) => ({ ...c, relu: (i + (training ? 0 : 1)) % 2 === 1, subgroups: i % 2 === 0 }));
    it.each(cases)('$name $shape axis -1, relu $relu', async ({ relu, subgroups, ...c }) => {
      const gpu = await testGpu(subgroups);
      await inErrorScopes(gpu, () => runCase(gpu, c, { training, subgroups, axis: -1, relu }));
    });
  });
}

describe('chunked backward', () => {
  for (const subgroups of [true, false]) {
    it.each(CHUNKED_CASES)(`$shape in windows of $maxBindingBytes bytes (${subgroups ? 'subgroups' : 'workgroup memory'})`, async ({ shape, maxBindingBytes }) => {
      const gpu = await testGpu(subgroups, maxBindingBytes);
      const size = shape.reduce((a, b) => a * b, 1);
      expect(size * 4).toBeGreaterThan(maxBindingBytes); // really chunked
      const rnd = seededRandom(size);
      const channels = shape[1]!;
      const x = gaussian(rnd, size, 100, 3);
      const dy = gaussian(rnd, size, 0.5, 1);
      const weight = uniform(rnd, channels, 0.5, 2);
      const { mean, variance } = channelMoments(x, shape);
      const saveMean = Float32Array.from(mean);
      const saveInvstd = Float32Array.from(variance, (v) => 1 / Math.sqrt(v + 1e-5));
      const runningVar = uniform(rnd, channels, 4, 16);
      await inErrorScopes(gpu, async () => {
        const t = (data: Float32Array, s: readonly number[]) => Tensor.fromArray(gpu, data, s);
        const [xT, dyT, wT, meanT, spreadT, rvT] = [t(x, shape), t(dy, shape), t(weight, [channels]), t(saveMean, [channels]), t(saveInvstd, [channels]), t(runningVar, [channels])];
        const inputs = { dy, x, shape, weight };
        const training = batchNormBackward(gpu, dyT, xT, { weight: wT, saveMean: meanT, saveInvstd: spreadT, training: true });
        const trainingRef = batchNormBackwardReference(dy, x, shape, { weight, saveMean, saveInvstd, training: true });
        await compareBackward('chunked training', training, trainingRef, { ...inputs, training: true });
        const inference = batchNormBackward(gpu, dyT, xT, { weight: wT, runningMean: meanT, runningVar: rvT, training: false });
        const inferenceRef = batchNormBackwardReference(dy, x, shape, { weight, runningMean: saveMean, runningVar, training: false });
        await compareBackward('chunked inference', inference, inferenceRef, { ...inputs, training: false });
        for (const tensor of [xT, dyT, wT, meanT, spreadT, rvT, training.dx, training.dweight, training.dbias, inference.dx, inference.dweight, inference.dbias]) tensor?.destroy();
      });
    });
  }
});

describe('backward bad input', () => {
  const shape = [2, 3, 4];
  const setup = (gpu: Gpu) => {
    const x = Tensor.fromArray(gpu, new Float32Array(24), shape, { label: 'x' });
    const c3 = () => Tensor.fromArray(gpu, new Float32Array(3), [3]);
    return { x, saveMean: c3(), saveInvstd: c3() };
  };

  it('rejects dy of another shape or dtype', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const { x, saveMean, saveInvstd } = setup(gpu);
      const p = { saveMean, saveInvstd, training: true } as const;
      const dy = Tensor.fromArray(gpu, new Float32Array(24), [2, 4, 3]);
      expect(() => batchNormBackward(gpu, dy, x, p)).toThrow(/dy has shape \[2,4,3\] but x has shape \[2,3,4\]/);
      const dyRank = Tensor.fromArray(gpu, new Float32Array(24), [2, 3, 2, 2]);
      expect(() => batchNormBackward(gpu, dyRank, x, p)).toThrow(/dy has shape \[2,3,2,2\] but x has shape \[2,3,4\]/);
      const half = Tensor.fromArray(gpu, new Float32Array(24), shape, { dtype: 'f16' });
      expect(() => batchNormBackward(gpu, half, x, p)).toThrow(/dy has dtype 'f16' but x has dtype 'f32'/);
      half.destroy();
      for (const t of [x, saveMean, saveInvstd, dy, dyRank]) t.destroy();
    });
  });

  it('rejects missing or mis-sized statistics and weight', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const { x, saveMean, saveInvstd } = setup(gpu);
      const dy = Tensor.fromArray(gpu, new Float32Array(24), shape);
      const c2 = Tensor.fromArray(gpu, new Float32Array(2), [2]);
      const untyped = (p: object) => p as BatchNormBackwardOptions;
      expect(() => batchNormBackward(gpu, dy, x, untyped({ saveInvstd, training: true }))).toThrow(/training: true needs saveMean/);
      expect(() => batchNormBackward(gpu, dy, x, untyped({ saveMean, training: true }))).toThrow(/training: true needs saveInvstd/);
      expect(() => batchNormBackward(gpu, dy, x, untyped({ saveMean, saveInvstd }))).toThrow(/options.training must be true or false, got undefined/);
      expect(() => batchNormBackward(gpu, dy, x, { saveMean: c2, saveInvstd, training: true })).toThrow(
        /saveMean has 2 elements but x has 3 channels \(shape \[2,3,4\]\)/,
      );
      expect(() => batchNormBackward(gpu, dy, x, { saveMean, saveInvstd: c2, training: true })).toThrow(/saveInvstd has 2 elements/);
      expect(() => batchNormBackward(gpu, dy, x, { weight: c2, saveMean, saveInvstd, training: true })).toThrow(/weight has 2 elements/);
      expect(() => batchNormBackward(gpu, dy, x, untyped({ runningMean: saveMean, training: false }))).toThrow(
        /training: false needs runningVar/,
      );
      expect(() => batchNormBackward(gpu, dy, x, { runningMean: saveMean, runningVar: c2, training: false })).toThrow(
        /runningVar has 2 elements/,
      );
      expect(() => batchNormBackward(gpu, dy, x, { runningMean: saveMean, runningVar: saveInvstd, eps: -1, training: false })).toThrow(
        /eps must be a finite number >= 0/,
      );
      for (const t of [x, saveMean, saveInvstd, dy, c2]) t.destroy();
    });
  });

  it('rejects destroyed tensors and tensors from another device', async () => {
    const gpu = await testGpu(true);
    const other = await testGpu(false);
    await inErrorScopes(gpu, async () => {
      const { x, saveMean, saveInvstd } = setup(gpu);
      const p = { saveMean, saveInvstd, training: true } as const;
      const dy = Tensor.fromArray(gpu, new Float32Array(24), shape, { label: 'gradient' });
      const foreign = Tensor.fromArray(other, new Float32Array(24), shape, { label: 'foreign' });
      expect(() => batchNormBackward(gpu, foreign, x, p)).toThrow(/dy \('foreign'\) lives on another GPU device/);
      expect(() => batchNormBackward(other, dy, foreign, p)).toThrow(/dy \('gradient'\) lives on another GPU device/);
      saveInvstd.destroy();
      expect(() => batchNormBackward(gpu, dy, x, p)).toThrow(/saveInvstd .* was destroyed/);
      dy.destroy();
      expect(() => batchNormBackward(gpu, dy, x, p)).toThrow(/dy \('gradient', shape \[2,3,4\]\) was destroyed/);
      for (const t of [x, saveMean, foreign]) t.destroy();
    });
  });
});

describe('BatchNorm.backward', () => {
  const shape = [6, 3, 5, 4];
  const size = 360;

  it('differentiates the last forward: training through batch statistics, eval through running ones', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const rnd = seededRandom(99);
      const x = gaussian(rnd, size, 2, 3);
      const dy = gaussian(rnd, size, 0.5, 1);
      const bn = new BatchNorm(gpu, 3);
      const weight = uniform(rnd, 3, 0.5, 2);
      gpu.device.queue.writeBuffer(bn.weight!.buffer, 0, weight.buffer, weight.byteOffset, weight.byteLength);
      const xT = Tensor.fromArray(gpu, x, shape);
      const dyT = Tensor.fromArray(gpu, dy, shape);

      // The module's saveMean/saveInvstd come from the float32 forward, the reference's from float64
      // moments; their difference (~1e-7 of the spread) stays well inside the dx tolerance.
      bn.forward(xT).destroy();
      const { mean, variance } = channelMoments(x, shape);
      const invstd = variance.map((v) => 1 / Math.sqrt(v + bn.eps));
      const training = batchNormBackwardReference(dy, x, shape, { weight, saveMean: mean, saveInvstd: invstd, training: true });
      await expectBackward(bn.backward(dyT), training, { dy, x, shape, weight, training: true });

      bn.eval();
      bn.forward(xT).destroy();
      const runningMean = await bn.runningMean!.toArray();
      const runningVar = await bn.runningVar!.toArray();
      const inference = batchNormBackwardReference(dy, x, shape, { weight, runningMean, runningVar, eps: bn.eps, training: false });
      await expectBackward(bn.backward(dyT), inference, { dy, x, shape, weight, training: false });

      xT.destroy();
      expect(() => bn.backward(dyT)).toThrow(/needs the input of the last forward .* which was destroyed/);
      dyT.destroy();
      bn.destroy();
      expect(() => bn.backward(dyT)).toThrow(/was destroyed/);
    });
  });

  it('needs a forward first; without affine it returns no dweight/dbias', async () => {
    const gpu = await testGpu(false);
    await inErrorScopes(gpu, async () => {
      const bn = new BatchNorm(gpu, 3, { affine: false });
      const xT = Tensor.fromArray(gpu, gaussian(seededRandom(5), size), shape);
      expect(() => bn.backward(xT)).toThrow(/needs a forward first/);
      bn.forward(xT).destroy();
      const out = bn.backward(xT);
      expect(out.dweight).toBeNull();
      expect(out.dbias).toBeNull();
      out.dx.destroy();
      xT.destroy();
      bn.destroy();
    });
  });

  async function expectBackward(out: BatchNormBackwardResult, ref: ReferenceBackwardResult, inputs: BackwardInputs): Promise<void> {
    await compareBackward('module', out, ref, inputs);
    for (const t of [out.dx, out.dweight, out.dbias]) t?.destroy();
  }
});

describe('backward steady state', () => {
  it('allocates only its outputs once warm', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const shape = [4, 8, 6, 6];
      const x = Tensor.fromArray(gpu, gaussian(seededRandom(3), 1152), shape);
      const c8 = () => Tensor.fromArray(gpu, new Float32Array(8).fill(1), [8]);
      const p = { weight: c8(), saveMean: c8(), saveInvstd: c8(), training: true } as const;
      const call = () => batchNormBackward(gpu, x, x, p);
      const warm = call();
      for (const t of [warm.dx, warm.dweight, warm.dbias]) t?.destroy();
      const before = gpu.liveBuffers;
      const out = call();
      expect(gpu.liveBuffers - before).toBe(3); // dx, dweight, dbias
      for (const t of [out.dx, out.dweight, out.dbias]) t?.destroy();
      expect(gpu.liveBuffers).toBe(before);
      for (const t of [x, p.weight, p.saveMean, p.saveInvstd]) t.destroy();
    });
  });
});

afterAll(() => {
  // Worst error as a fraction of its tolerance (1 = at the limit), for the closing notes.
  console.log(`backward sweep: ${worst.checked} GPU cases checked (${worst.withWeight} with a weight); worst error/tolerance: ${JSON.stringify(worst)}`);
  console.log(
    `backward sweep, channels-last: ${worstChannelsLast.checked} GPU cases checked (${worstChannelsLast.withWeight} with a weight, ` +
      `${worstChannelsLast.relu} with a ReLU); worst error/tolerance: ${JSON.stringify(worstChannelsLast)}`,
  );
});
