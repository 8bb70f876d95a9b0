// One replica of test/dawn/sync-workers.test.ts, run in a worker thread (bundled by the test with Vite):
// its own Dawn device, a SyncBatchNorm over the worker group, training steps (forward, backward) on its
// shards, then an eval forward; everything read back is posted to the main thread.
import { parentPort, workerData } from 'node:worker_threads';
import { requestDawnGpu } from '../../src/dawn.js';
import { SyncBatchNorm, Tensor } from '../../src/index.js';
import { joinWorkerGroup, type WorkerGroupEndpoint } from '../../src/node.js';

/** What the main thread sends each worker. */
export interface ReplicaTask {
  readonly endpoint: WorkerGroupEndpoint;
  readonly channels: number;
  readonly axis: number;
  readonly dtype: 'f32' | 'f16';
  readonly momentum: number | null;
  readonly eps: number;
  readonly activation: 'relu' | null;
  /** weight, bias, running mean and running variance to start from (Keras's order). */
  readonly weights: Float32Array[];
  readonly steps: readonly { readonly x: Float32Array; readonly dy: Float32Array; readonly shape: readonly number[] }[];
  readonly evaluation: { readonly x: Float32Array; readonly shape: readonly number[] };
  /** This replica leaves after the first training forward: it closes its group, awaits gpu.destroy() and ends. */
  readonly leave?: boolean;
}

/** What a replica posts when a call rejected (or when it left, as `leave` asks). */
export interface ReplicaFailure {
  readonly failed: string;
}

/** What each worker sends back. */
export interface ReplicaResult {
  readonly adapter: string;
  readonly steps: { y: Float32Array; dx: Float32Array; dweight: Float32Array; dbias: Float32Array; runningMean: Float32Array; runningVar: Float32Array; numBatchesTracked: number }[];
  readonly evaluation: Float32Array;
}

const task = workerData as ReplicaTask;
const group = joinWorkerGroup(task.endpoint);
const gpu = await requestDawnGpu();
const bn = new SyncBatchNorm(gpu, task.channels, { group, axis: task.axis, momentum: task.momentum, eps: task.eps, activation: task.activation });
bn.setWeights(task.weights);
/** The training steps and the eval forward; a failure (or leaving, as `leave` asks) ends them early. */
async function run(): Promise<ReplicaResult | ReplicaFailure> {
  const steps: ReplicaResult['steps'] = [];
  for (const step of task.steps) {
    const x = Tensor.fromArray(gpu, step.x, step.shape, { dtype: task.dtype });
    const dy = Tensor.fromArray(gpu, step.dy, step.shape, { dtype: task.dtype });
    let y: Tensor;
    let grads: Awaited<ReturnType<typeof bn.backward>>;
    try {
      y = await bn.forward(x);
      if (task.leave) return { failed: 'left' }; // mid-run, with the forward's error scopes still open
      grads = await bn.backward(dy);
    } catch (error) {
      return { failed: String(error) };
    }
    const { dx, dweight, dbias } = grads;
    steps.push({
      y: await y.toArray(),
      dx: await dx.toArray(),
      dweight: await dweight!.toArray(),
      dbias: await dbias!.toArray(),
      runningMean: await bn.runningMean!.toArray(),
      runningVar: await bn.runningVar!.toArray(),
      numBatchesTracked: bn.numBatchesTracked,
    });
    for (const t of [x, dy, y, dx, dweight, dbias]) t?.destroy();
  }
  const x = Tensor.fromArray(gpu, task.evaluation.x, task.evaluation.shape, { dtype: task.dtype });
  const y = await bn.eval().forward(x);
  return { adapter: gpu.device.adapterInfo?.description ?? '', steps, evaluation: await y.toArray() };
}

const result = await run();
// The shutdown docs/sync-batch-norm.md gives: close the group, await gpu.destroy(), then end the thread.
group.close();
bn.destroy();
await gpu.destroy();
parentPort!.postMessage(result);
