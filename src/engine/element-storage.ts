// How tensors of x's shape (x, y, dy, dx) are stored, and how kernels read and write them. The math is
// always float32 (Elem is f32 or vec4<f32>); statistics, weight, bias and their gradients stay f32, as
// PyTorch's mixed precision keeps them. Storage is f32, or f16: natively where the device has
// 'shader-f16', and otherwise as pairs of halves packed into u32 words (unpack2x16float /
// pack2x16float), so that f16 tensors work on every adapter.
import type { GpuFeatures } from '../runtime/gpu.js';
import type { DType } from '../runtime/tensor.js';

export type Storage = 'f32' | 'f16' | 'f16-packed';

/** The storage kernels use for `dtype` on a device with `features`. */
export function storageFor(dtype: DType, features: Pick<GpuFeatures, 'shaderF16'>): Storage {
  if (dtype === 'f32') return 'f32';
  return features.shaderF16 ? 'f16' : 'f16-packed';
}

export const BYTES_PER_VALUE: Record<Storage, number> = { f32: 4, f16: 2, 'f16-packed': 2 };

/**
 * WGSL turning a float32 into binary16 bits, with IEEE overflow: pack2x16float leaves values outside the
 * half range (and NaN) indeterminate, while PyTorch's .half() gives +-Inf (and NaN). Composed into every
 * f16 kernel (src/engine/kernels.ts).
 */
export const HALF_BITS_WGSL = `fn halfBits(v: f32) -> u32 {
  if (!(abs(v) < 65520.0)) { // rounds to Inf, or NaN
    return select(select(0x7c00u, 0xfc00u, v < 0.0), 0x7e00u, !(abs(v) >= 65520.0));
  }
  return pack2x16float(vec2<f32>(v, 0.0)) & 0xffffu;
}
fn halfPair(a: f32, b: f32) -> u32 { return halfBits(a) | (halfBits(b) << 16u); }`;

/**
 * WGSL `fn storesPositive(v: Elem)`: whether y's storage holds a value > 0 for v (per lane), what the fused
 * ReLU's backward masks dy on (relu-mask.wgsl), as PyTorch's threshold_backward reads the stored output.
 * An f16 store turns (0, 2^-25] into 0, and that 0 must block dy as it does there; the test is on the
 * half's bits that halfBits stores (positive, not 0, not NaN: 1 ..= 0x7c00, +Inf included), so it holds
 * whatever rounding pack2x16float does. NaN does not pass, as NaN > 0 does not in f32.
 */
export function storesPositiveWgsl(storage: Storage, vec4: boolean): string {
  if (storage === 'f32') return vec4 ? 'fn storesPositive(v: Elem) -> vec4<bool> { return v > Elem(0.0); }' : 'fn storesPositive(v: Elem) -> bool { return v > 0.0; }';
  return vec4
    ? 'fn storesPositive(v: Elem) -> vec4<bool> { return vec4<u32>(halfBits(v.x), halfBits(v.y), halfBits(v.z), halfBits(v.w)) - vec4<u32>(1u) < vec4<u32>(0x7c00u); }'
    : 'fn storesPositive(v: Elem) -> bool { return halfBits(v) - 1u < 0x7c00u; }';
}

/** What composing a kernel needs to know of one windowed binding. */
export interface WindowedBinding {
  readonly name: string;
  readonly writable: boolean;
  readonly storage: Storage;
  readonly vec4: boolean;
}

/** The WGSL type of a windowed binding's array. */
export function windowedArrayType({ writable, storage, vec4 }: WindowedBinding): string {
  switch (storage) {
    case 'f32':
      return 'array<Elem>';
    case 'f16':
      return vec4 ? 'array<vec4<f16>>' : 'array<f16>';
    case 'f16-packed':
      // A scalar element is half a word: writers update their 16 bits atomically (see windowedAccessor).
      return vec4 ? 'array<vec2<u32>>' : writable ? 'array<atomic<u32>>' : 'array<u32>';
  }
}

/** The accessor of a windowed binding: `fn loadX(i: u32) -> Elem` or `fn storeY(i: u32, v: Elem)`, by Elem index. */
export function windowedAccessor(binding: WindowedBinding): string {
  const { name, writable, storage, vec4 } = binding;
  const fn = `${writable ? 'store' : 'load'}${name[0]!.toUpperCase()}${name.slice(1)}`;
  if (!writable) {
    const value = {
      f32: `${name}[i]`,
      f16: vec4 ? `vec4<f32>(${name}[i])` : `f32(${name}[i])`,
      'f16-packed': vec4
        ? `vec4<f32>(unpack2x16float(${name}[i].x), unpack2x16float(${name}[i].y))`
        : `unpack2x16float(${name}[i >> 1u])[i & 1u]`,
    }[storage];
    return `fn ${fn}(i: u32) -> Elem { return ${value}; }`;
  }
  if (storage === 'f16-packed' && !vec4) {
    // Two invocations may own the two halves of one word: each clears and then sets only its 16 bits,
    // so neither can undo the other's store, in whatever order they run.
    return [
      `fn ${fn}(i: u32, v: Elem) {`,
      '  let shift = (i & 1u) * 16u;',
      `  atomicAnd(&${name}[i >> 1u], ~(0xffffu << shift));`,
      `  atomicOr(&${name}[i >> 1u], halfBits(v) << shift);`,
      '}',
    ].join('\n');
  }
  const value = {
    f32: 'v',
    f16: vec4 ? 'bitcast<vec4<f16>>(vec2<u32>(halfPair(v.x, v.y), halfPair(v.z, v.w)))' : 'bitcast<vec2<f16>>(halfBits(v)).x',
    'f16-packed': 'vec2<u32>(halfPair(v.x, v.y), halfPair(v.z, v.w))',
  }[storage];
  return `fn ${fn}(i: u32, v: Elem) { ${name}[i] = ${value}; }`;
}
