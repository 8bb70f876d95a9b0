// SyncBatchNorm across worker threads (webgpu-batchnorm/node's group), each worker with its own Dawn
// device (here over lavapipe, which stores f16 natively): shards of unequal sizes with 0 and 1 sample
// among them, two training steps and an eval forward; every shard's y and dx, the running statistics
// every replica holds, and the replicas' dweight and dbias added, against the float64 forward and backward
// on the concatenated batch. The workers (test/dawn/sync-worker.ts, test/dawn/shutdown-worker.ts) are
// bundled with Vite first: a worker thread runs plain JavaScript.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestDawnGpu } from '../../scripts/dawn.js';
import { roundToHalf } from '../../src/runtime/half.js';
import { type Gpu } from '../../src/index.js';
import { createWorkerGroup } from '../../src/node.js';
import { batchNormBackwardReference, batchNormReference } from '../../src/reference.js';
import { channelLayout } from '../../src/runtime/shape.js';
import { gaussian, seededRandom, uniform } from '../support/random.js';
import { addReplicas, compareGatheredBackward, compareGatheredForward, concatenate, globalStatistics, shardBatch, tally, type Worst } from '../support/sync.js';
import { compareY } from '../support/tolerances.js';
import type { ReplicaFailure, ReplicaResult, ReplicaTask } from './sync-worker.js';

const root = join(import.meta.dirname, '..', '..');
const bundles = join(root, 'node_modules', '.cache', 'webgpu-batchnorm-tests');
const bundle = join(bundles, 'sync-worker.js');
let gpu: Gpu;
const worst: Worst = {};

beforeAll(async () => {
  // Beside node_modules, so that the bundle's import of 'webgpu' (Dawn's native addon) resolves.
  await build({
    configFile: false,
    logLevel: 'warn',
    build: {
      ssr: true,
      outDir: bundles,
      emptyOutDir: true,
      target: 'node20',
      rollupOptions: {
        input: { 'sync-worker': join(import.meta.dirname, 'sync-worker.ts'), 'shutdown-worker': join(import.meta.dirname, 'shutdown-worker.ts') },
        external: ['webgpu'],
        output: { entryFileNames: '[name].js', format: 'es' },
      },
    },
    ssr: { noExternal: true, external: ['webgpu'] },
  });
  gpu = await requestDawnGpu(); // recomputes the global statistics the workers normalized with
});

afterAll(() => {
  if (Object.keys(worst).length > 0) console.log(`SyncBatchNorm over worker threads on Dawn, worst |error| / tolerance against the concatenated batch: ${JSON.stringify(worst)}`);
  gpu?.destroy();
});

/** Starts one worker per endpoint and resolves with what each posts. */
function runReplicas(tasks: readonly ReplicaTask[]): Promise<ReplicaResult[]> {
  return Promise.all(tasks.map((task) => new Promise<ReplicaResult>((resolve, reject) => {
    const worker = new Worker(bundle, { workerData: task, transferList: [...task.endpoint.ports] });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`replica ${task.endpoint.rank}'s worker exited with code ${code} before posting its results`)));
  })));
}

const CONFIGS = [
  { name: 'NCHW, 3 workers', rest: [3, 4, 4], axis: 1, sizes: [3, 0, 1], dtype: 'f32', momentum: 0.1, activation: null },
  { name: 'channels-last, f16 (native), ReLU, 2 workers', rest: [5, 4], axis: -1, sizes: [1, 2], dtype: 'f16', momentum: null, activation: 'relu' },
] as const;

