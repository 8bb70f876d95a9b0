import { it } from 'vitest';
import { create, globals } from 'webgpu';
import { requestGpu, Tensor } from '../../src/index.js';
it('probe', async () => {
  process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';
  Object.assign(globalThis, globals);
  const gpu = await requestGpu({ gpu: create([]) });
  console.log('adapter', (gpu.device as any).adapterInfo?.description);
  const data = new Float32Array(new SharedArrayBuffer(16)); data.set([1,2,3,4]);
  const before = gpu.liveBuffers;
  try { const t = Tensor.fromArray(gpu, data, [4]); console.log(await t.toArray()); } catch (e) { console.log('throws', String(e)); }
  console.log('live', before, gpu.liveBuffers);
  gpu.destroy();
});
