// The host side of shaders/params.wgsl: one Params record per dispatch window, each in its own
// 256-byte slot of a uniform buffer (minUniformBufferOffsetAlignment) so that every window's dispatches
// read their own values.
//
// A call's parameters must stay as they are until its work runs, which, when the call was recorded into
// a caller's encoder, is whenever the caller submits. So parameter buffers are never rewritten: each
// distinct content gets its own buffer, written once at creation and cached by content. A training loop
// repeats the same few contents, so a steady state creates none and writes none.
import type { PassPlan } from './dispatch.js';
import type { Gpu } from '../runtime/gpu.js';
import type { ChannelLayout } from '../runtime/shape.js';
import { LruMap } from '../runtime/lru.js';
import { BufferUsage } from '../runtime/webgpu-constants.js';

export interface KernelParams {
  offset: number;
  channels: number;
  spatial: number;
  slices: number;
  sliceLen: number;
  reduceGridX: number;
  applyGridX: number;
  finalizeGridX: number;
  total: number;
  flags: number;
  eps: number;
  momentum: number;
  base: number;
  partialStride: number;
  partialFirst: number;
  maskFirst: number;
}

/** Size of struct Params in WGSL. */
export const PARAMS_BYTES = 68;
/** Distance between Params records in the uniform buffer (WebGPU's default uniform offset alignment). */
export const PARAMS_SLOT_BYTES = 256;

/** The bits of Params.flags; the kernels get them as WGSL constants FLAG_<name> (src/engine/kernels.ts). */
export const FLAGS = {
  TRAINING: 1,
  HAS_WEIGHT: 2,
  HAS_BIAS: 4,
  UPDATE_RUNNING: 8,
  /** A ReLU fused after the affine transform (forward: applied; backward: dy masked where y <= 0). */
  RELU: 16,
  /** Blend the biased batch variance into runningVar (Keras 3) instead of the unbiased one (PyTorch). */
  BIASED_RUNNING_VAR: 32,
} as const;

/** The Params of each window of `plan`; `shared` holds what every window has in common. */
export function windowParams(
  plan: PassPlan,
  layout: ChannelLayout,
  shared: { flags: number; eps: number; momentum: number },
): KernelParams[] {
  return plan.windows.map((w) => ({
    offset: w.offset,
    channels: layout.channels,
    spatial: plan.spatialElems,
    slices: w.slices,
    sliceLen: w.sliceLen,
    reduceGridX: w.reduceGrid.x,
    applyGridX: w.applyGrid.x,
    finalizeGridX: plan.finalizeGrid.x,
    total: w.total,
    base: w.base,
    partialStride: plan.partialStride,
    partialFirst: w.partialFirst,
    maskFirst: w.maskFirst,
    ...shared,
  }));
}

/** Packs `records` into slots, in the field order of struct Params. */
export function packParams(records: readonly KernelParams[]): ArrayBuffer {
  const data = new ArrayBuffer(records.length * PARAMS_SLOT_BYTES);
  records.forEach((p, slot) => {
    const offset = slot * PARAMS_SLOT_BYTES;
    new Uint32Array(data, offset, 10).set([
      p.offset, p.channels, p.spatial, p.slices, p.sliceLen, p.reduceGridX, p.applyGridX, p.finalizeGridX, p.total, p.flags,
    ]);
    new Float32Array(data, offset + 40, 2).set([p.eps, p.momentum]);
    new Uint32Array(data, offset + 48, 3).set([p.base, p.partialStride, p.partialFirst]);
    new Uint32Array(data, offset + 64, 1).set([p.maskFirst]); // after `zero` (offset 60), which stays 0
  });
  return data;
}

/** The binding of slot `slot` of a params buffer. */
export function paramsSlot(buffer: GPUBuffer, slot: number): GPUBufferBinding {
  return { buffer, offset: slot * PARAMS_SLOT_BYTES, size: PARAMS_BYTES };
}

/** Distinct parameter contents kept per device; the least recently used beyond it is dropped. */
export const PARAMS_CACHE_ENTRIES = 64;

const caches = new WeakMap<Gpu, LruMap<string, GPUBuffer>>();

/**
 * The uniform buffer holding the Params of `plan` (whose windows `planKey` identifies) with `shared`,
 * created on first use of that content. A dropped entry is released, not destroyed: a caller's
 * unsubmitted encoder may still refer to it, and the garbage collector frees it once nothing does.
 */
export function paramsBuffer(
  gpu: Gpu,
  planKey: string,
  plan: PassPlan,
  layout: ChannelLayout,
  shared: { flags: number; eps: number; momentum: number },
): GPUBuffer {
  let cache = caches.get(gpu);
  if (!cache) {
    const created = new LruMap<string, GPUBuffer>(PARAMS_CACHE_ENTRIES, (buffer) => gpu.releaseBuffer(buffer));
    gpu.onDestroy(() => {
      for (const buffer of created.values()) gpu.destroyBuffer(buffer);
      created.clear();
      caches.delete(gpu);
    });
    caches.set(gpu, (cache = created));
  }
  // eps and momentum as the float32 values the kernels get: contents that pack alike share a buffer.
  const key = `${planKey}|${shared.flags}|${Math.fround(shared.eps)}|${Math.fround(shared.momentum)}`;
  return cache.getOrCreate(key, () => {
    const params = packParams(windowParams(plan, layout, shared));
    const buffer = gpu.createBuffer({ label: 'batchnorm params', size: params.byteLength, usage: BufferUsage.UNIFORM, mappedAtCreation: true });
    new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(params));
    buffer.unmap();
    return buffer;
  });
}
