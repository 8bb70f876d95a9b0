// The substitution step: the WGSL of every variant comes from its typed variant object and the Gpu's
// numerics, and so does its cache key, so two variants never share a key and a key never names two
// shaders. Binding declarations come from each kernel's record only.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { storageFor, type Storage } from '../../src/engine/element-storage.js';
import { DEFAULT_NUMERICS, type Compensation, type Numerics, type StatisticsMerge } from '../../src/runtime/gpu.js';
import { bindingsOf, composeShader, variantKey, type KernelVariant } from '../../src/engine/kernels.js';
import { validateWgsl } from '../support/naga.js';

const STORAGES: Storage[] = ['f32', 'f16', 'f16-packed'];
const BOOLS = [false, true];
const MERGES: StatisticsMerge[] = ['block', 'vec4'];
const COMPENSATIONS: Compensation[] = ['value', 'kahan'];
/** Every combination of the numerical choices. */
const NUMERICS: Numerics[] = MERGES.flatMap((statisticsMerge) =>
  COMPENSATIONS.flatMap((compensation) => BOOLS.map((fences) => ({ statisticsMerge, compensation, fences }))),
);

/** Every variant of every kernel. */
const VARIANTS: KernelVariant[] = STORAGES.flatMap((storage): KernelVariant[] => [
  ...BOOLS.flatMap((vec4) => BOOLS.flatMap((subgroups): KernelVariant[] => [
    { kernel: 'stats', storage, vec4, subgroups },
    ...(vec4 ? [] : [{ kernel: 'stats-masked', storage, subgroups } as const]),
    { kernel: 'stats-apply', storage, vec4, subgroups },
    { kernel: 'stats-apply-residual', storage, vec4, subgroups },
    { kernel: 'backward-reduce', storage, vec4, subgroups },
    { kernel: 'backward-reduce-residual', storage, vec4, subgroups },
    { kernel: 'backward-fused', storage, vec4, subgroups },
    { kernel: 'backward-fused-residual', storage, vec4, subgroups },
  ])),
  ...BOOLS.flatMap((vec4): KernelVariant[] => [
    { kernel: 'apply', storage, vec4 },
    { kernel: 'apply-residual', storage, vec4 },
    { kernel: 'apply-running', storage, vec4 },
    { kernel: 'apply-running-residual', storage, vec4 },
    { kernel: 'backward-apply', storage, vec4 },
    { kernel: 'apply-given', storage, vec4 },
    { kernel: 'apply-given-residual', storage, vec4 },
    { kernel: 'backward-apply-residual', storage, vec4 },
  ]),
  { kernel: 'stats-rows', storage },
  { kernel: 'stats-rows-masked', storage },
  { kernel: 'backward-apply-masked', storage },
  { kernel: 'backward-apply-masked-residual', storage },
  { kernel: 'stats-apply-rows', storage },
  { kernel: 'stats-apply-rows-residual', storage },
  { kernel: 'backward-reduce-rows', storage },
  { kernel: 'backward-reduce-rows-residual', storage },
  { kernel: 'backward-fused-rows', storage },
  { kernel: 'backward-fused-rows-residual', storage },
  ...(storage === 'f32'
    ? BOOLS.flatMap((perInvocation): KernelVariant[] => [
        { kernel: 'finalize', perInvocation },
        { kernel: 'backward-finalize', perInvocation },
        { kernel: 'backward-finalize-masked', perInvocation },
        { kernel: 'moments', perInvocation },
        { kernel: 'backward-sums', perInvocation },
        { kernel: 'renorm', perInvocation },
      ])
    : []),
  ...(storage === 'f32'
    ? [{ kernel: 'gather-statistics' } as const, { kernel: 'global-coefficients' } as const, { kernel: 'mask-count' } as const, { kernel: 'renorm-gradient' } as const]
    : []),
]);

/** Every variant composed with every numerics, one entry per key: the code of each key, and what made it. */
const COMPOSED = new Map<string, { variant: KernelVariant; numerics: Numerics; code: string }>();
for (const variant of VARIANTS) {
  for (const numerics of NUMERICS) {
    const key = variantKey(variant, numerics);
    const code = composeShader(variant, numerics);
    const seen = COMPOSED.get(key);
    if (seen && seen.code !== code) throw new Error(`key ${key} names two shaders`);
    COMPOSED.set(key, { variant, numerics, code });
  }
}

