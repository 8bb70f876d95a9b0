// The float64 backward reference checked against the forward reference itself: for the loss
// L = sum(g * y(x, weight, bias)), backward(g) must equal the central finite differences of L, in
// training (gradient through the batch statistics) and inference, with and without a weight.
import { describe, expect, it } from 'vitest';
import { batchNormReference } from '../../src/reference/forward.js';
import { batchNormBackwardReference } from '../../src/reference/backward.js';
import { expectClose, numericGradient } from '../support/finite-difference.js';
import { gaussian, seededRandom, uniform } from '../support/random.js';

const SHAPES: readonly (readonly number[])[] = [[2, 1], [5, 3], [3, 2, 4], [2, 3, 2, 2], [1, 2, 5], [2, 2, 1, 2, 3]];

interface Case {
  shape: readonly number[];
  training: boolean;
  affine: boolean;
}

const CASES: Case[] = SHAPES.flatMap((shape) =>
  [true, false].flatMap((training) => [true, false].map((affine) => ({ shape, training, affine }))),
);

describe('batchNormBackwardReference against finite differences of batchNormReference', () => {
  it.each(CASES)('$shape training=$training affine=$affine', ({ shape, training, affine }) => {
    const rnd = seededRandom(shape.reduce((a, b) => a * 31 + b, 7) + (training ? 1 : 0) + (affine ? 2 : 0));
    const size = shape.reduce((a, b) => a * b, 1);
    const channels = shape[1]!;
    const x = Float64Array.from(gaussian(rnd, size, 0.5, 2));
    const g = Float64Array.from(gaussian(rnd, size, 0.3, 1));
    const weight = affine ? Float64Array.from(uniform(rnd, channels, -2, 2)) : null;
    const bias = affine ? Float64Array.from(uniform(rnd, channels, -1, 1)) : null;
    const runningMean = uniform(rnd, channels, -1, 1);
    const runningVar = uniform(rnd, channels, 0.5, 3);
    const eps = 1e-3;
    const forward = () => batchNormReference(x, shape, training
      ? { weight, bias, training, eps }
      : { weight, bias, runningMean, runningVar, training, eps });
    const loss = () => forward().y.reduce((sum, y, i) => sum + g[i]! * y, 0);

    const saved = forward();
    const grads = batchNormBackwardReference(g, x, shape, training
      ? { weight, saveMean: saved.saveMean, saveInvstd: saved.saveInvstd, training }
      : { weight, runningMean, runningVar, eps, training });

    expectClose('dx', grads.dx, numericGradient(x, loss));
    if (weight && bias) {
      expectClose('dweight', grads.dweight!, numericGradient(weight, loss));
      expectClose('dbias', grads.dbias!, numericGradient(bias, loss));
    } else {
      expect(grads.dweight).toBeNull();
      expect(grads.dbias).toBeNull();
    }
  });

  it.each([true, false])('with a residual and a ReLU (training=%s): dx and dz of relu(bn(x) + z), the mask from the stored y', (training) => {
    const shape = [3, 2, 4];
    const rnd = seededRandom(training ? 41 : 42);
    const size = 24;
    const x = Float64Array.from(gaussian(rnd, size, 0.5, 2));
    const z = Float64Array.from(gaussian(rnd, size, 0, 1));
    const g = Float64Array.from(gaussian(rnd, size, 0.3, 1));
    const weight = Float64Array.from(uniform(rnd, 2, 0.5, 2));
    const bias = Float64Array.from(uniform(rnd, 2, -1, 1));
    const running = { runningMean: uniform(rnd, 2, -1, 1), runningVar: uniform(rnd, 2, 0.5, 3) };
    const eps = 1e-3;
    const options = { weight, bias, training, eps, activation: 'relu' as const, residual: z, ...(training ? {} : running) };
    const forward = () => batchNormReference(x, shape, options);
    const loss = () => forward().y.reduce((sum, y, i) => sum + g[i]! * y, 0);
    const saved = forward();
    expect(saved.y.some((v) => v === 0) && saved.y.some((v) => v > 0)).toBe(true);
    const common = { weight, activation: 'relu' as const, residual: true, reluOutput: saved.y };
    const grads = batchNormBackwardReference(g, x, shape, training
      ? { ...common, saveMean: saved.saveMean, saveInvstd: saved.saveInvstd, training }
      : { ...common, ...running, eps, training });
    expectClose('dx', grads.dx, numericGradient(x, loss));
    expectClose('dz', grads.dz!, numericGradient(z, loss));
    expectClose('dweight', grads.dweight!, numericGradient(weight, loss));
  });

  it('matches a case worked out by hand', () => {
    // One channel {1, 3}, eps 0: mean 2, invstd 1, xhat {-1, 1}. With two values y is always {-w, w} + b,
    // so dx is 0; dweight = sum(dy * xhat), dbias = sum(dy).
    const r = batchNormBackwardReference([1, 0], [1, 3], [2, 1], { weight: [2], saveMean: [2], saveInvstd: [1], training: true });
    expect([...r.dx]).toEqual([0, 0]);
    expect([...r.dweight!]).toEqual([-1]);
    expect([...r.dbias!]).toEqual([1]);
    // Inference: dx = weight * invstd * dy with invstd = 1/sqrt(runningVar + eps) = 1/2.
    const inf = batchNormBackwardReference([4, -2], [1, 3], [2, 1], { weight: [3], runningMean: [0], runningVar: [3], eps: 1, training: false });
    expect([...inf.dx]).toEqual([6, -3]);
    expect([...inf.dweight!]).toEqual([(4 * 1 - 2 * 3) / 2]);
  });
});
