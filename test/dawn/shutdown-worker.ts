// A worker that records batch-norm calls without awaiting them, so that the error scopes the library
// opened around them are still pending, then shuts down as docs/sync-batch-norm.md says: await
// gpu.destroy(), then end the thread. Dawn aborts the whole process when a thread ends with a scope still
// pending (GPUDevice.cpp: "Promise not resolved or rejected: popErrorScope()"); test/dawn/sync-workers.test.ts
// runs it in a child process and checks that the process survives.
import { requestDawnGpu } from '../../src/dawn.js';
import { batchNorm, Tensor } from '../../src/index.js';

const gpu = await requestDawnGpu();
const x = Tensor.fromArray(gpu, Float32Array.from({ length: 16 * 256 }, (_, i) => Math.sin(i)), [16, 256]);
for (let i = 0; i < 20; i++) batchNorm(gpu, x, { training: true });
await gpu.destroy();
process.exit(0);
