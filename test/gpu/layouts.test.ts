// Any channel axis (channels-last, Keras's axis=-1, is the common one), the rows kernels that read
// channels across lanes when few values follow the channel (channels-last, BatchNorm1d on (N, C) with
// many channels), the fused ReLU and the biased running-variance estimator: forward and backward,
// training and inference, chunked and not, against the float64 references.
import { describe, expect, it } from 'vitest';
import { batchNorm, batchNormBackward, Tensor, type Gpu } from '../../src/index.js';
import { batchNormBackwardReference, batchNormReference } from '../../src/reference.js';
import { planOperation } from '../../src/engine/runner.js';
import { channelLayout, numElements } from '../../src/runtime/shape.js';
import { gaussian, seededRandom, uniform } from '../support/random.js';
import { compareBackward, compareTrainingStatistics, compareY } from '../support/tolerances.js';
import { inErrorScopes, testGpu } from './gpu-context.js';

// Tolerances (Y_RTOL/Y_ATOL, STAT_RTOL, DX_RTOL, SUM_RTOL) are those of the sweeps, stated in
// src/reference/tolerances.ts.

interface LayoutCase {
  readonly what: string;
  readonly shape: readonly number[];
  readonly axis: number;
  /** The reduction kernels the plan must pick. */
  readonly rows: boolean;
}

const CASES: readonly LayoutCase[] = [
  { what: 'NHWC', shape: [4, 5, 6, 7], axis: -1, rows: true },
  { what: 'NLC', shape: [3, 8, 10], axis: -1, rows: true },
  { what: 'NDHWC', shape: [2, 3, 4, 5, 6], axis: -1, rows: true },
  { what: 'NHWC, C a multiple of 64 and more', shape: [2, 3, 3, 130], axis: 3, rows: true },
  { what: 'axis 2 of 4, inner 2', shape: [5, 4, 3, 2], axis: 2, rows: true },
  { what: 'axis 0', shape: [5, 4], axis: 0, rows: true },
  { what: 'NCL with L = 16', shape: [8, 3, 16], axis: 1, rows: false },
  { what: 'BatchNorm1d, many rows (several row blocks)', shape: [1000, 3], axis: 1, rows: true },
  { what: 'BatchNorm1d, 16384 channels', shape: [2, 16384], axis: 1, rows: true },
  { what: 'BatchNorm1d, 70000 channels', shape: [2, 70000], axis: 1, rows: true },
];

function problem(gpu: Gpu, shape: readonly number[], axis: number, seed: number) {
  const rnd = seededRandom(seed);
  const { channels } = channelLayout(shape, axis);
  const size = numElements(shape);
  const host = {
    x: gaussian(rnd, size, 1.5, 2),
    dy: gaussian(rnd, size),
    weight: uniform(rnd, channels, 0.5, 2),
    bias: uniform(rnd, channels, -1, 1),
    runningMean: uniform(rnd, channels, -1, 1),
    runningVar: uniform(rnd, channels, 0.5, 2),
  };
  const t = (data: Float32Array, s: readonly number[]) => Tensor.fromArray(gpu, data, s);
  const perChannel = [channels];
  return {
    host,
    channels,
    x: t(host.x, shape),
    dy: t(host.dy, shape),
    weight: t(host.weight, perChannel),
    bias: t(host.bias, perChannel),
    runningMean: t(host.runningMean, perChannel),
    runningVar: t(host.runningVar, perChannel),
  };
}

