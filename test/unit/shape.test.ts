import { describe, expect, it } from 'vitest';
import { assertValidShape, channelLayout, numElements } from '../../src/runtime/shape.js';

describe('channelLayout', () => {
  it.each([
    [[8, 3], { batch: 8, channels: 3, spatial: 1 }],
    [[8, 3, 5], { batch: 8, channels: 3, spatial: 5 }],
    [[8, 3, 5, 7], { batch: 8, channels: 3, spatial: 35 }],
    [[8, 3, 2, 5, 7], { batch: 8, channels: 3, spatial: 70 }],
  ])('splits %j as (N, C, spatial)', (shape, layout) => {
    expect(channelLayout(shape)).toEqual(layout);
  });

  it('takes an empty batch only where asked (the SyncBatchNorm building blocks), and never 0 channels', () => {
    expect(() => channelLayout([0, 3, 4])).toThrow('x has shape [0,3,4], which has no elements; batch norm needs at least one value per channel');
    expect(channelLayout([0, 3, 4], 1, true)).toEqual({ batch: 0, channels: 3, spatial: 4 });
    expect(channelLayout([2, 0, 3], -1, true)).toEqual({ batch: 0, channels: 3, spatial: 1 });
    expect(() => channelLayout([2, 0, 3], 1, true)).toThrow('x has shape [2,0,3] with 0 channels (axis 1); batch norm needs at least one channel');
    expect(() => assertValidShape([2, -1], 'shape', true)).toThrow('shape [2,-1] has dimension 1 = -1; dimensions must be non-negative integers');
  });

  it('rejects ranks below 2 and above 5, naming the shape', () => {
    expect(() => channelLayout([7])).toThrow(/shape \[7\] \(rank 1\)/);
    expect(() => channelLayout([1, 2, 3, 4, 5, 6])).toThrow(/rank 6/);
  });
});

describe('assertValidShape', () => {
  it.each([[[2, 0, 3]], [[2, -1]], [[2, 1.5]], [[2, NaN]]])('rejects %j, naming the dimension', (shape) => {
    expect(() => assertValidShape(shape, 'x shape')).toThrow(/x shape .* has dimension \d = .*positive integers/);
  });

  it('counts elements', () => {
    expect(numElements([2, 3, 4])).toBe(24);
  });
});