describe('SyncBatchNorm across worker threads, each with its own Dawn device', () => {
  it.each(CONFIGS)('$name: shards $sizes, two training steps and eval, against the concatenated batch', async (config) => {
    const { rest, axis, sizes, dtype, momentum, activation } = config;
    const N = sizes.reduce((a: number, b) => a + b, 0);
    const shape = [N, ...rest];
    const { channels: C } = channelLayout(shape, axis);
    const rnd = seededRandom(3 * N + C);
    const rounded = (v: Float32Array) => (dtype === 'f16' ? roundToHalf(v) : v);
    const size = N * rest.reduce((a, b) => a * b, 1);
    const weight = uniform(rnd, C, 0.5, 2);
    const bias = uniform(rnd, C, -0.5, 0.5);
    const eps = 1e-5;
    const steps = [1, 2].map((step) => ({ x: rounded(gaussian(rnd, size, step, 2)), dy: rounded(gaussian(rnd, size, 0.1, 1)) }));
    const evaluation = rounded(gaussian(rnd, size, 0, 2));
    const endpoints = createWorkerGroup(sizes.length);
    const results = await runReplicas(endpoints.map((endpoint, r) => ({
      endpoint,
      channels: C,
      axis,
      dtype,
      momentum,
      eps,
      activation,
      weights: [weight, bias, new Float32Array(C), new Float32Array(C).fill(1)],
      steps: steps.map((s) => {
        const [xs, dys] = [shardBatch(s.x, rest, sizes)[r]!, shardBatch(s.dy, rest, sizes)[r]!];
        return { x: xs.values.slice(), dy: dys.values.slice(), shape: xs.shape };
      }),
      evaluation: { x: shardBatch(evaluation, rest, sizes)[r]!.values.slice(), shape: [sizes[r]!, ...rest] },
    })));
    expect(results[0]!.adapter).toMatch(/llvmpipe/); // lavapipe, the dawn project's adapter

    let runningMean: Float32Array | Float64Array = new Float32Array(C);
    let runningVar: Float32Array | Float64Array = new Float32Array(C).fill(1);
    for (const [i, { x, dy }] of steps.entries()) {
      const step = i + 1;
      const xs = shardBatch(x, rest, sizes);
      const per = results.map((r) => r.steps[i]!);
      for (const p of per) {
        expect(p.runningMean).toEqual(per[0]!.runningMean); // every replica holds the same running statistics
        expect(p.runningVar).toEqual(per[0]!.runningVar);
        expect(p.numBatchesTracked).toBe(step);
      }
      const ref = batchNormReference(x, shape, { training: true, axis, weight, bias, eps, activation, runningMean, runningVar, momentum, numBatchesTracked: step });
      const ys = concatenate(per.map((p) => p.y));
      const forward = compareGatheredForward(`${config.name} step ${step}`, xs, { axis, weight, bias, eps, factor: momentum ?? 1 / step, unbiased: true }, ref, {
        y: ys, runningMean: per[0]!.runningMean, runningVar: per[0]!.runningVar,
      }, dtype);
      for (const [what, ratio] of Object.entries(forward)) tally(worst, `${dtype} forward ${what}`, ratio);
      [runningMean, runningVar] = [ref.runningMean!, ref.runningVar!];

      const stats = await globalStatistics(gpu, xs, axis, eps);
      const reluOutput = activation ? ys : null;
      const backwardRef = batchNormBackwardReference(dy, x, shape, { training: true, axis, weight, reluOutput, saveMean: stats.mean, saveInvstd: stats.invstd });
      const backward = compareGatheredBackward(`${config.name} step ${step}`, { dy, x, shape, axis, weight, reluOutput, dtype }, backwardRef, {
        dx: concatenate(per.map((p) => p.dx)),
        dweight: addReplicas(per.map((p) => p.dweight), C),
        dbias: addReplicas(per.map((p) => p.dbias), C),
      });
      for (const [what, ratio] of Object.entries(backward)) tally(worst, `${dtype} backward ${what}`, ratio);
    }
    const evalRef = batchNormReference(evaluation, shape, { training: false, axis, weight, bias, eps, activation, runningMean, runningVar });
    const ratio = compareY(`${config.name} eval`, concatenate(results.map((r) => r.evaluation)), evaluation, shape, evalRef, weight, bias, axis, dtype).worstRatio;
    tally(worst, `${dtype} eval y`, ratio);
  });
});

describe('a worker that leaves mid-run', () => {
  it('closes its group, awaits gpu.destroy() and ends: its peers reject cleanly and every worker exits with code 0', async () => {
    const C = 3;
    const rest = [C, 4];
    const sizes = [2, 2, 2];
    const rnd = seededRandom(11);
    const x = gaussian(rnd, 6 * 12, 1, 2);
    const endpoints = createWorkerGroup(3, { timeoutMs: 60_000 });
    const outcomes = await Promise.all(endpoints.map((endpoint, r) => new Promise<{ posted: ReplicaFailure | ReplicaResult; code: number }>((resolve, reject) => {
      const shard = shardBatch(x, rest, sizes)[r]!;
      const task: ReplicaTask = {
        endpoint, channels: C, axis: 1, dtype: 'f32', momentum: 0.1, eps: 1e-5, activation: null,
        weights: [new Float32Array(C).fill(1), new Float32Array(C), new Float32Array(C), new Float32Array(C).fill(1)],
        steps: [{ x: shard.values.slice(), dy: shard.values.slice(), shape: shard.shape }],
        evaluation: { x: shard.values.slice(), shape: shard.shape },
        leave: r === 2,
      };
      const worker = new Worker(bundle, { workerData: task, transferList: [...endpoint.ports] });
      let posted: ReplicaFailure | ReplicaResult | undefined;
      worker.once('message', (message) => (posted = message));
      worker.once('error', reject);
      worker.once('exit', (code) => (posted ? resolve({ posted, code }) : reject(new Error(`replica ${r}'s worker exited with code ${code} before posting`))));
    })));
    expect(outcomes.map((o) => o.code)).toEqual([0, 0, 0]);
    expect((outcomes[2]!.posted as ReplicaFailure).failed).toBe('left');
    // Each learns it from its own port to rank 2, or from the other, which tells its peers when it finds
    // rank 2 gone before its part was sent.
    for (const r of [0, 1]) {
      expect((outcomes[r]!.posted as ReplicaFailure).failed).toMatch(/worker group: the port from rank [01] to rank 2 closed \(that worker closed its group or ended\)/);
    }
  });
});

describe('a worker that ends right after awaiting gpu.destroy()', () => {
  // In a child process: where Dawn aborts, it takes the whole process with it.
  it('ends cleanly with calls it never awaited, and the process goes on', () => {
    const main = `import { Worker } from 'node:worker_threads';
      new Worker(${JSON.stringify(join(bundles, 'shutdown-worker.js'))}, { execArgv: [] }).on('exit', (code) => console.log('worker exited with code', code));`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', main], { encoding: 'utf8', timeout: 60_000 });
    expect(child.stderr).not.toMatch('popErrorScope');
    expect(child.signal).toBe(null);
    expect(child.status).toBe(0);
    expect(child.stdout).toMatch('worker exited with code 0');
  });
});