describe('kernel variants', () => {
  it('have distinct keys and distinct code', () => {
    expect(new Set(VARIANTS.map((v) => variantKey(v))).size).toBe(VARIANTS.length);
    expect(new Set(VARIANTS.map((v) => composeShader(v))).size).toBe(VARIANTS.length);
    // With the numerics: a key per distinct code (COMPOSED refuses a key with two codes).
    expect(new Set([...COMPOSED.values()].map((c) => c.code)).size).toBe(COMPOSED.size);
  });

  it('key only the numerics a kernel depends on', () => {
    const apply = { kernel: 'apply', storage: 'f32', vec4: true } as const;
    expect(variantKey(apply, { ...DEFAULT_NUMERICS, statisticsMerge: 'vec4', compensation: 'kahan' })).toBe(variantKey(apply));
    expect(variantKey(apply, { ...DEFAULT_NUMERICS, fences: false })).not.toBe(variantKey(apply));
    const finalize = { kernel: 'backward-finalize', perInvocation: true } as const;
    expect(variantKey(finalize, { ...DEFAULT_NUMERICS, compensation: 'kahan' })).toBe(variantKey(finalize));
    const reduce = { kernel: 'backward-reduce', storage: 'f32', vec4: true, subgroups: false } as const;
    expect(variantKey(reduce, { ...DEFAULT_NUMERICS, compensation: 'kahan' })).not.toBe(variantKey(reduce));
    expect(variantKey(reduce, { ...DEFAULT_NUMERICS, statisticsMerge: 'vec4' })).toBe(variantKey(reduce));
  });

  it("compensate with TwoSum or Kahan's update, and fence or not, by the numerics", () => {
    const stats = { kernel: 'stats', storage: 'f32', vec4: true, subgroups: false } as const;
    const reduce = { kernel: 'backward-reduce-rows', storage: 'f32' } as const;
    for (const variant of [stats, reduce]) {
      const twoSum = composeShader(variant);
      expect(twoSum).toContain('{ elemSumAdd(s, v); }');
      expect(composeShader(variant, { ...DEFAULT_NUMERICS, compensation: 'kahan' })).toContain('let y = v + (*s).lost;');
      expect(twoSum).toContain('^ params.zero');
      expect(composeShader(variant, { ...DEFAULT_NUMERICS, fences: false })).not.toContain('^ params.zero');
    }
  });

  it('enable subgroups only in the subgroup variant', () => {
    expect(composeShader({ kernel: 'stats', storage: 'f32', vec4: true, subgroups: true })).toMatch(/^enable subgroups;/);
    expect(composeShader({ kernel: 'stats', storage: 'f32', vec4: true, subgroups: false })).not.toMatch(/subgroupAdd|enable subgroups/);
  });

  it('fold the statistics a block of 16 values per merge, or per Elem with statisticsMerge: vec4', () => {
    for (const vec4 of BOOLS) {
      const block = composeShader({ kernel: 'stats', storage: 'f32', vec4, subgroups: false });
      expect(block).toContain('const BLOCK_VALUES: u32 = 16u;');
      expect(block).not.toContain('fn welfordAdd(');
      const perElem = composeShader({ kernel: 'stats', storage: 'f32', vec4, subgroups: false }, { ...DEFAULT_NUMERICS, statisticsMerge: 'vec4' });
      expect(perElem).toContain('fn welfordAdd(');
      expect(perElem).not.toContain('BLOCK_VALUES');
    }
  });

  it('add the residual z and write its gradient dz only in the residual kernels', () => {
    const forward = composeShader({ kernel: 'apply-residual', storage: 'f32', vec4: true });
    expect(forward).toContain('fn addResidual(i: u32, v: Elem) -> Elem { return v + loadZ(i); }');
    expect(composeShader({ kernel: 'apply', storage: 'f32', vec4: true })).not.toMatch(/loadZ|storeDz/);
    const backward = composeShader({ kernel: 'backward-apply-residual', storage: 'f16-packed', vec4: false });
    expect(backward).toContain('var<storage, read_write> dz: array<atomic<u32>>;');
    // The mask is the stored y's sign, not recomputed from x: no forward affine, no bias.
    const fused = composeShader({ kernel: 'backward-fused-residual', storage: 'f32', vec4: false, subgroups: false }).replace(/\/\/.*$/gm, '');
    expect(fused).not.toMatch(/fn forwardAffine|\bbias\b/);
    expect(fused).toContain('return loadY(at);');
  });

  it('pick the vec4 element type only for vec4 variants', () => {
    expect(composeShader({ kernel: 'apply', storage: 'f32', vec4: true })).toContain('alias Elem = vec4<f32>;');
    expect(composeShader({ kernel: 'apply', storage: 'f32', vec4: false })).toContain('alias Elem = f32;');
  });

  it('store f16 natively where the device has shader-f16 and packed in u32 words elsewhere, always computing in f32', () => {
    expect(storageFor('f32', { shaderF16: true })).toBe('f32');
    expect(storageFor('f16', { shaderF16: true })).toBe('f16');
    expect(storageFor('f16', { shaderF16: false })).toBe('f16-packed');
    const native = composeShader({ kernel: 'apply', storage: 'f16', vec4: true });
    expect(native).toMatch(/^enable f16;/);
    expect(native).toContain('var<storage, read> x: array<vec4<f16>>;');
    expect(native).toContain('alias Elem = vec4<f32>;');
    const packed = composeShader({ kernel: 'apply', storage: 'f16-packed', vec4: false });
    expect(packed).not.toContain('enable f16');
    expect(packed).toContain('var<storage, read> x: array<u32>;');
    // A scalar half is half a word: stores touch only their 16 bits, atomically.
    expect(packed).toContain('var<storage, read_write> y: array<atomic<u32>>;');
    expect(packed).toMatch(/atomicAnd\(&y\[i >> 1u\]/);
    expect(composeShader({ kernel: 'apply', storage: 'f16-packed', vec4: true })).toContain('var<storage, read_write> y: array<vec2<u32>>;');
  });

  it('mask the ReLU backward on the value y\'s storage holds: an f16 y of 2^-26 is stored as 0 and blocks dy', () => {
    for (const storage of STORAGES) {
      for (const vec4 of BOOLS) {
        const code = composeShader({ kernel: 'backward-apply', storage, vec4 });
        expect(code).toContain('storesPositive(source * k.x + k.y)');
        const test = code.match(/fn storesPositive\(v: Elem\)[^\n]*/)![0];
        expect(test.includes('halfBits('), `${storage} vec4 ${vec4}`).toBe(storage !== 'f32');
      }
    }
  });

  it('declare each binding of the kernel\'s record, in its order, and use every one', () => {
    for (const v of VARIANTS) {
      const code = composeShader(v);
      const declared = [...code.matchAll(/@group\(0\) @binding\((\d+)\) var<[^>]+> (\w+):/g)].map((m) => [Number(m[1]), m[2]]);
      const record = bindingsOf(v.kernel).map(([name], i) => [i, name]);
      expect(declared).toEqual(record);
      // Uses in the kernel and its parts: the code without the declarations and their generated accessors,
      // and without comments. A windowed binding is used through its accessor (loadX, storeY).
      const body = code
        .replace(/^@group\(0\).*$/gm, '')
        .replace(/^fn (?:load|store)[A-Z]\w*\(.*?(?:\}$|\{\n[\s\S]*?\n\})/gm, '')
        .replace(/\/\/.*$/gm, '');
      for (const [, name] of record) {
        const accessor = `(load|store)${String(name)[0]!.toUpperCase()}${String(name).slice(1)}\\(`;
        expect(body, `${variantKey(v)} never uses '${name}'`).toMatch(new RegExp(`\\b${name}\\b[^:]|${accessor}`));
      }
    }
  });

  it('leave binding declarations to the records: no .wgsl file declares one', () => {
    const dir = join(import.meta.dirname, '../../shaders');
    for (const file of readdirSync(dir)) expect(readFileSync(join(dir, file), 'utf8'), file).not.toContain('@binding(');
  });

  it("bind at most WebGPU's default 8 storage buffers, but for the one-dispatch kernels, which the operations check (fitsDevice)", () => {
    // The one-dispatch forwards and backwards have a multi-pass plan to fall back on where a device has
    // WebGPU's default limit (tfjs's webgpu backend's device has); every other kernel must fit it.
    const ONE_DISPATCH = /^(stats-apply|backward-fused)/;
    const over = [...new Set(VARIANTS.map((v) => v.kernel))]
      .filter((kernel) => !ONE_DISPATCH.test(kernel))
      .map((kernel) => [kernel, bindingsOf(kernel).filter(([, { access }]) => access !== 'uniform').length] as const)
      .filter(([, storageBuffers]) => storageBuffers > 8);
    expect(over).toEqual([]);
  });

  it('take the workgroup size as a pipeline constant, not as text', () => {
    for (const v of VARIANTS) {
      const code = composeShader(v);
      expect(code).toContain('override WORKGROUP_SIZE: u32;');
      expect(code).not.toMatch(/WORKGROUP_SIZE\s*(:\s*u32\s*)?=/);
    }
  });
});

describe('WGSL validity (naga, wgpu\'s WGSL validator, in Node: no GPU needed)', () => {
  // Two constructs valid WGSL that naga 30 does not implement, which Tint (Chromium, Dawn) compiles: the
  // `subgroups` enable-extension, and bitcasts from u32 words to vectors of f16 (the native f16 stores,
  // which build IEEE half bits so that overflow gives +-Inf). Every other variant, the native f16 loads
  // included, must parse and validate.
  const storesNativeHalves = (v: KernelVariant) =>
    'storage' in v && v.storage === 'f16' && bindingsOf(v.kernel).some(([, d]) => d.windowed && d.access === 'read_write');
  const nagaCanCheck = (v: KernelVariant) => !('subgroups' in v && v.subgroups) && !storesNativeHalves(v);
  const composed = [...COMPOSED.entries()];
  const checked = composed.filter(([, { variant }]) => nagaCanCheck(variant));

  it(`parse and validate (${checked.length} of ${composed.length} variants with their numerics)`, () => {
    expect(checked.length).toBeGreaterThan(composed.length / 2);
    for (const [key, { code }] of checked) validateWgsl(code, key);
  });
});
