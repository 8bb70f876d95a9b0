// The float64 reference against values worked out by hand.
import { describe, expect, it } from 'vitest';
import { batchNormReference, channelMoments } from '../../src/reference.js';

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
    expect(r.mean[0]).toBe(2);
    expect(r.invstd[0]).toBe(1);
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

  it('training without running statistics updates nothing', () => {
    const r = batchNormReference([1, 3], [2, 1], { training: true });
    expect(r.runningMean).toBeNull();
    expect(r.runningVar).toBeNull();
  });
});
