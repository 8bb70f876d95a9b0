// The float64 reference against values worked out by hand.
import { describe, expect, it } from 'vitest';
import { batchNormBackwardReference } from '../../src/reference/backward.js';
import { batchNormReference, channelMoments } from '../../src/reference/forward.js';

describe('channelMoments', () => {
  it('reads each channel as N runs of H*W values', () => {
    // shape (2, 2, 2): channel 0 is {1, 2, 5, 6}, channel 1 is {3, 4, 7, 8}
    const { mean, variance } = channelMoments([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2]);
    expect([...mean]).toEqual([3.5, 5.5]);
    // biased variance of {1,2,5,6}: ((2.5^2 + 1.5^2) * 2) / 4 = 4.25
    expect([...variance]).toEqual([4.25, 4.25]);
  });

  it('keeps full precision for a large mean with a small spread', () => {
    const { mean, variance } = channelMoments(new Float64Array([1e8 + 1, 1e8 - 1, 1e8 + 1, 1e8 - 1]), [4, 1]);
    expect(mean[0]).toBe(1e8);
    expect(variance[0]).toBe(1);
  });
});

describe('batchNormReference', () => {
  it('training: normalizes with the biased variance and updates running stats with the unbiased one', () => {
    // one channel {1, 3}: mean 2, biased variance 1, unbiased variance 2
    const r = batchNormReference([1, 3], [2, 1], {
      training: true, eps: 0, momentum: 0.5, runningMean: [0], runningVar: [1], weight: [2], bias: [10],
    });
    expect([...r.y]).toEqual([8, 12]);
    expect(r.saveMean[0]).toBe(2);
    expect(r.saveInvstd[0]).toBe(1);
    expect(r.runningMean![0]).toBe(1); // 0.5*0 + 0.5*2
    expect(r.runningVar![0]).toBe(1.5); // 0.5*1 + 0.5*2
  });

  it('momentum null is a cumulative average over numBatchesTracked', () => {
    const r = batchNormReference([1, 3], [2, 1], {
      training: true, eps: 0, momentum: null, numBatchesTracked: 4, runningMean: [4], runningVar: [2],
    });
    expect(r.runningMean![0]).toBe(0.75 * 4 + 0.25 * 2);
    expect(r.runningVar![0]).toBe(0.75 * 2 + 0.25 * 2);
  });

  it('inference uses the running statistics and eps', () => {
    const r = batchNormReference([5, 7], [2, 1], { training: false, eps: 3, runningMean: [5], runningVar: [1] });
    expect([...r.y]).toEqual([0, 1]); // (x - 5) / sqrt(1 + 3)
  });

  it('adds the residual before the activation', () => {
    // {1, 3} normalizes to {-1, 1}; + z {0.5, -2} = {-0.5, -1}, which the ReLU clips to {0, 0}.
    expect([...batchNormReference([1, 3], [2, 1], { training: true, eps: 0, residual: [0.5, -2] }).y]).toEqual([-0.5, -1]);
    expect([...batchNormReference([1, 3], [2, 1], { training: true, eps: 0, residual: [0.5, -0.5], activation: 'relu' }).y]).toEqual([0, 0.5]);
  });

  it('training without running statistics updates nothing', () => {
    const r = batchNormReference([1, 3], [2, 1], { training: true });
    expect(r.runningMean).toBeNull();
    expect(r.runningVar).toBeNull();
  });
});

