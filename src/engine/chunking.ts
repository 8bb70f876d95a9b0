// Chunking: a tensor larger than one storage binding (maxStorageBufferBindingSize, or a smaller
// maxBindingBytes asked for) is processed as windows of whole samples bound at buffer offsets.
import type { ChannelLayout } from '../runtime/shape.js';

/** One window of x (and of every tensor of x's shape) that a kernel binds. */
export interface Chunk {
  /** First sample (n) and number of samples in this window. */
  readonly batchStart: number;
  readonly batchCount: number;
  /** Byte offset of the binding (a multiple of the offset alignment) and its size in bytes. */
  readonly bindOffset: number;
  readonly bindSize: number;
  /** Bytes from the binding's start to the window's first value (less than the alignment). */
  readonly baseBytes: number;
}

/** Bindings come in multiples of 4 bytes (an f16 window may end mid-word; tensors are padded to 4). */
const bindingSize = (bytes: number) => Math.ceil(bytes / 4) * 4;

/**
 * Splits x (`bytesPerValue` bytes a value) into windows of whole samples (outer rows), each as long as
 * fits `maxBindingBytes` (a multiple of 4) once its start is rounded down to `offsetAlignment`
 * (minStorageBufferOffsetAlignment). One window when x fits whole.
 */
export function planChunks(layout: ChannelLayout, maxBindingBytes: number, offsetAlignment: number, bytesPerValue = 4): Chunk[] {
  const sampleBytes = layout.channels * layout.spatial * bytesPerValue;
  const totalBytes = layout.batch * sampleBytes;
  if (totalBytes <= maxBindingBytes) {
    return [{ batchStart: 0, batchCount: layout.batch, bindOffset: 0, bindSize: bindingSize(totalBytes), baseBytes: 0 }];
  }
  const chunks: Chunk[] = [];
  for (let batchStart = 0; batchStart < layout.batch; ) {
    const start = batchStart * sampleBytes;
    const bindOffset = Math.floor(start / offsetAlignment) * offsetAlignment;
    const baseBytes = start - bindOffset; // the window starts this far past its aligned binding offset
    const fitting = Math.floor((maxBindingBytes - baseBytes) / sampleBytes);
    // Taking as many samples as fit never strands a later window that a shorter one would have saved:
    // a sample that no aligned binding holds whole (it straddles an alignment boundary too late) cannot be
    // bound by any plan (test/unit/chunking.test.ts checks this against an exhaustive search).
    if (fitting < 1) {
      throw new RangeError(
        `one sample of x (C*spatial = ${layout.channels}*${layout.spatial} values, ${sampleBytes} bytes) does not fit ` +
          `in one storage binding of ${maxBindingBytes} bytes` +
          (baseBytes > 0
            ? ` when it starts ${baseBytes} bytes past a ${offsetAlignment}-byte aligned offset (sample ${batchStart}, ` +
              `bytes ${start} to ${start + sampleBytes}: no binding that starts at an aligned offset holds it whole)`
            : '') +
          '; batch norm chunks x by whole samples',
      );
    }
    const batchCount = Math.min(fitting, layout.batch - batchStart);
    chunks.push({ batchStart, batchCount, bindOffset, bindSize: bindingSize(baseBytes + batchCount * sampleBytes), baseBytes });
    batchStart += batchCount;
  }
  return chunks;
}
