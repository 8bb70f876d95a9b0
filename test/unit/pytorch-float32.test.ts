// The float32 replay of PyTorch CUDA's reductions (src/reference/pytorch-float32.ts) and the long-reduction bound
// built on it (src/reference/tolerances.ts, longReductionAccuracy): the replay is PyTorch-accurate, not exact, and
// the bound fails a plain serial float32 sum, so the GPU test that uses it can fail.
import { describe, expect, it } from 'vitest';
import { pytorchParameterGradients, pytorchStatistics } from '../../src/reference/pytorch-float32.js';
import { channelMoments } from '../../src/reference/forward.js';
import { batchNormBackwardReference } from '../../src/reference/backward.js';
import { channelLayout, numElements } from '../../src/runtime/shape.js';
import { longReductionAccuracy, REDUCTION_QUANTITIES } from '../../src/reference/tolerances.js';
import { gaussian, seededRandom } from '../support/random.js';

const f = Math.fround;

function problem(shape: readonly number[], axis: number, seed: number) {
  const rnd = seededRandom(seed);
  const { channels, spatial } = channelLayout(shape, axis);
  const x = gaussian(rnd, numElements(shape), 0, 1).map((v, i) => 1.5 + (Math.floor(i / spatial) % channels) + 2 * v);
  const dy = gaussian(rnd, x.length, 0, 1);
  const moments = channelMoments(x, shape, axis);
  const saveMean = Float32Array.from(moments.mean);
  const saveInvstd = Float32Array.from(moments.variance, (v) => 1 / Math.sqrt(v + 1e-5));
  return { x, dy, shape, axis, channels, moments, saveMean, saveInvstd };
}

describe('PyTorch CUDA reductions in float32', () => {
  // Channels-last ([N, C]: the channels-last kernels) and NCHW (the per-channel block kernels).
  for (const [shape, axis] of [[[20000, 3], 1], [[2, 3, 9000], 1]] as const) {
    it(`are float32-accurate and not exact: [${shape}]`, () => {
      const p = problem(shape, axis, 5);
      const stats = pytorchStatistics(p.x, shape, axis);
      const grads = pytorchParameterGradients(p.dy, p.x, shape, axis, p.saveMean, p.saveInvstd);
      const reference = batchNormBackwardReference(p.dy, p.x, shape, { training: true, weight: [1, 1, 1], saveMean: p.saveMean, saveInvstd: p.saveInvstd });
      let inexact = 0;
      for (let c = 0; c < p.channels; c++) {
        const spread = Math.sqrt(p.moments.variance[c]!);
        expect(Math.abs(stats.mean[c]! - p.moments.mean[c]!)).toBeLessThan(1e-6 * (Math.abs(p.moments.mean[c]!) + spread));
        expect(Math.abs(stats.variance[c]! - p.moments.variance[c]!)).toBeLessThan(1e-6 * p.moments.variance[c]!);
        expect(Math.abs(grads.dbias[c]! - reference.dbias![c]!)).toBeLessThan(1e-6 * 0.8 * p.x.length);
        expect(Math.abs(grads.dweight[c]! - reference.dweight![c]!)).toBeLessThan(1e-6 * 0.8 * p.x.length);
        inexact += Number(stats.mean[c] !== f(p.moments.mean[c]!)) + Number(grads.dbias[c] !== f(reference.dbias![c]!));
      }
      expect(inexact).toBeGreaterThan(0);
    });
  }
});

describe('the long-reduction bound', () => {
  const p = problem([60000, 3], 1, 9);
  const accuracy = longReductionAccuracy({ x: p.x, dy: p.dy, shape: p.shape, axis: p.axis, saveMean: p.saveMean, saveInvstd: p.saveInvstd });

  it('is PyTorch\'s error, or the textbook formula\'s roundings where that is larger', () => {
    for (const q of REDUCTION_QUANTITIES) {
      for (let c = 0; c < p.channels; c++) {
        expect(accuracy.bounds[q][c]).toBeGreaterThanOrEqual(accuracy.pytorch[q][c]!);
        expect(accuracy.bounds[q][c]).toBeGreaterThan(0);
      }
    }
  });

  it('passes the float64 results rounded once to float32', () => {
    const gradients = batchNormBackwardReference(p.dy, p.x, p.shape, { training: true, weight: [1, 1, 1], saveMean: p.saveMean, saveInvstd: p.saveInvstd });
    const rounded = {
      mean: Float32Array.from(p.moments.mean),
      variance: Float32Array.from(p.moments.variance),
      dweight: Float32Array.from(gradients.dweight!),
      dbias: Float32Array.from(gradients.dbias!),
    };
    const errors = accuracy.errorsOf(rounded);
    for (const q of REDUCTION_QUANTITIES) for (let c = 0; c < p.channels; c++) expect(errors[q][c]).toBeLessThanOrEqual(accuracy.bounds[q][c]!);
  });

  it('fails a plain serial float32 sum over the channel (what a long chain in one invocation would give)', () => {
    const dbias = new Float32Array(p.channels);
    for (let c = 0; c < p.channels; c++) {
      let sum = 0;
      for (let n = 0; n < 60000; n++) sum = f(sum + p.dy[n * 3 + c]!);
      dbias[c] = sum;
    }
    const errors = accuracy.errorsOf({ mean: p.saveMean, variance: Float32Array.from(p.moments.variance), dweight: new Float32Array(3), dbias });
    expect([...errors.dbias].some((e, c) => e > accuracy.bounds.dbias[c]!)).toBe(true);
  });
});
