import { describe, expect, it } from 'vitest';
import { foldGrid, MIN_ELEMS_PER_INVOCATION, planSlices, TARGET_STATS_WORKGROUPS, WORKGROUP_SIZE } from '../../src/dispatch.js';

describe('foldGrid', () => {
  it('keeps 1-D dispatches within the limit', () => {
    expect(foldGrid(65535, 65535)).toEqual({ x: 65535, y: 1 });
  });

  it('folds larger dispatches into 2-D that cover every workgroup with little padding', () => {
    for (const groups of [65536, 100_000, 1_000_003, 65535 * 65535]) {
      const { x, y } = foldGrid(groups, 65535);
      expect(x).toBeLessThanOrEqual(65535);
      expect(y).toBeLessThanOrEqual(65535);
      expect(x * y).toBeGreaterThanOrEqual(groups);
      expect(x * y - groups).toBeLessThan(y);
    }
  });

  it('says when even 2-D is not enough', () => {
    expect(() => foldGrid(65535 * 65535 + 1, 65535)).toThrow(/maxComputeWorkgroupsPerDimension/);
  });
});

describe('planSlices', () => {
  const minSlice = WORKGROUP_SIZE * MIN_ELEMS_PER_INVOCATION;

  it('covers every element of a channel exactly once', () => {
    for (const [channels, len] of [[1, 1], [1, minSlice - 1], [1, minSlice + 1], [3, 10_000_000], [64, 100_352], [2048, 9]]) {
      const { slices, sliceLen } = planSlices(channels!, len!);
      expect(slices * sliceLen).toBeGreaterThanOrEqual(len!);
      expect((slices - 1) * sliceLen).toBeLessThan(len!);
    }
  });

  it('splits small-C, large channels to fill the GPU', () => {
    const { slices } = planSlices(1, 50_000_000);
    expect(slices).toBe(TARGET_STATS_WORKGROUPS);
  });

  it('does not split channels too short to keep every invocation busy', () => {
    expect(planSlices(1, minSlice * 2 - 1).slices).toBe(1);
    expect(planSlices(2048, 1_000_000).slices).toBe(1);
  });
});
