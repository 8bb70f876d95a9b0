// The `webgpu-batchnorm/node` entry: SyncBatchNorm's group of worker threads (src/platforms/worker-group.ts).
/**
 * A process group of Node.js worker threads for SyncBatchNorm (from `webgpu-batchnorm`): the main thread makes the
 * endpoints ({@link createWorkerGroup}) and hands one to each worker, which joins the group
 * ({@link joinWorkerGroup}) and passes it to its SyncBatchNorm:
 * `import { createWorkerGroup, joinWorkerGroup } from 'webgpu-batchnorm/node'`.
 *
 * @module webgpu-batchnorm/node
 */
export { createWorkerGroup, joinWorkerGroup } from './platforms/worker-group.js';
export type { WorkerGroup, WorkerGroupEndpoint } from './platforms/worker-group.js';
export type { SyncGroup, SyncGroupOptions } from './modules/sync-group.js';
