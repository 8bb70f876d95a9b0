import { describe, expect, it } from 'vitest';
import { fromHalfBits, toHalfBits } from '../../src/runtime/half.js';

describe('float16 conversion', () => {
  it.each([
    [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [65520, 0x7c00],
    [2 ** -14, 0x0400], [2 ** -24, 0x0001], [Infinity, 0x7c00], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02],
  ])('%d <-> 0x%s', (value, bits) => {
    expect(toHalfBits(value)).toBe(bits);
  });

  it('round-trips every finite half', () => {
    for (let h = 0; h < 0x7c00; h++) expect(toHalfBits(fromHalfBits(h))).toBe(h);
  });

  it('keeps NaN', () => {
    expect(Number.isNaN(fromHalfBits(toHalfBits(NaN)))).toBe(true);
  });
});
