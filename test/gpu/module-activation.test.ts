// The module with a fused ReLU (new BatchNorm(gpu, C, { activation: 'relu' })): forward and backward in
// training and eval against the float64 references, as test/gpu/layouts.test.ts checks the functional
// ops; the backward masks dy with the forward's output and needs the module's bias for the mask.
import { describe, expect, it } from 'vitest';
import { BatchNorm, batchNorm, batchNormBackward, Tensor, type Gpu } from '../../src/index.js';
import { batchNormBackwardReference, batchNormReference } from '../../src/reference.js';
import { channelLayout, numElements } from '../../src/runtime/shape.js';
import { relativeTolerance, runningMeanTolerance } from '../../src/reference/tolerances.js';
import { compareElements } from '../support/compare.js';
import { gaussian, seededRandom, uniform } from '../support/random.js';
import { compareBackward, compareY } from '../support/tolerances.js';
import { inErrorScopes, testGpu } from './gpu-context.js';

// Tolerances (Y_RTOL/Y_ATOL, STAT_RTOL, DX_RTOL, SUM_RTOL): src/reference/tolerances.ts.

interface ModuleCase {
  readonly what: string;
  readonly shape: readonly number[];
  readonly axis: number;
  readonly affine: boolean;
}

const CASES: readonly ModuleCase[] = [
  { what: 'NCHW', shape: [4, 3, 5, 6], axis: 1, affine: true },
  { what: 'NHWC', shape: [3, 4, 5, 6], axis: -1, affine: true },
  { what: 'NCL, not affine', shape: [6, 5, 7], axis: 1, affine: false },
];

/**
 * A training forward, its backward, then an eval forward and its backward of one module, each against
 * the references; the backward's reference masks dy with the y the GPU forward returned.
 */
async function checkModule(gpu: Gpu, c: ModuleCase, seed: number): Promise<void> {
  const { shape, axis } = c;
  const { channels } = channelLayout(shape, axis);
  const rnd = seededRandom(seed);
  const size = numElements(shape);
  const x = gaussian(rnd, size, 1.5, 2);
  const dy = gaussian(rnd, size, 0.25, 1);
  const bn = new BatchNorm(gpu, channels, { axis, activation: 'relu', affine: c.affine, momentum: 0.25 });
  expect(bn.activation).toBe('relu');
  const weight = c.affine ? uniform(rnd, channels, 0.5, 2) : null;
  const bias = c.affine ? uniform(rnd, channels, -1, 1) : null;
  const runningMean = uniform(rnd, channels, -1, 1);
  const runningVar = uniform(rnd, channels, 0.5, 2);
  bn.loadStateDict({
    ...(weight && bias ? { weight, bias } : {}),
    running_mean: runningMean,
    running_var: runningVar,
    num_batches_tracked: 0,
  });
  const xT = Tensor.fromArray(gpu, x, shape);
  const dyT = Tensor.fromArray(gpu, dy, shape);
  const name = `${c.what} [${shape}] axis ${axis}`;

  // Training: batch statistics, running statistics updated (momentum 0.25, unbiased variance).
  const yT = bn.forward(xT);
  const ref = batchNormReference(x, shape, { training: true, axis, activation: 'relu', weight, bias, runningMean, runningVar, momentum: 0.25 });
  const y = await yT.toArray();
  compareY(`${name} training y`, y, x, shape, ref, weight, bias, axis);
  expect(y.some((v) => v === 0) && y.some((v) => v > 0), `${name}: the ReLU clips some values and passes others`).toBe(true);
  const rm = await bn.runningMean!.toArray();
  const rv = await bn.runningVar!.toArray();
  compareElements(`${name} runningMean`, rm, ref.runningMean!, runningMeanTolerance(ref.runningMean!, ref.saveMean, ref.saveInvstd));
  compareElements(`${name} runningVar`, rv, ref.runningVar!, relativeTolerance(ref.runningVar!));
  // The module's saveMean/saveInvstd are its own; the float64 batch statistics differ from them by ~1e-7
  // of the spread, well inside the dx tolerance (as in test/gpu/backward.test.ts's module test).
  const training = bn.backward(dyT);
  const trainingRef = batchNormBackwardReference(dy, x, shape, { training: true, axis, weight, reluOutput: y, saveMean: ref.saveMean, saveInvstd: ref.saveInvstd });
  await compareBackward(`${name} training backward`, training, trainingRef, { dy, x, shape, weight, training: true, axis, reluOutput: y });

  // Eval: the running statistics the training forward left.
  bn.eval();
  const yEvalT = bn.forward(xT);
  const refEval = batchNormReference(x, shape, { training: false, axis, activation: 'relu', weight, bias, runningMean: rm, runningVar: rv, eps: bn.eps });
  const yEval = await yEvalT.toArray();
  compareY(`${name} eval y`, yEval, x, shape, refEval, weight, bias, axis);
  expect(yEval.some((v) => v === 0) && yEval.some((v) => v > 0), `${name} eval: the ReLU clips some values and passes others`).toBe(true);
  const inference = bn.backward(dyT);
  const inferenceRef = batchNormBackwardReference(dy, x, shape, {
    training: false, axis, weight, reluOutput: yEval, runningMean: rm, runningVar: rv, eps: bn.eps,
  });
  await compareBackward(`${name} eval backward`, inference, inferenceRef, { dy, x, shape, weight, training: false, axis, reluOutput: yEval });

  for (const t of [xT, dyT, yT, yEvalT, training.dx, training.dweight, training.dbias, inference.dx, inference.dweight, inference.dbias]) t?.destroy();
  bn.destroy();
}

