// The float64 reference of Keras 3's batch renormalization (issue 29): a step worked out by hand with r and
// d clipped and not, the initial weights, three steps against a plain re-statement of Keras's formulas
// (momentum conventions, r and d from the renorm statistics before each update), and the backward against
// finite differences of the forward with r and d held constant.
import { describe, expect, it } from 'vitest';
import { batchNormReference } from '../../src/reference/forward.js';
import { kerasRenormBackwardReference, kerasRenormInitialWeights, kerasRenormReference, type KerasRenormState } from '../../src/reference/renorm.js';
import { channelLayout } from '../../src/runtime/shape.js';
import { expectClose, numericGradient } from '../support/finite-difference.js';
import { gaussian, seededRandom, uniform } from '../support/random.js';

function expectAllClose(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, relative = 1e-12): void {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    expect(Math.abs(actual[i]! - expected[i]!), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`).toBeLessThanOrEqual(relative * Math.max(1, Math.abs(expected[i]!)));
  }
}

// Two channels of {0, 2, 4, 6} (channels last), epsilon 4: mean 3, biased variance 5, sigma_B = 3, xhat
// {-1, -1/3, 1/3, 1}. s = max(renorm_stddev, sqrt(4) = 2) is 4 for channel 0 and the floor 2 for channel 1.
const HAND_X = [0, 0, 2, 2, 4, 4, 6, 6];
const HAND_SHAPE = [4, 2];
const HAND_STATE: KerasRenormState = {
  gamma: [2, 1], beta: [1, 0], movingMean: [0, 0], movingVariance: [1, 100], movingStddev: [1, 10], renormMean: [1, 0], renormStddev: [4, 1],
};
const HAND_OPTIONS = { epsilon: 4, momentum: 0.9, renormMomentum: 0.5 };
const XHAT = [-1, -1 / 3, 1 / 3, 1];

/** y of the hand case, channels last, for per-channel r and d. */
function handY(r: readonly number[], d: readonly number[]): number[] {
  const gamma = [2, 1];
  const beta = [1, 0];
  return XHAT.flatMap((xh) => [0, 1].map((c) => xh * r[c]! * gamma[c]! + d[c]! * gamma[c]! + beta[c]!));
}

describe('kerasRenormReference by hand', () => {
  it('without clipping: r = sigma_B / s, d = (mu_B - renorm_mean) / s, s floored at sqrt(epsilon)', () => {
    const step = kerasRenormReference(HAND_X, HAND_SHAPE, HAND_STATE, HAND_OPTIONS);
    expect([...step.r]).toEqual([0.75, 1.5]); // 3/4, 3/2
    expect([...step.d]).toEqual([0.5, 1.5]); // (3-1)/4, (3-0)/2
    expect([...step.saveMean]).toEqual([3, 3]);
    expectAllClose('saveInvstd', step.saveInvstd, [1 / 3, 1 / 3]);
    expectAllClose('y', step.y, handY([0.75, 1.5], [0.5, 1.5]));
  });

  it('updates with Keras\'s convention v*m + new*(1 - m), moving_variance = relu(moving_stddev^2 - epsilon)', () => {
    const { weights, weightList } = kerasRenormReference(HAND_X, HAND_SHAPE, HAND_STATE, HAND_OPTIONS);
    expectAllClose('renormMean', weights.renormMean, [1 * 0.5 + 3 * 0.5, 0 * 0.5 + 3 * 0.5]);
    expectAllClose('renormStddev', weights.renormStddev, [4 * 0.5 + 3 * 0.5, 1 * 0.5 + 3 * 0.5]);
    expectAllClose('movingMean', weights.movingMean, [0.3, 0.3]);
    expectAllClose('movingStddev', weights.movingStddev, [1.2, 9.3]); // 1*0.9 + 3*0.1, 10*0.9 + 3*0.1
    expectAllClose('movingVariance', weights.movingVariance, [0, 9.3 * 9.3 - 4]); // 1.44 - 4 < 0: the relu's 0
    expect([...weights.gamma!]).toEqual([2, 1]);
    expect([...weights.beta!]).toEqual([1, 0]);
    expect(weightList).toEqual([weights.gamma, weights.beta, weights.movingMean, weights.movingVariance, weights.movingStddev, weights.renormMean, weights.renormStddev]);
  });

  it('clips r to [rmin, rmax] and d to [-dmax, dmax]', () => {
    const step = kerasRenormReference(HAND_X, HAND_SHAPE, HAND_STATE, { ...HAND_OPTIONS, renormClipping: { rmin: 0.8, rmax: 1.25, dmax: 1 } });
    expect([...step.r]).toEqual([0.8, 1.25]);
    expect([...step.d]).toEqual([0.5, 1]);
    expectAllClose('y', step.y, handY([0.8, 1.25], [0.5, 1]));
    // The updates do not see the clipping.
    expectAllClose('renormStddev', step.weights.renormStddev, [3.5, 2]);
  });

  it('a missing clipping key does not clip', () => {
    const onlyRmax = kerasRenormReference(HAND_X, HAND_SHAPE, HAND_STATE, { ...HAND_OPTIONS, renormClipping: { rmax: 1.25 } });
    expect([...onlyRmax.r]).toEqual([0.75, 1.25]);
    expect([...onlyRmax.d]).toEqual([0.5, 1.5]);
    const onlyDmax = kerasRenormReference(HAND_X, HAND_SHAPE, HAND_STATE, { ...HAND_OPTIONS, renormClipping: { dmax: 0.25 } });
    expect([...onlyDmax.r]).toEqual([0.75, 1.5]);
    expect([...onlyDmax.d]).toEqual([0.25, 0.25]);
  });

  it('without gamma and beta (scale: false, center: false): y = xhat*r + d, and the list leaves them out', () => {
    const { gamma: _g, beta: _b, ...rest } = HAND_STATE;
    const step = kerasRenormReference(HAND_X, HAND_SHAPE, rest, { ...HAND_OPTIONS, scale: false, center: false });
    expectAllClose('y', step.y, XHAT.flatMap((xh) => [xh * 0.75 + 0.5, xh * 1.5 + 1.5]));
    expect(step.weights.gamma).toBeNull();
    expect(step.weightList).toHaveLength(5);
    expect(step.weightList[0]).toBe(step.weights.movingMean);
  });

  it('normalizes with the masked statistics under a mask (any axis)', () => {
    // NCHW (2, 2, 2), mask (2, 2) = [[1, 1], [0, 0]]: each channel's statistics are those of its first sample.
    const x = [0, 6, 1, 3, 100, -50, 7, 9];
    const state = kerasRenormInitialWeights(2);
    const step = kerasRenormReference(x, [2, 2, 2], state, { axis: 1, epsilon: 0, mask: [1, 1, 0, 0] });
    expect([...step.saveMean]).toEqual([3, 2]);
    expectAllClose('r', step.r, [3, 1]); // sigma_B {3, 1} over renorm_stddev 1
    expect([...step.d]).toEqual([3, 2]);
  });
});

describe('kerasRenormInitialWeights', () => {
  it("is Keras's build: moving_stddev = renorm_stddev = sqrt(moving_variance's initial value), renorm_mean = moving_mean's", () => {
    const w = kerasRenormInitialWeights(3);
    expect(w).toEqual({
      gamma: Float64Array.of(1, 1, 1), beta: Float64Array.of(0, 0, 0), movingMean: Float64Array.of(0, 0, 0), movingVariance: Float64Array.of(1, 1, 1),
      movingStddev: Float64Array.of(1, 1, 1), renormMean: Float64Array.of(0, 0, 0), renormStddev: Float64Array.of(1, 1, 1),
    });
    const custom = kerasRenormInitialWeights(3, { center: false, movingMean: [1, -2, 0.5], movingVariance: [4, 9, 0.25] });
    expect(custom.beta).toBeNull();
    expect([...custom.movingStddev]).toEqual([2, 3, 0.5]);
    expect([...custom.renormStddev]).toEqual([2, 3, 0.5]);
    expect([...custom.renormMean]).toEqual([1, -2, 0.5]);
    expect([...custom.movingVariance]).toEqual([4, 9, 0.25]);
    expect(custom.renormStddev).not.toBe(custom.movingStddev); // separate arrays: a step writes both
    expect(() => kerasRenormInitialWeights(3, { movingVariance: [1, -1, 1] })).toThrow('movingVariance[1] is -1; a variance is >= 0');
    expect(() => kerasRenormInitialWeights(0)).toThrow('channels must be a positive integer, got 0');
  });
});

describe('kerasRenormReference over three steps against a re-statement of Keras\'s formulas', () => {
  it.each([
    { shape: [3, 2, 4], axis: 1, clipping: { rmin: 0.5, rmax: 2.5, dmax: 1.5 } },
    { shape: [4, 3, 3], axis: -1, clipping: null },
  ])('$shape axis $axis clipping $clipping', ({ shape, axis, clipping }) => {
    const { batch, channels, spatial } = channelLayout(shape, axis);
    const size = batch * channels * spatial;
    const epsilon = 1e-3;
    const momentum = 0.9;
    const renormMomentum = 0.6;
    const random = seededRandom(size + channels);
    let state: KerasRenormState = { ...kerasRenormInitialWeights(channels), gamma: uniform(random, channels, 0.5, 2), beta: uniform(random, channels, -1, 1) };
    // Keras's state, kept here per channel with no help from the library.
    const gamma = [...state.gamma!];
    const beta = [...state.beta!];
    const k = { movingMean: Array(channels).fill(0), movingStddev: Array(channels).fill(1), renormMean: Array(channels).fill(0), renormStddev: Array(channels).fill(1) };
    for (let step = 0; step < 3; step++) {
      const x = gaussian(random, size, 2 - step, 3 + step); // statistics away from renorm's: r, d far from 1, 0
      const result = kerasRenormReference(x, shape, state, { axis, epsilon, momentum, renormMomentum, renormClipping: clipping });
      for (let c = 0; c < channels; c++) {
        const values: number[] = [];
        for (let n = 0; n < batch; n++) for (let s = 0; s < spatial; s++) values.push(x[(n * channels + c) * spatial + s]!);
        const mu = values.reduce((a, b) => a + b, 0) / values.length;
        const sigma = Math.sqrt(values.reduce((a, v) => a + (v - mu) ** 2, 0) / values.length + epsilon);
        const s = Math.max(k.renormStddev[c], Math.sqrt(epsilon));
        let r = sigma / s;
        let d = (mu - k.renormMean[c]) / s;
        if (clipping) {
          r = Math.min(Math.max(r, clipping.rmin), clipping.rmax);
          d = Math.min(Math.max(d, -clipping.dmax), clipping.dmax);
        }
        expect(result.r[c], `step ${step} r[${c}]`).toBeCloseTo(r, 12);
        expect(result.d[c], `step ${step} d[${c}]`).toBeCloseTo(d, 12);
        // r from renorm_stddev after this step's update would differ: the test tells the two orders apart.
        expect(Math.abs(result.r[c]! - sigma / Math.max(result.weights.renormStddev[c]!, Math.sqrt(epsilon)))).toBeGreaterThan(1e-3);
        for (let n = 0; n < batch; n++) {
          for (let sp = 0; sp < spatial; sp++) {
            const i = (n * channels + c) * spatial + sp;
            expect(result.y[i]).toBeCloseTo(((x[i]! - mu) / sigma) * r * gamma[c]! + d * gamma[c]! + beta[c]!, 11);
          }
        }
        k.renormMean[c] = k.renormMean[c] * renormMomentum + mu * (1 - renormMomentum);
        k.renormStddev[c] = k.renormStddev[c] * renormMomentum + sigma * (1 - renormMomentum);
        k.movingMean[c] = k.movingMean[c] * momentum + mu * (1 - momentum);
        k.movingStddev[c] = k.movingStddev[c] * momentum + sigma * (1 - momentum);
      }
      const w = result.weights;
      expectAllClose(`step ${step} renormMean`, w.renormMean, k.renormMean);
      expectAllClose(`step ${step} renormStddev`, w.renormStddev, k.renormStddev);
      expectAllClose(`step ${step} movingMean`, w.movingMean, k.movingMean);
      expectAllClose(`step ${step} movingStddev`, w.movingStddev, k.movingStddev);
      expectAllClose(`step ${step} movingVariance`, w.movingVariance, k.movingStddev.map((sd) => Math.max(sd * sd - epsilon, 0)));
      state = w;
    }
  });
});

describe('kerasRenormBackwardReference against finite differences, r and d held constant', () => {
  it.each([
    { shape: [3, 2, 4], axis: 1, scale: true, center: true, mask: null, clipping: null },
    { shape: [2, 3, 3], axis: -1, scale: true, center: true, mask: [1, 0, 1, 1, 0, 1], clipping: { rmax: 1.5, dmax: 0.5 } },
    { shape: [5, 3], axis: -1, scale: false, center: false, mask: null, clipping: { rmin: 1.2 } },
    { shape: [2, 2, 3, 2], axis: 2, scale: true, center: false, mask: null, clipping: null },
  ])('$shape axis $axis scale=$scale center=$center mask=$mask clipping=$clipping', ({ shape, axis, scale, center, mask, clipping }) => {
    const { channels } = channelLayout(shape, axis);
    const size = shape.reduce((a, b) => a * b, 1);
    const random = seededRandom(size * 7 + channels);
    const x = Float64Array.from(gaussian(random, size, 0.5, 2));
    const g = Float64Array.from(gaussian(random, size, 0.3, 1));
    const gamma = scale ? Float64Array.from(uniform(random, channels, -2, 2)) : null;
    const beta = center ? Float64Array.from(uniform(random, channels, -1, 1)) : null;
    const state: KerasRenormState = {
      ...kerasRenormInitialWeights(channels, { scale, center }), gamma, beta,
      renormMean: uniform(random, channels, -0.5, 0.5), renormStddev: uniform(random, channels, 0.5, 3),
    };
    const epsilon = 1e-3;
    const step = kerasRenormReference(x, shape, state, { axis, epsilon, scale, center, mask, renormClipping: clipping });
    // The forward with r and d constants: batch norm in training with weight r*gamma and bias d*gamma + beta.
    const forward = () => batchNormReference(x, shape, {
      training: true, eps: epsilon, axis, mask,
      weight: step.r.map((r, c) => r * (gamma ? gamma[c]! : 1)),
      bias: step.d.map((d, c) => d * (gamma ? gamma[c]! : 1) + (beta ? beta[c]! : 0)),
    }).y;
    expectAllClose('y', forward(), step.y);
    const loss = () => forward().reduce((sum, y, i) => sum + g[i]! * y, 0);
    const grads = kerasRenormBackwardReference(g, x, shape, { gamma, center, saveMean: step.saveMean, saveInvstd: step.saveInvstd, r: step.r, d: step.d, axis, mask });
    expectClose('dx', grads.dx, numericGradient(x, loss));
    if (gamma) expectClose('dgamma', grads.dgamma!, numericGradient(gamma, loss));
    else expect(grads.dgamma).toBeNull();
    if (beta) expectClose('dbeta', grads.dbeta!, numericGradient(beta, loss));
    else expect(grads.dbeta).toBeNull();
  });

  it('by hand: dgamma = sum(dy*(r*xhat + d)), dbeta = sum(dy)', () => {
    const step = kerasRenormReference(HAND_X, HAND_SHAPE, HAND_STATE, HAND_OPTIONS);
    const dy = [1, 0, 0, 1, 0, 0, 0, 2];
    const grads = kerasRenormBackwardReference(dy, HAND_X, HAND_SHAPE, { gamma: HAND_STATE.gamma!, saveMean: step.saveMean, saveInvstd: step.saveInvstd, r: step.r, d: step.d });
    // channel 0: dy {1, 0, 0, 0} at xhat -1: 0.75*-1 + 0.5; channel 1: dy {0, 1, 0, 2} at xhat -1/3 and 1.
    expectAllClose('dgamma', grads.dgamma!, [-0.25, 1.5 * (-1 / 3) + 1.5 + 2 * (1.5 + 1.5)]);
    expect([...grads.dbeta!]).toEqual([1, 3]);
  });
});

describe('the renorm references check their arguments', () => {
  const state = kerasRenormInitialWeights(2);
  const x = [0, 1, 2, 3];
  it('names what is wrong', () => {
    expect(() => kerasRenormReference(x, [2, 2], state, { renormClipping: { rmax: 1, rmin: 2 } })).toThrow(
      'kerasRenormReference options.renormClipping.rmax (1) is below rmin (2)',
    );
    expect(() => kerasRenormReference(x, [2, 2], state, { renormClipping: { dmax: -1 } })).toThrow('renormClipping.dmax must be >= 0');
    expect(() => kerasRenormReference(x, [2, 2], state, { renormClipping: { rMax: 1 } as never })).toThrow(
      "kerasRenormReference options.renormClipping has an unknown key 'rMax'; the known keys are 'rmin', 'rmax', 'dmax'",
    );
    expect(() => kerasRenormReference(x, [2, 2], state, { renormClipping: { rmax: '3' } as never })).toThrow("renormClipping.rmax must be a number, got '3'");
    expect(() => kerasRenormReference(x, [2, 2], state, { renormMomentum: 1.5 })).toThrow('kerasRenormReference options.renormMomentum must be in [0, 1]');
    expect(() => kerasRenormReference(x, [2, 2], state, { momentum: -1 })).toThrow('kerasRenormReference options.momentum must be in [0, 1]');
    expect(() => kerasRenormReference(x, [2, 2], state, { epsilon: -1 })).toThrow('eps must be a finite number >= 0, got -1');
    expect(() => kerasRenormReference(x, [2, 2], { ...state, gamma: null })).toThrow('scale: true needs gamma');
    expect(() => kerasRenormReference(x, [2, 2], state, { center: false })).toThrow('beta is read only with center: true');
    expect(() => kerasRenormReference(x, [2, 2], { ...state, renormStddev: [1] })).toThrow('renormStddev (per channel) has 1 elements, expected 2');
    expect(() => kerasRenormReference(x, [2, 2], { ...state, movingVariance: [1, 1, 1] })).toThrow('movingVariance (per channel) has 3 elements, expected 2');
    expect(() => kerasRenormReference(x, [2, 2], { ...state, moving_mean: [0, 0] } as never)).toThrow("kerasRenormReference state has an unknown key 'moving_mean'");
    expect(() => kerasRenormReference([0, 1], [2, 2], state)).toThrow('x (shape [2,2]) has 2 elements, expected 4');
    expect(() => kerasRenormReference(x, [2, 2], state, { mask: [1, 0, 1] })).toThrow("mask (shape [2]: x's shape [2,2] without its channel axis -1) has 3 elements, expected 2");
    const saved = { saveMean: [0, 0], saveInvstd: [1, 1], r: [1, 1], d: [0, 0] };
    expect(() => kerasRenormBackwardReference(x, x, [2, 2], { ...saved, d: [0] })).toThrow('d (per channel) has 1 elements, expected 2');
    expect(() => kerasRenormBackwardReference(x, x, [2, 2], { ...saved, saveInvstd: [1] })).toThrow('saveInvstd (per channel) has 1 elements, expected 2');
  });
});
