// Argument checks that need no GPU: reading options once, with unknown keys named.
import { describe, expect, it } from 'vitest';
import { describeValue, readOptions } from '../../src/runtime/options.js';

describe('readOptions', () => {
  it('names an unknown key and the known ones (a typo must not run with a default)', () => {
    expect(() => readOptions({ momemtum: 0.2 }, 'batchNorm options', ['momentum', 'eps'])).toThrow(
      "batchNorm options has an unknown key 'momemtum'; the known keys are 'momentum', 'eps'",
    );
  });

  it('reads each key once, leaves undefined ones out, and refuses what is not an object', () => {
    let reads = 0;
    const options = {
      get eps() {
        reads++;
        return reads === 1 ? 1e-3 : -1;
      },
      momentum: undefined,
    };
    expect(readOptions(options, 'o', ['eps', 'momentum'])).toEqual({ eps: 1e-3 });
    expect(reads).toBe(1);
    expect(readOptions(undefined, 'o', ['eps'])).toEqual({});
    expect(() => readOptions(undefined, 'o', ['eps'], false)).toThrow('o must be an object, got undefined');
    expect(() => readOptions([1], 'o', ['eps'])).toThrow('o must be an object, got an array of length 1');
  });
});

describe('describeValue', () => {
  it('says what a value is, briefly', () => {
    expect(describeValue(null)).toBe('null');
    expect(describeValue(3)).toBe('3');
    expect(describeValue(4n)).toBe('4n');
    expect(describeValue('a')).toBe("'a'");
    expect(describeValue({ shape: [1] })).toBe('an object with keys [shape]');
    expect(describeValue(new Map())).toBe('a Map');
  });
});
