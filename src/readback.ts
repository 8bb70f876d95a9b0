// The one readback path: copy into a staging buffer, map it, copy out, and always destroy the staging
// buffer. A lost device rejects the promise instead of leaving it pending forever.
import { BufferUsage, type Gpu } from './gpu.js';

export async function readBuffer(gpu: Gpu, source: GPUBuffer, byteLength: number): Promise<ArrayBuffer> {
  gpu.assertAlive();
  const size = Math.ceil(byteLength / 4) * 4;
  const staging = gpu.createBuffer({
    label: `readback staging (${source.label})`,
    size,
    usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST,
  });
  try {
    const encoder = gpu.device.createCommandEncoder({ label: 'readback' });
    encoder.copyBufferToBuffer(source, 0, staging, 0, size);
    gpu.device.queue.submit([encoder.finish()]);
    try {
      await gpu.untilLost(staging.mapAsync(GPUMapModeRead));
    } catch (error) {
      // A device destroyed mid-map fails mapAsync ("unmapped before mapping was resolved") just before
      // device.lost resolves: report the loss, which is the cause.
      throw (await gpu.lossWithin(LOSS_REPORT_MS)) ?? error;
    }
    return staging.getMappedRange(0, size).slice(0, byteLength);
  } finally {
    gpu.destroyBuffer(staging);
  }
}

const LOSS_REPORT_MS = 1000;

// GPUMapMode.READ, fixed by the spec (see BufferUsage in gpu.ts for why it is spelled out).
const GPUMapModeRead = 0x0001;
