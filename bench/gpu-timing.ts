// How the benchmark times GPU work. A trial records many calls back to back into one command encoder
// (the `encoder` option, as a model's layers would be) and submits it once, as PyTorch's times are many
// launches in one stream between two CUDA events: a separate submit per call would time the queue's round
// trip, not the kernels. Where the device has 'timestamp-query', a call's time is the GPU's own clock:
//  - per call: one span from the start of the first call's compute pass to the end of the last one's (one
//    span per trial, so browsers' 100 us timestamp quantization does not matter), the library's normal path;
//  - per pass: each pass of every call in a compute pass of its own, timestamped at its beginning and end
//    (the runner's internal pass timer, src/engine/runner.ts), the durations summed per kernel over the trial's
//    calls. Browsers' quantization makes each duration 0 or one step, but the sum over many calls keeps
//    its mean; the split adds the gaps between passes, which the per-call span counts and this does not.
// Without timestamp-query it is wall time closed by one queue.onSubmittedWorkDone(), and no per-pass time.
import type { EncoderOptions, Gpu } from '../src/index.js';
import type { KernelName } from '../src/engine/kernels.js';
import { withPassTimer, type PassTimer } from '../src/engine/runner.js';
import { median, type Trial, type TrialResult } from './statistics.js';

/** Records one call (of the library, or of the copy kernel) into the recording's encoder. */
export type GpuCall = (recording: EncoderOptions) => unknown;

/** WebGPU's largest query set (GPUQuerySetDescriptor.count). */
export const MAX_QUERIES = 4096;
const TIMESTAMP_BYTES = 8;

const GPU_TIMING_METHODS = {
  timestamps: 'GPU timestamps (timestamp-query) from the first to the last of many calls recorded into one encoder, one submit per trial',
  wall: 'wall time of many calls recorded into one encoder, one submit and one queue.onSubmittedWorkDone() per trial (no timestamp-query)',
} as const;

/** How this device's GPU times are measured. */
export function gpuTimingMethod(gpu: Gpu): string {
  return gpu.features.timestampQuery ? GPU_TIMING_METHODS.timestamps : GPU_TIMING_METHODS.wall;
}

/** How per-pass times are measured; null without timestamp-query (no per-pass times then). */
export function passTimingMethod(gpu: Gpu): string | null {
  return gpu.features.timestampQuery
    ? 'each pass of every call recorded in a compute pass of its own with GPU timestamps at its beginning and end (the library records ' +
        "a call's passes in one compute pass), durations summed per kernel over a trial's calls; passes are named by their kernels"
    : null;
}

/** The trials of one series: ms per call of `call` recorded `iterations` times into one encoder. */
export function callTrial(gpu: Gpu, span: TimestampSpan | null, call: GpuCall): Trial<TrialResult> {
  return async (iterations) => {
    const start = performance.now();
    const encoder = gpu.device.createCommandEncoder({ label: 'bench trial' });
    for (let i = 0; i < iterations; i++) {
      const timestampWrites = span?.writesFor(i, iterations);
      call({ encoder, ...(timestampWrites ? { timestampWrites } : {}) });
    }
    gpu.device.queue.submit([encoder.finish()]);
    await gpu.untilLost(gpu.device.queue.onSubmittedWorkDone());
    const wallMs = performance.now() - start;
    return { ms: (span ? await span.readMs() : wallMs) / iterations };
  };
}

/** One pass's time per call: its kernel (the record's key in kernels.ts) and ms. */
export interface PassTime {
  readonly kernel: string;
  readonly ms: number;
}

/** A per-pass trial: the passes' times per call, and their sum as the trial's ms. */
export interface PassTrialResult extends TrialResult {
  readonly passes: readonly PassTime[];
}

/**
 * The trials of one series timed pass by pass. A trial records as many calls as the query set holds
 * timestamps for, at most `iterations`; `passesPerCall` (countPasses) says how many that is.
 */
