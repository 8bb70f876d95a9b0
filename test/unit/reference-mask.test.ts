// The float64 references with Keras's mask (issue 29): batch statistics over the positions where the mask
// is 1, against values worked out by hand and against the plain reference on the selected positions alone;
// the backward against finite differences of the masked forward. Any channel axis.
import { describe, expect, it } from 'vitest';
import { batchNormBackwardReference } from '../../src/reference/backward.js';
import { batchNormReference, channelMoments } from '../../src/reference/forward.js';
import { channelLayout, withoutChannelAxis } from '../../src/runtime/shape.js';
import { expectClose, numericGradient } from '../support/finite-difference.js';
import { gaussian, seededRandom, uniform } from '../support/random.js';

/** The selected positions' values as a (k, C) batch: what the masked statistics must equal. */
function selected(x: ArrayLike<number>, shape: readonly number[], axis: number, mask: ArrayLike<number>): { values: Float64Array; shape: number[] } {
  const { batch, channels, spatial } = channelLayout(shape, axis);
  const out: number[] = [];
  for (let n = 0; n < batch; n++) {
    for (let s = 0; s < spatial; s++) {
      if (mask[n * spatial + s] !== 1) continue;
      for (let c = 0; c < channels; c++) out.push(x[(n * channels + c) * spatial + s]!);
    }
  }
  return { values: Float64Array.from(out), shape: [out.length / channels, channels] };
}

function expectAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, relative = 1e-12): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    expect(Math.abs(actual[i]! - expected[i]!), `[${i}]: ${actual[i]} vs ${expected[i]}`).toBeLessThanOrEqual(relative * Math.max(1, Math.abs(expected[i]!)));
  }
}

/** A seeded 0/1 mask of `length`: its last position 0, and at least two ones (the first positions forced to 1 if needed). */
function randomMask(random: () => number, length: number): Float32Array {
  const mask = Float32Array.from({ length }, () => (random() < 0.6 ? 1 : 0));
  mask[length - 1] = 0;
  for (let p = 0; mask.reduce((a, b) => a + b, 0) < 2; p++) mask[p] = 1;
  return mask;
}

// NCHW, channels-last, a middle axis of rank 5, rank 2 (Keras's (N, C) with a mask of shape (N)).
const LAYOUTS: readonly { shape: readonly number[]; axis: number }[] = [
  { shape: [2, 3, 2, 3], axis: 1 },
  { shape: [2, 2, 3, 3], axis: -1 },
  { shape: [2, 2, 3, 2, 2], axis: 2 },
  { shape: [7, 3], axis: -1 },
];

