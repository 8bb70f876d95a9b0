// The host side of shaders/params.wgsl: one Params record per dispatch window, each in its own
// 256-byte slot of a uniform buffer (minUniformBufferOffsetAlignment) so that every window's dispatches
// read their own values within one submit.
import type { PassPlan } from './dispatch.js';
import type { ChannelLayout } from './shape.js';


export interface KernelParams {
  batch: number;
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
}

/** Size of struct Params in WGSL. */
export const PARAMS_BYTES = 64;
/** Distance between Params records in the uniform buffer (WebGPU's default uniform offset alignment). */
export const PARAMS_SLOT_BYTES = 256;

export const FLAG_TRAINING = 1;
export const FLAG_HAS_WEIGHT = 2;
export const FLAG_HAS_BIAS = 4;
export const FLAG_UPDATE_RUNNING = 8;

/** The Params of each window of `plan`; `shared` holds what every window has in common. */
export function windowParams(
  plan: PassPlan,
  layout: ChannelLayout,
  shared: { flags: number; eps: number; momentum: number },
): KernelParams[] {
  return plan.windows.map((w) => ({
    batch: w.chunk.batchCount,
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
    ...shared,
  }));
}

/** Packs `records` into slots, in the field order of struct Params. */
export function packParams(records: readonly KernelParams[]): ArrayBuffer {
  const data = new ArrayBuffer(records.length * PARAMS_SLOT_BYTES);
  records.forEach((p, slot) => {
    const offset = slot * PARAMS_SLOT_BYTES;
    new Uint32Array(data, offset, 10).set([
      p.batch, p.channels, p.spatial, p.slices, p.sliceLen, p.reduceGridX, p.applyGridX, p.finalizeGridX, p.total, p.flags,
    ]);
    new Float32Array(data, offset + 40, 2).set([p.eps, p.momentum]);
    new Uint32Array(data, offset + 48, 3).set([p.base, p.partialStride, p.partialFirst]);
  });
  return data;
}

/** The binding of slot `slot` of a params buffer. */
export function paramsSlot(buffer: GPUBuffer, slot: number): GPUBufferBinding {
  return { buffer, offset: slot * PARAMS_SLOT_BYTES, size: PARAMS_BYTES };
}