/** A forward and its backward in one mode, each checked against the reference. */
async function checkCase(gpu: Gpu, c: LayoutCase, training: boolean, relu: boolean, seed: number): Promise<void> {
  const { shape, axis } = c;
  const p = problem(gpu, shape, axis, seed);
  const activation = relu ? 'relu' : null;
  const fwd = batchNorm(gpu, p.x, { training, axis, activation, weight: p.weight, bias: p.bias, runningMean: p.runningMean, runningVar: p.runningVar });
  const ref = batchNormReference(p.host.x, shape, { training, axis, activation, weight: p.host.weight, bias: p.host.bias, runningMean: p.host.runningMean, runningVar: p.host.runningVar });
  const what = `${c.what} [${shape}] axis ${axis} ${training ? 'training' : 'inference'}${relu ? ' relu' : ''}`;
  const y = await fwd.y.toArray();
  compareY(what, y, p.host.x, shape, ref, p.host.weight, p.host.bias, axis);
  if (relu) expect(y.some((v) => v === 0) && y.some((v) => v > 0), `${what}: the ReLU clips some values and passes others`).toBe(true);
  const grads = training
    ? batchNormBackward(gpu, p.dy, p.x, { training, axis, activation, weight: p.weight, ...(relu ? { bias: p.bias } : {}), saveMean: fwd.saveMean!, saveInvstd: fwd.saveInvstd! })
    : batchNormBackward(gpu, p.dy, p.x, { training, axis, activation, weight: p.weight, ...(relu ? { bias: p.bias } : {}), runningMean: p.runningMean, runningVar: p.runningVar });
  let gradRef;
  if (training) {
    const saved = { saveMean: await fwd.saveMean!.toArray(), saveInvstd: await fwd.saveInvstd!.toArray() };
    compareTrainingStatistics(what, { ...saved, runningMean: await p.runningMean.toArray(), runningVar: await p.runningVar.toArray() }, ref);
    gradRef = batchNormBackwardReference(p.host.dy, p.host.x, shape, { training, axis, weight: p.host.weight, reluOutput: relu ? y : null, ...saved });
  } else {
    gradRef = batchNormBackwardReference(p.host.dy, p.host.x, shape, {
      training, axis, weight: p.host.weight, reluOutput: relu ? y : null, runningMean: p.host.runningMean, runningVar: p.host.runningVar,
    });
  }
  await compareBackward(what, grads, gradRef, { dy: p.host.dy, x: p.host.x, shape, weight: p.host.weight, training, axis, reluOutput: relu ? y : null });
  for (const t of [p.x, p.dy, p.weight, p.bias, p.runningMean, p.runningVar, fwd.y, fwd.saveMean, fwd.saveInvstd, grads.dx, grads.dweight, grads.dbias]) t?.destroy();
}

describe('channel axis', () => {
  for (const [k, c] of CASES.entries()) {
    it(`${c.what} [${c.shape}] axis ${c.axis}`, async () => {
      const gpu = await testGpu(k % 2 === 0); // both workgroup reductions across the cases
      expect(planOperation(gpu, channelLayout(c.shape, c.axis), true).rows).toBe(c.rows);
      await inErrorScopes(gpu, async () => {
        for (const training of [true, false]) {
          for (const relu of [false, true]) await checkCase(gpu, c, training, relu, 100 + k);
        }
      });
    });
  }

  it('chunked: channels-last windows of whole outer rows', async () => {
    const gpu = await testGpu(true, 1024);
    await inErrorScopes(gpu, async () => {
      const c: LayoutCase = { what: 'NHWC chunked', shape: [10, 4, 4, 8], axis: -1, rows: true };
      expect(planOperation(gpu, channelLayout(c.shape, c.axis), true).windows.length).toBeGreaterThan(4);
      for (const training of [true, false]) await checkCase(gpu, c, training, true, 7);
    });
  });

  it('names an axis out of range', async () => {
    const gpu = await testGpu(true);
    const x = Tensor.fromArray(gpu, new Float32Array(24), [2, 3, 4]);
    expect(() => batchNorm(gpu, x, { training: true, axis: 3 })).toThrow('axis must be an integer in [-3, 2] for x of shape [2,3,4], got 3');
    expect(() => batchNorm(gpu, x, { training: true, axis: 1.5 })).toThrow('got 1.5');
    expect(() => batchNorm(gpu, x, { training: true, activation: 'gelu' as never })).toThrow("activation must be 'relu' or null, got 'gelu'");
    const stats = batchNorm(gpu, x, { training: true });
    expect(() => batchNormBackward(gpu, x, x, { training: true, saveMean: stats.saveMean!, saveInvstd: stats.saveInvstd!, bias: stats.saveMean! })).toThrow(
      "bias is read only with activation: 'relu'",
    );
  });
});

describe('running-variance estimator', () => {
  it("'biased' blends the biased batch variance into runningVar (Keras 3), 'unbiased' the unbiased one (PyTorch)", async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const shape = [6, 5, 3];
      for (const estimator of ['biased', 'unbiased'] as const) {
        const p = problem(gpu, shape, 1, 3);
        batchNorm(gpu, p.x, { training: true, runningMean: p.runningMean, runningVar: p.runningVar, momentum: 0.5, runningVarEstimator: estimator });
        const ref = batchNormReference(p.host.x, shape, { training: true, momentum: 0.5, runningMean: p.host.runningMean, runningVar: p.host.runningVar, runningVarEstimator: estimator });
        const other = batchNormReference(p.host.x, shape, {
          training: true, momentum: 0.5, runningMean: p.host.runningMean, runningVar: p.host.runningVar, runningVarEstimator: estimator === 'biased' ? 'unbiased' : 'biased',
        });
        const runningVar = await p.runningVar.toArray();
        compareTrainingStatistics(estimator, { saveMean: ref.saveMean, saveInvstd: ref.saveInvstd, runningVar }, ref);
        expect(Math.abs(runningVar[0]! - other.runningVar![0]!)).toBeGreaterThan(1e-3 * runningVar[0]!); // the two differ by 1/(n-1)
      }
    });
  });
});
