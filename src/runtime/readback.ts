// The one readback path: copy a buffer region into a staging buffer, map it, copy out, and always
// destroy the staging buffer. The copy runs in a validation scope, so a buffer destroyed behind the
// library's back rejects instead of reading back as zeros; a lost device rejects instead of hanging.
import type { Gpu } from './gpu.js';
import { BufferUsage, MapMode } from './webgpu-constants.js';

export async function readBuffer(gpu: Gpu, source: GPUBuffer, byteOffset: number, byteLength: number, what: string): Promise<ArrayBuffer> {
  gpu.assertAlive();
  const size = Math.ceil(byteLength / 4) * 4;
  const staging = gpu.createBuffer({ label: `readback staging (${source.label})`, size, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
  try {
    gpu.device.pushErrorScope('validation');
    const encoder = gpu.device.createCommandEncoder({ label: 'readback' });
    encoder.copyBufferToBuffer(source, byteOffset, staging, 0, size);
    gpu.device.queue.submit([encoder.finish()]);
    const copyError = gpu.device.popErrorScope();
    try {
      await gpu.untilLost(staging.mapAsync(MapMode.READ));
    } catch (error) {
      // A device destroyed mid-map fails mapAsync ("unmapped before mapping was resolved") just before
      // device.lost resolves: report the loss, which is the cause. An invalid copy fails the map too.
      const loss = await gpu.lossWithin(LOSS_REPORT_MS);
      if (loss) throw loss;
      const invalid = await copyError.catch(() => null);
      throw invalid ? new Error(`reading ${what} failed on the GPU: ${invalid.message}`) : error;
    }
    const invalid = await copyError;
    if (invalid) throw new Error(`reading ${what} failed on the GPU: ${invalid.message}`);
    return staging.getMappedRange(0, size).slice(0, byteLength);
  } finally {
    gpu.destroyBuffer(staging);
  }
}

const LOSS_REPORT_MS = 1000;
