// The substitution step: the WGSL of every variant comes from its typed variant object, and so does its
// cache key, so two variants never share a key and a key never names two shaders. Binding declarations
// come from each kernel's record only.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bindingsOf, composeShader, variantKey, type KernelVariant } from '../../src/kernels.js';

const VARIANTS: KernelVariant[] = [
  { kernel: 'stats', vec4: true, subgroups: true },
  { kernel: 'stats', vec4: true, subgroups: false },
  { kernel: 'stats', vec4: false, subgroups: true },
  { kernel: 'stats', vec4: false, subgroups: false },
  { kernel: 'stats-rows' },
  { kernel: 'finalize', perInvocation: false },
  { kernel: 'finalize', perInvocation: true },
  { kernel: 'apply', vec4: true },
  { kernel: 'apply', vec4: false },
  { kernel: 'backward-reduce', vec4: true, subgroups: true },
  { kernel: 'backward-reduce', vec4: true, subgroups: false },
  { kernel: 'backward-reduce', vec4: false, subgroups: true },
  { kernel: 'backward-reduce', vec4: false, subgroups: false },
  { kernel: 'backward-reduce-rows' },
  { kernel: 'backward-finalize', perInvocation: false },
  { kernel: 'backward-finalize', perInvocation: true },
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

  it('declare each binding of the kernel\'s record, in its order, and use every one', () => {
    for (const v of VARIANTS) {
      const code = composeShader(v);
      const declared = [...code.matchAll(/@group\(0\) @binding\((\d+)\) var<[^>]+> (\w+):/g)].map((m) => [Number(m[1]), m[2]]);
      const record = bindingsOf(v.kernel).map(([name], i) => [i, name]);
      expect(declared).toEqual(record);
      const body = code.slice(code.lastIndexOf('@group(0)'));
      for (const [, name] of record) expect(body, `${variantKey(v)} never uses '${name}'`).toMatch(new RegExp(`\\b${name}\\b[^:]`));
    }
  });

  it('leave binding declarations to the records: no .wgsl file declares one', () => {
    const dir = join(import.meta.dirname, '../../shaders');
    for (const file of readdirSync(dir)) expect(readFileSync(join(dir, file), 'utf8'), file).not.toContain('@binding(');
  });

  it('take the workgroup size as a pipeline constant, not as text', () => {
    for (const v of VARIANTS) {
      const code = composeShader(v);
      expect(code).toContain('override WORKGROUP_SIZE: u32;');
      expect(code).not.toMatch(/WORKGROUP_SIZE\s*(:\s*u32\s*)?=/);
    }
  });
});