describe('the reference entry checks its arguments as the GPU API does', () => {
  it('refuses unknown keys, arrays of the wrong length or type, and values out of range, naming them', () => {
    const x = [1, 2, 3, 4, 5, 6];
    const shape = [2, 3];
    expect(() => batchNormReference(x, shape, { training: true, momemtum: 0.5 } as never)).toThrow(
      "batchNormReference options has an unknown key 'momemtum'",
    );
    expect(() => batchNormReference(x, shape, { training: 'yes' } as never)).toThrow("batchNormReference options.training must be true or false, got 'yes'");
    expect(() => batchNormReference([1, 2, 3], shape, { training: true })).toThrow('x (shape [2,3]) has 3 elements, expected 6');
    expect(() => batchNormReference(x, shape, { training: true, weight: [1, 2] })).toThrow('weight (per channel) has 2 elements, expected 3');
    expect(() => batchNormReference(x, shape, { training: true, bias: [0, '1', 0] as never })).toThrow("bias (per channel)[1] must be a number, got '1'");
    expect(() => batchNormReference(x, shape, { training: true, eps: -1 })).toThrow('eps must be a finite number >= 0, got -1');
    expect(() => batchNormReference(x, shape, { training: true, momentum: 2 })).toThrow('momentum must be in [0, 1] or null, got 2');
    expect(() => batchNormReference(x, shape, { training: true, runningMean: [0, 0, 0] })).toThrow('runningMean and runningVar go together');
    expect(() => batchNormReference(x, shape, { training: false })).toThrow('inference (training: false) needs runningMean and runningVar');
    expect(() => batchNormReference(x, shape, { training: true, axis: 2 })).toThrow('axis must be an integer in [-2, 1]');
    expect(() => batchNormReference(x, shape, { training: true, activation: 'gelu' as never })).toThrow("activation must be 'relu' or null, got 'gelu'");
    expect(() => batchNormReference(x, shape, { training: true, residual: [1, 2] })).toThrow('residual (shape [2,3]) has 2 elements, expected 6');
    const running = { runningMean: [0, 0, 0], runningVar: [1, 1, 1] };
    expect(() => batchNormReference(x, shape, { training: true, momentum: null, ...running })).toThrow(/needs numBatchesTracked >= 1/);
  });

  it('the backward takes the GPU API\'s activation and bias: dy is masked where the recomputed y was clipped', () => {
    // One channel {0, 1, 2, 3}: mean 1.5, and with weight 1, bias 0 the forward's y is negative for x < 1.5.
    const x = [0, 1, 2, 3];
    const dy = [1, 1, 1, 1];
    const shape = [4, 1];
    const { saveMean, saveInvstd } = batchNormReference(x, shape, { training: true });
    const masked = batchNormBackwardReference(dy, x, shape, { training: true, saveMean, saveInvstd, weight: [1], activation: 'relu', bias: [0] });
    expect(masked.dbias![0]).toBe(2); // only the two values above the mean pass
    const fromOutput = batchNormBackwardReference(dy, x, shape, { training: true, saveMean, saveInvstd, weight: [1], reluOutput: [-1, -0.5, 0.5, 1] });
    expect([...fromOutput.dx]).toEqual([...masked.dx]);
    const unmasked = batchNormBackwardReference(dy, x, shape, { training: true, saveMean, saveInvstd, weight: [1] });
    expect(unmasked.dbias![0]).toBe(4);
    expect(() => batchNormBackwardReference(dy, x, shape, { training: true, saveMean, saveInvstd, weight: [1], bias: [0] })).toThrow(
      "bias is read only with activation: 'relu'",
    );
    expect(() => batchNormBackwardReference(dy, x, shape, { training: true, saveMean: [0, 0], saveInvstd })).toThrow(
      'saveMean (per channel) has 2 elements, expected 1',
    );
    expect(() => batchNormBackwardReference(dy, x, shape, { training: false, saveMean, saveInvstd } as never)).toThrow(
      "batchNormBackwardReference options (training: false) has an unknown key 'saveMean'",
    );
    expect(() => batchNormBackwardReference([1, 1], x, shape, { training: true, saveMean, saveInvstd })).toThrow('dy (shape [4,1]) has 2 elements, expected 4');
    // With a residual: dz is dy masked by the stored y (dy itself without an activation), and the mask cannot be recomputed.
    const residual = batchNormBackwardReference(dy, x, shape, { training: true, saveMean, saveInvstd, residual: true, activation: 'relu', reluOutput: [0, 0, 0.5, 1] });
    expect([...residual.dz!]).toEqual([0, 0, 1, 1]);
    expect([...residual.dx]).toEqual([...fromOutput.dx]);
    expect([...batchNormBackwardReference(dy, x, shape, { training: true, saveMean, saveInvstd, residual: true }).dz!]).toEqual(dy);
    expect(unmasked.dz).toBeNull();
    expect(() => batchNormBackwardReference(dy, x, shape, { training: true, saveMean, saveInvstd, residual: true, activation: 'relu' })).toThrow(
      "with residual: true and activation: 'relu' needs reluOutput",
    );
    expect(() => batchNormBackwardReference(dy, x, shape, { training: true, saveMean, saveInvstd, residual: true, activation: 'relu', bias: [0], reluOutput: x })).toThrow(
      "bias is read only with activation: 'relu' and no residual",
    );
    expect(() => batchNormBackwardReference(dy, x, shape, { training: true, saveMean, saveInvstd, residual: 'yes' as never })).toThrow(
      "batchNormBackwardReference options.residual must be true or false, got 'yes'",
    );
  });
});