export function passTrial(gpu: Gpu, timestamps: PassTimestamps, call: GpuCall, passesPerCall: number): Trial<PassTrialResult> {
  return async (iterations) => {
    const calls = Math.max(1, Math.min(iterations, Math.floor(MAX_QUERIES / 2 / passesPerCall)));
    const encoder = gpu.device.createCommandEncoder({ label: 'bench pass trial' });
    withPassTimer(timestamps, () => {
      for (let i = 0; i < calls; i++) call({ encoder });
    });
    gpu.device.queue.submit([encoder.finish()]);
    await gpu.untilLost(gpu.device.queue.onSubmittedWorkDone());
    const { kernels, ticks } = await timestamps.read();
    if (kernels.length !== calls * passesPerCall) throw new Error(`${calls} calls recorded ${kernels.length} passes, not ${passesPerCall} each`);
    const passes = perCallPassTimes(kernels, ticks, calls);
    return { ms: passes.reduce((sum, p) => sum + p.ms, 0), passes };
  };
}

/** The passes one call of `call` records (under the pass timer; recorded, never submitted). */
export function countPasses(gpu: Gpu, timestamps: PassTimestamps, call: GpuCall): number {
  const encoder = gpu.device.createCommandEncoder({ label: 'bench pass count' });
  withPassTimer(timestamps, () => call({ encoder }));
  return timestamps.discard();
}

/**
 * Per-call ms of each kernel from timestamp pairs (nanoseconds; pair i is kernels[i]'s beginning and
 * end), summed over the calls, kernels in the order they first ran.
 */
export function perCallPassTimes(kernels: readonly string[], ticks: ArrayLike<bigint>, calls: number): PassTime[] {
  if (ticks.length < 2 * kernels.length) throw new RangeError(`${kernels.length} passes need ${2 * kernels.length} timestamps, got ${ticks.length}`);
  const totals = new Map<string, bigint>();
  kernels.forEach((kernel, i) => totals.set(kernel, (totals.get(kernel) ?? 0n) + (ticks[2 * i + 1]! - ticks[2 * i]!)));
  return [...totals].map(([kernel, ns]) => ({ kernel, ms: Number(ns) / 1e6 / calls }));
}

/** Per kernel over trials: the median and the least of its per-call ms, kernels in the first trial's order. */
export function summarizePasses(trials: readonly (readonly PassTime[])[]): { kernel: string; medianMs: number; minMs: number }[] {
  const first = trials[0];
  if (!first) throw new RangeError('no trials to summarize');
  return first.map(({ kernel }) => {
    const times = trials.map((passes) => {
      const pass = passes.find((p) => p.kernel === kernel);
      if (!pass) throw new Error(`a trial has no '${kernel}' pass: the plan changed between trials`);
      return pass.ms;
    });
    return { kernel, medianMs: median(times), minMs: Math.min(...times) };
  });
}

/** Two timestamps (start of the first pass, end of the last) and the buffers that read them back. */
export class TimestampSpan {
  readonly #gpu: Gpu;
  readonly #querySet: GPUQuerySet;
  readonly #resolved: GPUBuffer;
  readonly #readback: GPUBuffer;

