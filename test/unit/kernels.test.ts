// The substitution step: the WGSL of every variant comes from its typed variant object, and so does its
// cache key, so two variants never share a key and a key never names two shaders.
import { describe, expect, it } from 'vitest';
import { composeShader, variantKey, type KernelVariant } from '../../src/kernels.js';

const VARIANTS: KernelVariant[] = [
  { kernel: 'stats', vec4: true, subgroups: true },
  { kernel: 'stats', vec4: true, subgroups: false },
  { kernel: 'stats', vec4: false, subgroups: true },
  { kernel: 'stats', vec4: false, subgroups: false },
  { kernel: 'finalize' },
  { kernel: 'apply', vec4: true },
  { kernel: 'apply', vec4: false },
  { kernel: 'backward-reduce', vec4: true, subgroups: true },
  { kernel: 'backward-reduce', vec4: true, subgroups: false },
  { kernel: 'backward-reduce', vec4: false, subgroups: true },
  { kernel: 'backward-reduce', vec4: false, subgroups: false },
  { kernel: 'backward-finalize' },
  { kernel: 'backward-apply', vec4: true },
  { kernel: 'backward-apply', vec4: false },
];

describe('kernel variants', () => {
  it('have distinct keys and distinct code', () => {
    expect(new Set(VARIANTS.map(variantKey)).size).toBe(VARIANTS.length);
    expect(new Set(VARIANTS.map(composeShader)).size).toBe(VARIANTS.length);
  });

  it('enable subgroups only in the subgroup variant', () => {
    expect(composeShader({ kernel: 'stats', vec4: true, subgroups: true })).toMatch(/^enable subgroups;/);
    expect(composeShader({ kernel: 'stats', vec4: true, subgroups: false })).not.toMatch(/subgroupAdd|enable subgroups/);
  });

  it('pick the vec4 element type only for vec4 variants', () => {
    expect(composeShader({ kernel: 'apply', vec4: true })).toContain('alias Elem = vec4<f32>;');
    expect(composeShader({ kernel: 'apply', vec4: false })).toContain('alias Elem = f32;');
  });

  it('keep shape, eps and momentum out of the code (they are uniforms)', () => {
    for (const v of VARIANTS) expect(composeShader(v)).not.toMatch(/1e-5|0\.1\b/);
  });
});
