// Seeded fuzzing of the forward and backward passes against the float64 reference: 500 random problems
// in CI (`npm test`), any number locally with `npm run fuzz -- --cases 20000 [--seed S]`. Each problem
// draws its shape, dtype (f32, or f16 on the packed path here), mode, channel axis (1, channels-last or
// another), fused ReLU, running-variance estimator, scales and outliers (test/support/fuzz-case.ts).
import { afterAll, describe, inject, it } from 'vitest';
import { batchNorm, batchNormBackward, Tensor } from '../../src/index.js';
import { batchNormBackwardReference, batchNormReference } from '../../src/reference.js';
import { channelLayout } from '../../src/runtime/shape.js';
import { fuzzCase, type FuzzCase } from '../support/fuzz-case.js';
import { compareBackward, compareTrainingStatistics, compareY } from '../support/tolerances.js';
import { inErrorScopes, testGpu } from './gpu-context.js';

// Tolerances (Y_RTOL/Y_ATOL, STAT_RTOL, DX_RTOL, SUM_RTOL) are those of the forward and backward sweeps,
// stated in test/support/tolerances.ts. The tally keeps the worst error as a fraction of its tolerance.
const cases = inject('fuzzCases');
const firstSeed = inject('fuzzSeed');
const tally = {
  cases: 0,
  training: 0,
  inference: 0,
  backwardWithWeight: 0,
  backwardWithoutWeight: 0,
  channelsLast: 0,
  otherAxis: 0,
  relu: 0,
  biasedRunningVar: 0,
  f16: 0,
  worstRatio: { y: 0, statistics: 0, dx: 0, dweight: 0, dbias: 0 },
};