  constructor(gpu: Gpu) {
    this.#gpu = gpu;
    this.#querySet = gpu.device.createQuerySet({ label: 'bench timestamps', type: 'timestamp', count: 2 });
    this.#resolved = gpu.device.createBuffer({ label: 'bench timestamps resolved', size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    this.#readback = gpu.device.createBuffer({ label: 'bench timestamps readback', size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  /** What call `i` of `count` writes: the span's start on the first call, its end on the last. */
  writesFor(i: number, count: number): GPUComputePassTimestampWrites | undefined {
    const first = i === 0;
    const last = i === count - 1;
    if (!first && !last) return undefined;
    return {
      querySet: this.#querySet,
      ...(first ? { beginningOfPassWriteIndex: 0 } : {}),
      ...(last ? { endOfPassWriteIndex: 1 } : {}),
    };
  }

  /** The span in milliseconds, once the calls have been submitted. */
  async readMs(): Promise<number> {
    const [start, end] = await readTimestamps(this.#gpu, this.#querySet, 2, this.#resolved, this.#readback);
    return Number(end! - start!) / 1e6;
  }

  destroy(): void {
    this.#querySet.destroy();
    this.#resolved.destroy();
    this.#readback.destroy();
  }
}

/** The runner's pass timer: a timestamp pair per pass recorded, each named by its kernel. */
export class PassTimestamps implements PassTimer {
  readonly device: GPUDevice;
  readonly #gpu: Gpu;
  readonly #querySet: GPUQuerySet;
  readonly #resolved: GPUBuffer;
  readonly #readback: GPUBuffer;
  #kernels: KernelName[] = [];

  constructor(gpu: Gpu) {
    this.#gpu = gpu;
    this.device = gpu.device;
    const bytes = MAX_QUERIES * TIMESTAMP_BYTES;
    this.#querySet = gpu.device.createQuerySet({ label: 'bench pass timestamps', type: 'timestamp', count: MAX_QUERIES });
    this.#resolved = gpu.device.createBuffer({ label: 'bench pass timestamps resolved', size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    this.#readback = gpu.device.createBuffer({ label: 'bench pass timestamps readback', size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  writesFor(kernel: KernelName): GPUComputePassTimestampWrites {
    const pair = this.#kernels.length;
    if (2 * (pair + 1) > MAX_QUERIES) throw new RangeError(`more than ${MAX_QUERIES / 2} passes in one pass-timed trial`);
    this.#kernels.push(kernel);
    return { querySet: this.#querySet, beginningOfPassWriteIndex: 2 * pair, endOfPassWriteIndex: 2 * pair + 1 };
  }

  /** Forgets the passes recorded since the last read (they were not submitted): how many there were. */
  discard(): number {
    const count = this.#kernels.length;
    this.#kernels = [];
    return count;
  }

  /** The passes recorded since the last read and their timestamps, once submitted; then starts afresh. */
  async read(): Promise<{ kernels: readonly KernelName[]; ticks: BigUint64Array }> {
    const kernels = this.#kernels;
    this.#kernels = [];
    if (kernels.length === 0) throw new Error('no pass was recorded: the call ran no operation under the pass timer');
    const ticks = await readTimestamps(this.#gpu, this.#querySet, 2 * kernels.length, this.#resolved, this.#readback);
    return { kernels, ticks };
  }

  destroy(): void {
    this.#querySet.destroy();
    this.#resolved.destroy();
    this.#readback.destroy();
  }
}

/** Resolves the first `count` queries of `querySet` and reads them back (nanoseconds). */
async function readTimestamps(gpu: Gpu, querySet: GPUQuerySet, count: number, resolved: GPUBuffer, readback: GPUBuffer): Promise<BigUint64Array> {
  const bytes = count * TIMESTAMP_BYTES;
  const encoder = gpu.device.createCommandEncoder({ label: 'bench timestamps' });
  encoder.resolveQuerySet(querySet, 0, count, resolved, 0);
  encoder.copyBufferToBuffer(resolved, 0, readback, 0, bytes);
  gpu.device.queue.submit([encoder.finish()]);
  await gpu.untilLost(readback.mapAsync(GPUMapMode.READ, 0, bytes));
  const ticks = new BigUint64Array(readback.getMappedRange(0, bytes).slice(0));
  readback.unmap();
  return ticks;
}

const HOST_CALL_SAMPLES = 25;

/**
 * Host-side time of one call (validate, encode and submit), median of calls made on an idle queue: on
 * a CPU adapter the GPU's work competes for the same cores, and a backed-up queue can block a submit.
 */
export async function timeHostCall(gpu: Gpu, call: () => unknown): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < HOST_CALL_SAMPLES; i++) {
    const start = performance.now();
    call();
    samples.push(performance.now() - start);
    await gpu.untilLost(gpu.device.queue.onSubmittedWorkDone());
  }
  return median(samples);
}
