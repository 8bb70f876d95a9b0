// Argument checks that need no GPU: a gradient against its input.
import { describe, expect, it } from 'vitest';
import { assertSameShapeAndDType } from '../../src/validate.js';

describe('assertSameShapeAndDType', () => {
  const x = { shape: [2, 3, 4], dtype: 'f32' } as const;

  it('names a dtype mismatch (SwiftShader has no f16 tensors to show it on the GPU)', () => {
    expect(() => assertSameShapeAndDType({ shape: [2, 3, 4], dtype: 'f16' }, 'dy', x, 'x')).toThrow("dy has dtype 'f16' but x has dtype 'f32'");
  });

  it('names a shape or rank mismatch', () => {
    expect(() => assertSameShapeAndDType({ shape: [2, 4, 3], dtype: 'f32' }, 'dy', x, 'x')).toThrow(
      'dy has shape [2,4,3] but x has shape [2,3,4]; they must match',
    );
    expect(() => assertSameShapeAndDType({ shape: [2, 3, 2, 2], dtype: 'f32' }, 'dy', x, 'x')).toThrow('dy has shape [2,3,2,2]');
  });

  it('rejects what is not a tensor and accepts a match', () => {
    expect(() => assertSameShapeAndDType(null as never, 'dy', x, 'x')).toThrow('dy must be a Tensor, got null');
    expect(() => assertSameShapeAndDType({ shape: [2, 3, 4], dtype: 'f32' }, 'dy', x, 'x')).not.toThrow();
  });
});