describe('batchNormReference with a mask', () => {
  it('takes the statistics over the masked positions and normalizes every position with them (by hand, NCHW)', () => {
    // shape (2, 2, 3), mask (2, 3) = [[1,0,1],[0,1,0]]: channel 0 selects {1, 3, 5} (mean 3, biased variance
    // 8/3, unbiased 4), channel 1 {10, 30, 50} (mean 30, biased 800/3, unbiased 400).
    const x = [1, 2, 3, 10, 20, 30, 4, 5, 6, 40, 50, 60];
    const mask = [1, 0, 1, 0, 1, 0];
    const r = batchNormReference(x, [2, 2, 3], { training: true, eps: 0, momentum: 0.5, runningMean: [0, 0], runningVar: [1, 1], weight: [2, 1], bias: [1, 0], mask });
    expect([...r.saveMean]).toEqual([3, 30]);
    expectAllClose(r.saveInvstd, [1 / Math.sqrt(8 / 3), 1 / Math.sqrt(800 / 3)]);
    expect([...r.runningMean!]).toEqual([1.5, 15]);
    expectAllClose(r.runningVar!, [0.5 * 1 + 0.5 * 4, 0.5 * 1 + 0.5 * 400]); // the unbiased estimate with the masked count 3
    // Masked-out positions are normalized too: x = 2 (channel 0) gives 2 * (2 - 3) * invstd + 1.
    expectAllClose([r.y[1]!, r.y[4]!], [2 * (2 - 3) / Math.sqrt(8 / 3) + 1, (20 - 30) / Math.sqrt(800 / 3)]);
  });

  it("Keras's convention (biased estimator, momentum 1 - Keras's): by hand, channels-last", () => {
    // rows [1, 10], [3, 30], [100, -100] with mask [1, 1, 0]: channel 0 {1, 3}, channel 1 {10, 30}.
    const r = batchNormReference([1, 10, 3, 30, 100, -100], [3, 2], {
      training: true, axis: -1, eps: 1e-3, momentum: 0.01, runningVarEstimator: 'biased', runningMean: [0, 0], runningVar: [1, 1], mask: [1, 1, 0],
    });
    expect([...r.saveMean]).toEqual([2, 20]);
    expectAllClose(r.saveInvstd, [1 / Math.sqrt(1 + 1e-3), 1 / Math.sqrt(100 + 1e-3)]);
    expectAllClose(r.runningMean!, [0.02, 0.2]);
    expectAllClose(r.runningVar!, [0.99 + 0.01 * 1, 0.99 + 0.01 * 100]);
  });

  it.each(LAYOUTS)('equals the plain reference on the selected positions: $shape axis $axis', ({ shape, axis }) => {
    const random = seededRandom(shape.reduce((a, b) => a * 31 + b, 3 + axis));
    const size = shape.reduce((a, b) => a * b, 1);
    const { channels } = channelLayout(shape, axis);
    const x = Float64Array.from(gaussian(random, size, 1, 3));
    const mask = randomMask(random, size / channels);
    const weight = uniform(random, channels, 0.5, 2);
    const bias = uniform(random, channels, -1, 1);
    const running = { runningMean: uniform(random, channels, -1, 1), runningVar: uniform(random, channels, 0.5, 2) };
    const common = { training: true, eps: 1e-3, momentum: 0.3, weight, bias, ...running };
    const masked = batchNormReference(x, shape, { ...common, axis, mask });
    const subset = selected(x, shape, axis, mask);
    const plain = batchNormReference(subset.values, subset.shape, { ...common, axis: 1 });
    expectAllClose(masked.saveMean, plain.saveMean);
    expectAllClose(masked.saveInvstd, plain.saveInvstd);
    expectAllClose(masked.runningMean!, plain.runningMean!);
    expectAllClose(masked.runningVar!, plain.runningVar!);
    const moments = channelMoments(x, shape, axis, mask);
    expect(moments.count).toBe(subset.shape[0]);
    // Every position, selected or not, is normalized with the masked statistics.
    const { batch, spatial } = channelLayout(shape, axis);
    const expected = new Float64Array(size);
    for (let n = 0; n < batch; n++) {
      for (let c = 0; c < channels; c++) {
        for (let s = 0; s < spatial; s++) {
          const i = (n * channels + c) * spatial + s;
          expected[i] = (x[i]! - plain.saveMean[c]!) * plain.saveInvstd[c]! * weight[c]! + bias[c]!;
        }
      }
    }
    expectAllClose(masked.y, expected);
  });

  it('a mask of ones is no mask, bit for bit', () => {
    const random = seededRandom(5);
    const shape = [3, 4, 5];
    const x = gaussian(random, 60, 0, 1);
    const options = { training: true, runningMean: [0, 0, 0, 0], runningVar: [1, 1, 1, 1] } as const;
    const ones = new Float32Array(15).fill(1);
    expect(batchNormReference(x, shape, { ...options, mask: ones })).toEqual(batchNormReference(x, shape, options));
  });

  it("a channel's count of 0 gives mean 0 and variance 0 (Keras's sum / (count + 1e-7)); of 1, that value and variance 0", () => {
    const running = { runningMean: [4, 4], runningVar: [2, 2], momentum: 0.5 };
    const none = batchNormReference([3, 7, 5, 9], [2, 2], { training: true, eps: 0.25, ...running, mask: [0, 0] });
    expect([...none.saveMean]).toEqual([0, 0]);
    expect([...none.saveInvstd]).toEqual([2, 2]); // 1/sqrt(0 + 0.25)
    expect([...none.y]).toEqual([6, 14, 10, 18]);
    expect([...none.runningMean!]).toEqual([2, 2]);
    expect(none.runningVar!.every(Number.isNaN)).toBe(true); // no unbiased estimate from fewer than two values
    const keras = batchNormReference([3, 7, 5, 9], [2, 2], { training: true, eps: 0.25, ...running, runningVarEstimator: 'biased', mask: [0, 0] });
    expect([...keras.runningVar!]).toEqual([1, 1]); // Keras blends the 0 in
    const one = batchNormReference([3, 7, 5, 9], [2, 2], { training: true, eps: 0.25, ...running, runningVarEstimator: 'biased', mask: [0, 1] });
    expect([...one.saveMean]).toEqual([5, 9]);
    expect([...one.saveInvstd]).toEqual([2, 2]);
    expect([...one.runningVar!]).toEqual([1, 1]);
    expect(batchNormReference([3, 7, 5, 9], [2, 2], { training: true, ...running, mask: [0, 1] }).runningVar!.every(Number.isNaN)).toBe(true);
  });

  it('leaves a masked-out position out entirely: a NaN or Inf in the padding does not reach the statistics', () => {
    for (const pad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const r = batchNormReference([1, pad, 3], [3, 1], { training: true, mask: [1, 0, 1] });
      expect([r.saveMean[0], r.saveInvstd[0]]).toEqual([2, 1 / Math.sqrt(1 + 1e-5)]);
    }
  });

  it('ignores the mask in inference, as Keras does', () => {
    const running = { runningMean: [0.5], runningVar: [2] };
    const plain = batchNormReference([1, 2, 3], [3, 1], { training: false, ...running });
    expect(batchNormReference([1, 2, 3], [3, 1], { training: false, ...running, mask: [1, 0, 1] }).y).toEqual(plain.y);
  });

  it("refuses a mask of the wrong size or with entries other than 0 and 1, naming x's shape and the mask's", () => {
    const x = new Float64Array(24);
    expect(() => batchNormReference(x, [2, 3, 4], { training: true, mask: [1, 1, 1] })).toThrow(
      "mask (shape [2,4]: x's shape [2,3,4] without its channel axis 1) has 3 elements, expected 8",
    );
    expect(() => batchNormReference(x, [2, 3, 4], { training: true, axis: -1, mask: new Float32Array(8) })).toThrow(
      "mask (shape [2,3]: x's shape [2,3,4] without its channel axis -1) has 8 elements, expected 6",
    );
    expect(() => batchNormReference(x, [2, 3, 4], { training: true, mask: [1, 0, 1, 0, 1, 0, 0.5, 1] })).toThrow(
      "mask[6] is 0.5; a mask's entries are 0 (left out of the batch statistics) or 1",
    );
    expect(() => batchNormReference(x, [2, 3, 4], { training: true, mask: 'all' as never })).toThrow('mask (shape [2,4]');
    expect(() => channelMoments(x, [2, 3, 4], 1, [1])).toThrow('mask (shape [2,4]');
    const saved = { training: true as const, saveMean: [0, 0, 0], saveInvstd: [1, 1, 1] };
    expect(() => batchNormBackwardReference(x, x, [2, 3, 4], { ...saved, mask: [2, 0, 0, 0, 0, 0, 0, 0] })).toThrow('mask[0] is 2');
    expect(() => batchNormBackwardReference(x, x, [2, 3, 4], { training: false, runningMean: [0, 0, 0], runningVar: [1, 1, 1], mask: [1] } as never)).toThrow(
      "batchNormBackwardReference options (training: false) has an unknown key 'mask'",
    );
    expect(withoutChannelAxis([2, 3, 4], -1)).toEqual([2, 3]);
  });
});

