// Chunking: a tensor larger than one storage binding (maxStorageBufferBindingSize, or a smaller
// maxBindingBytes asked for) is processed as windows bound at buffer offsets: windows of whole samples
// where every sample fits one binding, and otherwise windows of any aligned range of values, which may
// start and end inside a sample (every pass works element by element, and each element's channel
// follows from its index: src/engine/dispatch.ts, shaders/params.wgsl).
import type { ChannelLayout } from '../runtime/shape.js';

/** One window of x (and of every tensor of x's shape) that a kernel binds. */
export interface Chunk {
  /** Index of the window's first value in x (in its sample: start % (C*spatial)), and its number of values. */
  readonly start: number;
  readonly count: number;
  /** Byte offset of the binding (a multiple of the offset alignment) and its size in bytes. */
  readonly bindOffset: number;
  readonly bindSize: number;
  /** Bytes from the binding's start to the window's first value (less than the alignment). */
  readonly baseBytes: number;
}

/** Bindings come in multiples of 4 bytes (an f16 window may end mid-word; tensors are padded to 4). */
const bindingSize = (bytes: number) => Math.ceil(bytes / 4) * 4;

/** The window of values [start, start + count), bound from the aligned offset at or below its start. */
function chunkOf(start: number, count: number, offsetAlignment: number, bytesPerValue: number): Chunk {
  const startBytes = start * bytesPerValue;
  const bindOffset = Math.floor(startBytes / offsetAlignment) * offsetAlignment;
  const baseBytes = startBytes - bindOffset;
  return { start, count, bindOffset, bindSize: bindingSize(baseBytes + count * bytesPerValue), baseBytes };
}

/**
 * Splits x (`bytesPerValue` bytes a value) into windows that each fit `maxBindingBytes` (a multiple of
 * 4) once their start is rounded down to `offsetAlignment` (minStorageBufferOffsetAlignment). One window
 * when x fits whole; windows of whole samples (outer rows), each as long as fits, where every sample
 * can be bound whole; otherwise windows of as many values as fit, cut anywhere but between the values of
 * one vec4 (runs of a multiple of 4 values are read as vec4s).
 */
export function planChunks(layout: ChannelLayout, maxBindingBytes: number, offsetAlignment: number, bytesPerValue = 4): Chunk[] {
  const sampleValues = layout.channels * layout.spatial;
  const totalValues = layout.batch * sampleValues;
  if (totalValues * bytesPerValue <= maxBindingBytes) return [chunkOf(0, totalValues, offsetAlignment, bytesPerValue)];
  const chunks: Chunk[] = [];
  for (let batchStart = 0; batchStart < layout.batch; ) {
    const start = batchStart * sampleValues;
    const baseBytes = (start * bytesPerValue) % offsetAlignment;
    const fitting = Math.floor((maxBindingBytes - baseBytes) / (sampleValues * bytesPerValue));
    // Taking as many samples as fit never strands a later window that a shorter one would have saved:
    // a sample that no aligned binding holds whole (it is larger than a binding, or straddles an
    // alignment boundary too late) cannot be bound by any plan of whole samples (test/unit/chunking.test.ts
    // checks this against an exhaustive search), and then the windows cut samples.
    if (fitting < 1) return valueChunks(totalValues, layout.spatial % 4 === 0 ? 4 : 1, maxBindingBytes, offsetAlignment, bytesPerValue);
    const batchCount = Math.min(fitting, layout.batch - batchStart);
    chunks.push(chunkOf(start, batchCount * sampleValues, offsetAlignment, bytesPerValue));
    batchStart += batchCount;
  }
  return chunks;
}

/**
 * Windows of `totalValues` values cut at multiples of `unit` values, each ending where its binding
 * reaches `maxBindingBytes`. A window starts less than the alignment past its binding's offset, and the
 * alignment (at most 256 in WebGPU) is a multiple of a unit's bytes, so every window holds at least a unit.
 */
function valueChunks(totalValues: number, unit: number, maxBindingBytes: number, offsetAlignment: number, bytesPerValue: number): Chunk[] {
  const chunks: Chunk[] = [];
  for (let start = 0; start < totalValues; ) {
    const bindOffset = Math.floor((start * bytesPerValue) / offsetAlignment) * offsetAlignment;
    const end = Math.min(totalValues, Math.floor((bindOffset + maxBindingBytes) / (unit * bytesPerValue)) * unit);
    chunks.push(chunkOf(start, end - start, offsetAlignment, bytesPerValue));
    start = end;
  }
  return chunks;
}