async function check(c: FuzzCase): Promise<void> {
  // Alternate the two reductions (subgroups or workgroup memory) and the two planning targets (a GPU's,
  // and this adapter's, under which most shapes take the one-dispatch plans).
  const gpu = await testGpu(c.seed % 2 === 0, undefined, c.seed % 4 < 2 ? 'gpu' : 'adapter');
  const { axis, activation } = c;
  const { channels } = channelLayout(c.shape, axis);
  const options = {
    weight: c.weight, bias: c.bias, runningMean: c.runningMean, runningVar: c.runningVar, training: c.training, momentum: c.momentum,
    numBatchesTracked: c.numBatchesTracked, eps: c.eps, axis, activation, runningVarEstimator: c.runningVarEstimator,
  };
  const ref = batchNormReference(c.x, c.shape, options);
  await inErrorScopes(gpu, async () => {
    const tensor = (data: Float32Array | null, shape: readonly number[]) => (data ? Tensor.fromArray(gpu, data, shape) : null);
    const inputs = {
      x: Tensor.fromArray(gpu, c.x, c.shape, { dtype: c.dtype }),
      dy: Tensor.fromArray(gpu, c.dy, c.shape, { dtype: c.dtype }),
      weight: tensor(c.weight, [channels]),
      bias: tensor(c.bias, [channels]),
      runningMean: tensor(c.runningMean, [channels])!,
      runningVar: tensor(c.runningVar, [channels])!,
    };
    const { weight: w, bias: b, runningMean: rm, runningVar: rv } = inputs;
    const out = batchNorm(gpu, inputs.x, { ...options, weight: w, bias: b, runningMean: rm, runningVar: rv });
    const worst = tally.worstRatio;
    const y = await out.y.toArray();
    worst.y = Math.max(worst.y, compareY('y', y, c.x, c.shape, ref, c.weight, c.bias, axis, c.dtype).worstRatio);
    // y of the case's forward without its weight (weight 1): what a weight-less backward with a ReLU
    // differentiates. Training: batch statistics again (the same x, so the same statistics), running
    // statistics left alone; inference: the running statistics, which the inference forward did not write.
    const unweightedY = async () => {
      const { training, eps } = c;
      const run = training
        ? batchNorm(gpu, inputs.x, { training, eps, axis, activation, bias: inputs.bias })
        : batchNorm(gpu, inputs.x, { training, eps, axis, activation, bias: inputs.bias, runningMean: inputs.runningMean, runningVar: inputs.runningVar });
      const values = await run.y.toArray();
      for (const t of [run.y, run.saveMean, run.saveInvstd]) t?.destroy();
      return values;
    };
    let saved: { saveMean: Float32Array; saveInvstd: Float32Array } | null = null;
    if (c.training) {
      saved = { saveMean: await out.saveMean!.toArray(), saveInvstd: await out.saveInvstd!.toArray() };
      const running = { runningMean: await inputs.runningMean.toArray(), runningVar: await inputs.runningVar.toArray() };
      worst.statistics = Math.max(worst.statistics, compareTrainingStatistics('forward', { ...saved, ...running }, ref));
    }

    // The backward of this forward in its mode: training through the statistics the GPU saved (the
    // reference takes the same float32 values), inference through the case's running statistics and
    // eps. With the case's weight when it has one, and always without. With a ReLU, the backward gets
    // the forward's bias (to recompute the mask) and the reference masks dy with the y the GPU gave; the
    // weight-less backward differentiates a forward whose weight was 1, so it masks with that forward's y.
    for (const weighted of c.weight ? [true, false] : [false]) {
      const weight = weighted ? c.weight : null;
      const weightT = weighted ? inputs.weight : null;
      const relu = activation === 'relu';
      const reluOutput = !relu ? null : weighted || !c.weight ? y : await unweightedY();
      const common = { axis, weight: weightT, ...(relu ? { activation, bias: inputs.bias } : {}) };
      const grads = saved
        ? batchNormBackward(gpu, inputs.dy, inputs.x, { ...common, saveMean: out.saveMean!, saveInvstd: out.saveInvstd!, training: true })
        : batchNormBackward(gpu, inputs.dy, inputs.x, { ...common, runningMean: inputs.runningMean, runningVar: inputs.runningVar, eps: c.eps, training: false });
      const gradsRef = saved
        ? batchNormBackwardReference(c.dy, c.x, c.shape, { axis, reluOutput, weight, ...saved, training: true })
        : batchNormBackwardReference(c.dy, c.x, c.shape, { axis, reluOutput, weight, runningMean: c.runningMean, runningVar: c.runningVar, eps: c.eps, training: false });
      const ratios = await compareBackward(weighted ? 'backward with weight' : 'backward without weight', grads, gradsRef, {
        dy: c.dy, x: c.x, shape: c.shape, weight, training: c.training, axis, reluOutput, dtype: c.dtype,
      });
      worst.dx = Math.max(worst.dx, ratios.dx);
      worst.dweight = Math.max(worst.dweight, ratios.dweight);
      worst.dbias = Math.max(worst.dbias, ratios.dbias);
      tally[weighted ? 'backwardWithWeight' : 'backwardWithoutWeight']++;
      for (const t of [grads.dx, grads.dweight, grads.dbias]) t?.destroy();
    }
    for (const t of [...Object.values(inputs), out.y, out.saveMean, out.saveInvstd]) t?.destroy();
  });
  tally.cases++;
  tally[c.training ? 'training' : 'inference']++;
  const axisIndex = axis < 0 ? axis + c.shape.length : axis;
  if (axisIndex === c.shape.length - 1 && axisIndex !== 1) tally.channelsLast++;
  else if (axisIndex !== 1) tally.otherAxis++;
  if (activation === 'relu') tally.relu++;
  if (c.runningVarEstimator === 'biased') tally.biasedRunningVar++;
  if (c.dtype === 'f16') tally.f16++;
}

describe(`fuzz: ${cases} cases from seed ${firstSeed}`, () => {
  it.each(Array.from({ length: cases }, (_, i) => firstSeed + i))('seed %i', async (seed) => {
    const c = fuzzCase(seed);
    try {
      await check(c);
    } catch (error) {
      const what =
        `shape [${c.shape.join(',')}] ${c.dtype} axis ${c.axis} ${c.training ? 'training' : 'inference'} activation ${c.activation} ` +
        `runningVarEstimator ${c.runningVarEstimator} eps ${c.eps} momentum ${c.momentum} affine ${c.weight !== null} ` +
        `x ~ N(${c.offset}, ${c.scale}^2)${c.farFromPivot ? ', first value of each channel far from the others' : ''}`;
      throw new Error(`fuzz seed ${seed} failed (replay: npm run fuzz -- --seed ${seed} --cases 1): ${what}\n${String(error)}`);
    }
  });
});

afterAll(() => {
  console.log(`fuzz: ${JSON.stringify(tally)}`);
});