describe("BatchNorm with activation 'relu'", () => {
  for (const [k, c] of CASES.entries()) {
    it(`${c.what} [${c.shape}] axis ${c.axis}${c.affine ? '' : ', not affine'}: training and eval, forward and backward`, async () => {
      const gpu = await testGpu(k % 2 === 0); // both workgroup reductions across the cases
      await inErrorScopes(gpu, () => checkModule(gpu, c, 40 + k));
    });
  }

  it('masks dy only with the ReLU: without it the same module computes the unmasked gradients', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const shape = [5, 3, 8];
      const rnd = seededRandom(9);
      const x = gaussian(rnd, 120);
      const dy = gaussian(rnd, 120);
      const xT = Tensor.fromArray(gpu, x, shape);
      const dyT = Tensor.fromArray(gpu, dy, shape);
      const plain = new BatchNorm(gpu, 3);
      const relu = new BatchNorm(gpu, 3, { activation: 'relu' });
      expect(plain.activation).toBeNull();
      const [yPlain, yRelu] = [plain.forward(xT), relu.forward(xT)];
      const [gPlain, gRelu] = [plain.backward(dyT), relu.backward(dyT)];
      const dxPlain = await gPlain.dx.toArray();
      const dxRelu = await gRelu.dx.toArray();
      expect(Array.from(await yRelu.toArray())).toEqual(Array.from(await yPlain.toArray(), (v) => Math.max(v, 0)));
      expect(dxRelu).not.toEqual(dxPlain);
      for (const t of [xT, dyT, yPlain, yRelu, gPlain.dx, gPlain.dweight, gPlain.dbias, gRelu.dx, gRelu.dweight, gRelu.dbias]) t?.destroy();
      plain.destroy();
      relu.destroy();
    });
  });

  it('refuses a bad activation, and a backward after the bias (which the mask needs) was written', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      expect(() => new BatchNorm(gpu, 3, { activation: 'gelu' as never })).toThrow("BatchNorm options.activation must be 'relu' or null, got 'gelu'");
      expect(() => new BatchNorm(gpu, 3, { activation: true as never })).toThrow("BatchNorm options.activation must be 'relu' or null, got true");
      expect(new BatchNorm(gpu, 3, { activation: null }).activation).toBeNull();
      const shape = [4, 3, 2];
      const xT = Tensor.fromArray(gpu, gaussian(seededRandom(4), 24), shape);
      for (const activation of ['relu', null] as const) {
        const bn = new BatchNorm(gpu, 3, { activation });
        const stats = batchNorm(gpu, xT, { training: true });
        bn.forward(xT).destroy();
        // An optimizer step that writes the bias only (another call's out).
        const step = batchNormBackward(gpu, xT, xT, { training: true, weight: bn.weight, saveMean: stats.saveMean!, saveInvstd: stats.saveInvstd!, out: { dbias: bn.bias! } });
        for (const t of [stats.y, stats.saveMean, stats.saveInvstd, step.dx, step.dweight]) t?.destroy();
        if (activation === 'relu') {
          expect(() => bn.backward(xT)).toThrow(/BatchNorm.backward: bias \('BatchNorm bias', shape \[3\]\) was written after the forward/);
        } else {
          // Without the ReLU the bias plays no part in the gradients: nothing to refuse.
          const out = bn.backward(xT);
          for (const t of [out.dx, out.dweight, out.dbias]) t?.destroy();
        }
        bn.destroy();
      }
      xT.destroy();
    });
  });
});