describe('batchNormBackwardReference with a mask against finite differences of the masked forward', () => {
  const cases = LAYOUTS.flatMap((layout) => [true, false].map((affine) => ({ ...layout, affine })));
  it.each(cases)('$shape axis $axis affine=$affine', ({ shape, axis, affine }) => {
    const random = seededRandom(shape.reduce((a, b) => a * 17 + b, 11 + axis) + (affine ? 1 : 0));
    const size = shape.reduce((a, b) => a * b, 1);
    const { channels } = channelLayout(shape, axis);
    const x = Float64Array.from(gaussian(random, size, 0.5, 2));
    const g = Float64Array.from(gaussian(random, size, 0.3, 1));
    const mask = randomMask(random, size / channels);
    const weight = affine ? Float64Array.from(uniform(random, channels, -2, 2)) : null;
    const bias = affine ? Float64Array.from(uniform(random, channels, -1, 1)) : null;
    const forward = () => batchNormReference(x, shape, { training: true, eps: 1e-3, axis, weight, bias, mask });
    const loss = () => forward().y.reduce((sum, y, i) => sum + g[i]! * y, 0);
    const { saveMean, saveInvstd } = forward();
    const grads = batchNormBackwardReference(g, x, shape, { training: true, axis, weight, saveMean, saveInvstd, mask });
    expectClose('dx', grads.dx, numericGradient(x, loss));
    if (weight && bias) {
      expectClose('dweight', grads.dweight!, numericGradient(weight, loss));
      expectClose('dbias', grads.dbias!, numericGradient(bias, loss));
    }
  });

  it.each([
    { what: 'no position (count 0)', mask: [0, 0, 0, 0] },
    { what: 'one position (count 1)', mask: [0, 0, 1, 0] },
    { what: 'a fused ReLU', mask: [1, 0, 1, 1], activation: 'relu' as const },
  ])('with $what', ({ mask, activation }) => {
    const shape = [4, 3];
    const random = seededRandom(mask.length + mask.indexOf(1) + (activation ? 7 : 0));
    const x = Float64Array.from(gaussian(random, 12, 0.5, 2));
    const g = Float64Array.from(gaussian(random, 12, 0.3, 1));
    const weight = Float64Array.from(uniform(random, 3, 0.5, 2));
    const bias = Float64Array.from(uniform(random, 3, -0.5, 0.5));
    const act = activation ?? null;
    const forward = () => batchNormReference(x, shape, { training: true, eps: 1e-3, weight, bias, mask, activation: act });
    const loss = () => forward().y.reduce((sum, y, i) => sum + g[i]! * y, 0);
    const saved = forward();
    if (act) expect(saved.y.some((v) => v === 0) && saved.y.some((v) => v > 0)).toBe(true);
    const grads = batchNormBackwardReference(g, x, shape, {
      training: true, weight, saveMean: saved.saveMean, saveInvstd: saved.saveInvstd, mask, activation: act, ...(act ? { bias } : {}),
    });
    expectClose('dx', grads.dx, numericGradient(x, loss));
    expectClose('dweight', grads.dweight!, numericGradient(weight, loss));
  });

  it('gives masked-out positions the direct term alone, weight * invstd * dy; dweight and dbias sum every position (by hand)', () => {
    // One channel {1, 3, 10} with mask [1, 1, 0], eps 0: mean 2, invstd 1, xhat {-1, 1, 8}.
    const dy = [1, 0, 2];
    const r = batchNormBackwardReference(dy, [1, 3, 10], [3, 1], { training: true, weight: [3], saveMean: [2], saveInvstd: [1], mask: [1, 1, 0] });
    // sum(dy) = 3, sum(dy*xhat) = -1 + 16 = 15, n = 2: dx_i = 3 * (dy_i - 3/2 - xhat_i * 15/2) where the mask is 1.
    expect([...r.dx]).toEqual([3 * (1 - 1.5 + 7.5), 3 * (0 - 1.5 - 7.5), 3 * 2]);
    expect([...r.dweight!]).toEqual([15]);
    expect([...r.dbias!]).toEqual([3]);
  });
});
