// The GPU-vs-CPU benchmark: for each shape of the sweep, training-forward time on the GPU and on the CPU
// (float64 reference and plain float32 loop), inference-forward time on the GPU, training-backward time (GPU and float32 CPU loop), achieved
// bandwidth, first-call (pipeline compilation) cost, host-side cost of one call, and a correctness check.
//
// GPU time comes from many calls recorded back to back into one command encoder (the `encoder` option,
// as a model's layers would be) and the same output tensors (`out`: nothing is allocated while timing),
// submitted once per trial, as PyTorch's times are many launches in one stream between two CUDA events:
// a separate submit per call would time the queue's round trip, not the kernels. Where the device has
// 'timestamp-query' it is the GPU's own clock from the start of the first call's pass to the end of the
// last one's (one span per trial, so browsers' 100 us timestamp quantization does not matter); elsewhere
// it is wall time closed by one queue.onSubmittedWorkDone(). The host-side cost of a standalone call
// (validate, encode and submit) is measured apart.
//
// Composition (once per run, at one small shape): COMPOSITION_CALLS training forwards recorded into one
// caller's GPUCommandEncoder (the `encoder` option) and submitted once, against as many separate calls that
// each submit; both closed by one queue.onSubmittedWorkDone(), wall time. That is host + queue time on
// the adapter at hand, not GPU time: on a CPU-emulated adapter the "GPU" work runs on the same cores.
//
// Peers (with `peers` options; src/bench/peers.ts, peer-harness.ts): per shape, training forward,
// inference forward and forward+backward in NCHW and NHWC, ours against TensorFlow.js and ONNX Runtime Web
// on the same device, every library timed by one method (wall time of standalone calls, PEER_TIMING_METHOD)
// and checked against the float64 reference; the ratio is ours / the fastest peer that passed.
import { batchNorm, batchNormBackward, DEFAULT_EPS, DEFAULT_MOMENTUM, Tensor, type BatchNormOptions, type Gpu } from '../index.js';
import { batchNormReference } from '../reference-entry.js';
import { channelLayout, numElements } from '../shape.js';
import { forwardAccuracy } from './accuracy.js';
import { cpuBackwardFloat32, cpuForwardFloat32 } from './cpu-loops.js';
import { describeEnvironment, type Environment } from './environment.js';
import { comparePeerCase, loadPeers, ourContender, ShapeInputs, type Contender, type PeerOptions } from './peer-harness.js';
import { caseLabel, PEER_CASES, type PeerComparison } from './peers.js';
import {
  BACKWARD_BYTES_PER_ELEMENT,
  FORWARD_BYTES_PER_ELEMENT,
  INFERENCE_BYTES_PER_ELEMENT,
  gigabytesPerSecond,
  median,
  medianOfTrials,
  summarizeTrials,
  type BenchmarkSettings,
} from './statistics.js';
import type { SweepShape } from './sweep.js';
import { syntheticInput, unitNoise } from './synthetic.js';

// 2: adds `composition`. 3: GPU times from calls recorded into one encoder per trial (2: one submit per call),
// and the inference forward's GPU time.
// 4: adds `peers` (the report's method and libraries, each row's comparisons with TensorFlow.js and ONNX
// Runtime Web: src/bench/peers.ts), null / absent when run without peers.
export const REPORT_SCHEMA = 'webgpu-batchnorm-bench/4';

/** How every library of the peer comparison is timed, ours included (src/bench/peer-harness.ts). */
export const PEER_TIMING_METHOD =
  'wall time of calls made back to back as each library is used (ours: standalone calls, each submitting, into out tensors; ' +
  "TensorFlow.js: ops in tf.tidy; ONNX Runtime Web: await session.run), one flush of work a library holds back (TensorFlow.js's " +
  'pending dispatches), then one queue.onSubmittedWorkDone(), per call; after one call checked against the float64 reference';

/** The composition measurement: this many small training forwards (a ResNet-50 layer1 slice at batch 1)... */
export const COMPOSITION_SHAPE = [1, 64, 56, 56] as const;
/** ...recorded into one encoder and submitted once, against as many separate calls. */
export const COMPOSITION_CALLS = 50;

export const DEFAULT_SETTINGS: BenchmarkSettings = { trials: 5, warmupTrials: 1, targetTrialMs: 100, maxIterations: 1000 };

export interface BenchmarkOptions {
  readonly shapes: readonly SweepShape[];
  /** Browser or Node/Dawn version, recorded with the results. */
  readonly runtime: string;
  readonly settings?: Partial<BenchmarkSettings>;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: BenchmarkProgress) => void;
  /** Compare with TensorFlow.js and ONNX Runtime Web on the same device (absent or null: no peers). */
  readonly peers?: PeerOptions | null;
}

export interface BenchmarkProgress {
  /** Steps finished and in all; a step is one measurement of one shape. */
  readonly completed: number;
  readonly total: number;
  readonly label: string;
  readonly phase: string;
  /** Set when a shape has finished. */
  readonly row?: BenchmarkRow;
}

export interface BenchmarkRow {
  readonly label: string;
  readonly shape: readonly number[];
  readonly elements: number;
  /** GPU training forward, median ms per call. */
  readonly gpuForwardMs: number;
  readonly gpuForwardGBps: number;
  /** GPU inference forward (the running statistics), median ms per call. */
  readonly gpuInferenceMs: number;
  readonly gpuInferenceGBps: number;
  /** Iterations per GPU forward trial. */
  readonly gpuIterations: number;
  /** The first forward call of this shape, submit to completion (includes pipeline compilation when new). */
  readonly firstCallMs: number;
  /** Host-side time of one forward call (validate, encode and submit), median of calls on an idle queue. */
  readonly hostCallMs: number;
  readonly cpuReferenceMs: number;
  readonly cpuFloat32Ms: number;
  readonly speedupVsReference: number;
  readonly speedupVsFloat32: number;
  /** GPU training backward (dx, dweight, dbias), median ms per call. */
  readonly gpuBackwardMs: number;
  readonly gpuBackwardGBps: number;
  readonly cpuBackwardFloat32Ms: number;
  readonly backwardSpeedupVsFloat32: number;
  /** Forward y against the float64 reference. */
  readonly maxAbsError: number;
  readonly passed: boolean;
  /** With peers: one comparison per case of PEER_CASES (mode and layout). */
  readonly peers?: readonly PeerComparison[];
}

export interface BenchmarkReport {
  readonly schema: typeof REPORT_SCHEMA;
  readonly createdAt: string;
  readonly environment: Environment;
  readonly method: {
    readonly gpuTiming: string;
    readonly cpuTiming: string;
    readonly statistic: string;
    readonly forwardBytesPerElement: number;
    readonly inferenceBytesPerElement: number;
    readonly backwardBytesPerElement: number;
    readonly settings: BenchmarkSettings;
  };
  /** The first forward call of the run (pipeline compilation) against that shape's steady state. */
  readonly compile: { readonly label: string; readonly firstCallMs: number; readonly steadyMs: number };
  /** Median over shapes of the host-side time of one forward call. */
  readonly hostCallMs: number;
  readonly composition: CompositionResult;
  /** The peer comparison's method and the libraries compared; null when run without peers. */
  readonly peers: PeerSummary | null;
  readonly rows: readonly BenchmarkRow[];
}

export interface PeerSummary {
  readonly timing: string;
  readonly statistic: string;
  /** What each ratio is. */
  readonly ratio: string;
  /** Ours and the peers, with versions, as the rows name them. */
  readonly libraries: readonly string[];
}

/** COMPOSITION_CALLS training forwards, recorded into one encoder vs submitted one by one (host + queue time). */
export interface CompositionResult {
  /** What the numbers are: wall-clock host + queue time on the named adapter. */
  readonly method: string;
  readonly shape: readonly number[];
  readonly calls: number;
  /** All calls recorded into one encoder, one submit, then onSubmittedWorkDone: median ms per trial. */
  readonly recordedMs: number;
  /** The same calls each submitting on their own, then onSubmittedWorkDone: median ms per trial. */
  readonly separateMs: number;
  /** Kept trials of each, in run order (the two alternate). */
  readonly recordedTrialsMs: readonly number[];
  readonly separateTrialsMs: readonly number[];
  /** The host's part of each: from the first call until the last call (and the one submit) returned, median. */
  readonly recordedHostMs: number;
  readonly separateHostMs: number;
  /** Host-side time of one call at this shape (validate + encode + submit, on an idle queue), median. */
  readonly hostCallMs: number;
}

const GPU_TIMING_METHODS = {
  timestamps: 'GPU timestamps (timestamp-query) from the first to the last of many calls recorded into one encoder, one submit per trial',
  wall: 'wall time of many calls recorded into one encoder, one submit and one queue.onSubmittedWorkDone() per trial (no timestamp-query)',
} as const;

/** How this device's GPU times are measured. */
export function gpuTimingMethod(gpu: Gpu): string {
  return gpu.features.timestampQuery ? GPU_TIMING_METHODS.timestamps : GPU_TIMING_METHODS.wall;
}

const STEPS_PER_SHAPE = 5;
const COMPOSITION_STEPS = 1;

export async function runBenchmark(gpu: Gpu, options: BenchmarkOptions): Promise<BenchmarkReport> {
  const settings = { ...DEFAULT_SETTINGS, ...options.settings };
  const environment = describeEnvironment(gpu, options.runtime);
  const rows: BenchmarkRow[] = [];
  const peerSteps = options.peers ? PEER_CASES.length : 0;
  const total = options.shapes.length * (STEPS_PER_SHAPE + peerSteps) + COMPOSITION_STEPS;
  let completed = 0;
  const step = async (label: string, phase: string, row?: BenchmarkRow) => {
    options.onProgress?.({ completed, total, label, phase, ...(row ? { row } : {}) });
    // Lets a page repaint and take a cancel click between measurements.
    await new Promise((resolve) => setTimeout(resolve, 0));
    options.signal?.throwIfAborted();
  };
  // Loaded at the first shape's peer step (ONNX Runtime Web's wasm takes seconds), disposed at the end.
  let peers: { ours: Contender; others: Contender[] } | null = null;
  try {
    for (const [index, sweepShape] of options.shapes.entries()) {
      const beginPhase = async (phase: string) => {
        await step(sweepShape.label, phase);
        completed++;
      };
      let row: BenchmarkRow = await benchmarkShape(gpu, sweepShape, index + 1, settings, beginPhase);
      if (options.peers) {
        const inputs = new ShapeInputs(sweepShape.shape, index + 1);
        const comparisons: PeerComparison[] = [];
        for (const peerCase of PEER_CASES) {
          await beginPhase(`peers, ${caseLabel(peerCase)}${peers ? '' : ' (loading TensorFlow.js and ONNX Runtime Web)'}`);
          peers ??= { ours: ourContender(gpu), others: await loadPeers(gpu, options.peers) };
          comparisons.push(await comparePeerCase(gpu, settings, inputs.data(peerCase), peers.ours, peers.others));
        }
        row = { ...row, peers: comparisons };
      }
      rows.push(row);
      await step(sweepShape.label, 'done', row);
    }
  } finally {
    for (const peer of peers?.others ?? []) await peer.dispose();
  }
  const first = rows[0];
  if (!first) throw new RangeError('the benchmark needs at least one shape');
  const compositionLabel = `composition ${COMPOSITION_SHAPE.join('x')}`;
  await step(compositionLabel, `${COMPOSITION_CALLS} recorded into one encoder vs ${COMPOSITION_CALLS} separate calls`);
  const composition = await measureComposition(gpu, settings, environment.adapter.label);
  completed++;
  await step(compositionLabel, 'done');
  return {
    schema: REPORT_SCHEMA,
    createdAt: new Date().toISOString(),
    environment,
    method: {
      gpuTiming: gpuTimingMethod(gpu),
      cpuTiming: 'wall time of repeated calls on the calling thread (single-threaded JavaScript)',
      statistic: `median of ${settings.trials} trials after ${settings.warmupTrials} warm-up trial(s)`,
      forwardBytesPerElement: FORWARD_BYTES_PER_ELEMENT,
      inferenceBytesPerElement: INFERENCE_BYTES_PER_ELEMENT,
      backwardBytesPerElement: BACKWARD_BYTES_PER_ELEMENT,
      settings,
    },
    compile: { label: first.label, firstCallMs: first.firstCallMs, steadyMs: first.gpuForwardMs },
    hostCallMs: median(rows.map((r) => r.hostCallMs)),
    composition,
    peers: options.peers
      ? {
          timing: PEER_TIMING_METHOD,
          statistic: `median of ${settings.trials} trials after ${settings.warmupTrials} warm-up trial(s), calls per trial sized to about ${settings.targetTrialMs} ms`,
          ratio: 'ours / the fastest peer that passed its check, per shape, mode and layout: below 1 webgpu-batchnorm is faster',
          libraries: librariesOf(rows),
        }
      : null,
    rows,
  };
}

/** Every library named in the rows' comparisons, ours first. */
function librariesOf(rows: readonly BenchmarkRow[]): string[] {
  const names = new Set<string>();
  for (const comparison of rows.flatMap((r) => r.peers ?? [])) {
    names.add(comparison.ours.library);
    for (const peer of comparison.peers) names.add(peer.library);
  }
  return [...names];
}

async function benchmarkShape(
  gpu: Gpu,
  { label, shape }: SweepShape,
  seed: number,
  settings: BenchmarkSettings,
  beginPhase: (phase: string) => Promise<void>,
): Promise<BenchmarkRow> {
  const elements = numElements(shape);
  const { channels } = channelLayout(shape);
  await beginPhase('generate input');
  const { x } = syntheticInput(shape, seed);
  // PyTorch's initial parameters: weight 1, bias 0, running mean 0, running variance 1.
  const weight = new Float32Array(channels).fill(1);
  const bias = new Float32Array(channels);
  const tensors: Tensor[] = [];
  const upload = (data: Float32Array, dims: readonly number[], tensorLabel: string) => {
    const tensor = Tensor.fromArray(gpu, data, dims, { label: tensorLabel });
    tensors.push(tensor);
    return tensor;
  };
  try {
    const xTensor = upload(x, shape, 'bench x');
    const forwardOptions: BatchNormOptions = {
      training: true,
      weight: upload(weight, [channels], 'bench weight'),
      bias: upload(bias, [channels], 'bench bias'),
      runningMean: upload(new Float32Array(channels), [channels], 'bench runningMean'),
      runningVar: upload(new Float32Array(channels).fill(1), [channels], 'bench runningVar'),
      eps: DEFAULT_EPS,
      momentum: DEFAULT_MOMENTUM,
    };

    await beginPhase('GPU forward');
    const firstStart = performance.now();
    const first = batchNorm(gpu, xTensor, forwardOptions);
    await gpu.untilLost(gpu.device.queue.onSubmittedWorkDone());
    const firstCallMs = performance.now() - firstStart;
    const y = await first.y.toArray();
    const saveMean = first.saveMean!;
    const saveInvstd = first.saveInvstd!;
    first.y.destroy();
    tensors.push(saveMean, saveInvstd);
    const forwardOut = { y: upload(new Float32Array(elements), shape, 'bench y'), saveMean: upload(new Float32Array(channels), [channels], 'bench saveMean out'), saveInvstd: upload(new Float32Array(channels), [channels], 'bench saveInvstd out') };
    const forward = await timeGpu(gpu, settings, (recording) => batchNorm(gpu, xTensor, { ...forwardOptions, out: forwardOut, ...recording }));

    const inference = await timeGpu(gpu, settings, (recording) =>
      batchNorm(gpu, xTensor, { ...forwardOptions, training: false, out: { y: forwardOut.y }, ...recording }),
    );

    await beginPhase('GPU and CPU backward');
    const dy = unitNoise(elements, seed + 1000);
    const dyTensor = upload(dy, shape, 'bench dy');
    const backwardOptions = { training: true as const, weight: forwardOptions.weight ?? null, saveMean, saveInvstd };
    const backwardOut = { dx: upload(new Float32Array(elements), shape, 'bench dx'), dweight: upload(new Float32Array(channels), [channels], 'bench dweight'), dbias: upload(new Float32Array(channels), [channels], 'bench dbias') };
    const backward = await timeGpu(gpu, settings, (recording) => batchNormBackward(gpu, dyTensor, xTensor, { ...backwardOptions, out: backwardOut, ...recording }));
    const [mean, invstd] = [await saveMean.toArray(), await saveInvstd.toArray()];
    const gradients = { dx: new Float32Array(elements), dweight: new Float32Array(channels), dbias: new Float32Array(channels) };
    const cpuBackwardFloat32Ms = await timeCpu(settings, () => cpuBackwardFloat32(dy, x, shape, { weight, mean, invstd }, gradients));

    await beginPhase('CPU float64 reference');
    const referenceOptions = {
      training: true,
      weight,
      bias,
      runningMean: new Float32Array(channels),
      runningVar: new Float32Array(channels).fill(1),
      eps: DEFAULT_EPS,
      momentum: DEFAULT_MOMENTUM,
    };
    const reference = batchNormReference(x, shape, referenceOptions);
    const cpuReferenceMs = await timeCpu(settings, () => batchNormReference(x, shape, referenceOptions));
    const accuracy = forwardAccuracy(x, shape, y, reference.y, reference, weight, bias);

    await beginPhase('CPU float32 loop');
    const yCpu = new Float32Array(elements);
    const cpuFloat32Ms = await timeCpu(settings, () => cpuForwardFloat32(x, shape, { weight, bias, eps: DEFAULT_EPS }, yCpu));

    return {
      label,
      shape: [...shape],
      elements,
      gpuForwardMs: forward.ms,
      gpuForwardGBps: gigabytesPerSecond(elements, FORWARD_BYTES_PER_ELEMENT, forward.ms),
      gpuInferenceMs: inference.ms,
      gpuInferenceGBps: gigabytesPerSecond(elements, INFERENCE_BYTES_PER_ELEMENT, inference.ms),
      gpuIterations: forward.iterations,
      firstCallMs,
      hostCallMs: forward.hostMs,
      cpuReferenceMs,
      cpuFloat32Ms,
      speedupVsReference: cpuReferenceMs / forward.ms,
      speedupVsFloat32: cpuFloat32Ms / forward.ms,
      gpuBackwardMs: backward.ms,
      gpuBackwardGBps: gigabytesPerSecond(elements, BACKWARD_BYTES_PER_ELEMENT, backward.ms),
      cpuBackwardFloat32Ms,
      backwardSpeedupVsFloat32: cpuBackwardFloat32Ms / backward.ms,
      maxAbsError: accuracy.maxAbsError,
      passed: accuracy.passed,
    };
  } finally {
    for (const tensor of tensors) tensor.destroy();
  }
}

interface GpuTiming {
  ms: number;
  hostMs: number;
  iterations: number;
}

/** Where a timed call records: the trial's encoder, and the span's timestamps on its first and last call. */
interface Recording {
  readonly encoder?: GPUCommandEncoder;
  readonly timestampWrites?: GPUComputePassTimestampWrites;
}

/**
 * Median GPU time per call: each trial records `iterations` calls into one encoder, submits it and waits
 * once at the end. With timestamp-query, the first call's pass writes the start and the last call's pass
 * the end of a GPU-clock span. The host-side time of one standalone call is measured separately
 * (timeHostCall: no encoder, so it validates, encodes and submits).
 */
async function timeGpu(gpu: Gpu, settings: BenchmarkSettings, call: (recording: Recording) => unknown): Promise<GpuTiming> {
  const span = gpu.features.timestampQuery ? new TimestampSpan(gpu) : null;
  try {
    const trial = async (iterations: number) => {
      const start = performance.now();
      const encoder = gpu.device.createCommandEncoder({ label: 'bench trial' });
      for (let i = 0; i < iterations; i++) {
        const timestampWrites = span?.writesFor(i, iterations);
        call({ encoder, ...(timestampWrites ? { timestampWrites } : {}) });
      }
      gpu.device.queue.submit([encoder.finish()]);
      await gpu.untilLost(gpu.device.queue.onSubmittedWorkDone());
      const wallMs = performance.now() - start;
      return (span ? await span.readMs() : wallMs) / iterations;
    };
    const { ms, iterations } = await medianOfTrials(settings, trial);
    return { ms, hostMs: await timeHostCall(gpu, () => call({})), iterations };
  } finally {
    span?.destroy();
  }
}

const HOST_CALL_SAMPLES = 25;

/**
 * Host-side time of one call (validate, encode and submit), median of calls made on an idle queue: on
 * a CPU adapter the GPU's work competes for the same cores, and a backed-up queue can block a submit.
 */
async function timeHostCall(gpu: Gpu, call: () => unknown): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < HOST_CALL_SAMPLES; i++) {
    const start = performance.now();
    call();
    samples.push(performance.now() - start);
    await gpu.untilLost(gpu.device.queue.onSubmittedWorkDone());
  }
  return median(samples);
}

/**
 * COMPOSITION_CALLS training forwards of COMPOSITION_SHAPE, each into its own preallocated outputs (so
 * nothing is allocated while timing): recorded into one encoder and submitted once, against as many
 * calls that each submit. The two alternate trial by trial, so drift of the machine hits both alike.
 */
async function measureComposition(gpu: Gpu, settings: BenchmarkSettings, adapterLabel: string): Promise<CompositionResult> {
  const shape = COMPOSITION_SHAPE;
  const { channels } = channelLayout(shape);
  const tensors: Tensor[] = [];
  const zeros = (dims: readonly number[], label: string) => {
    const tensor = Tensor.fromArray(gpu, new Float32Array(numElements(dims)), dims, { label });
    tensors.push(tensor);
    return tensor;
  };
  try {
    const x = Tensor.fromArray(gpu, syntheticInput(shape, COMPOSITION_CALLS).x, shape, { label: 'composition x' });
    tensors.push(x);
    const options: BatchNormOptions = {
      training: true,
      weight: Tensor.fromArray(gpu, new Float32Array(channels).fill(1), [channels], { label: 'composition weight' }),
      bias: zeros([channels], 'composition bias'),
      runningMean: zeros([channels], 'composition runningMean'),
      runningVar: Tensor.fromArray(gpu, new Float32Array(channels).fill(1), [channels], { label: 'composition runningVar' }),
      eps: DEFAULT_EPS,
      momentum: DEFAULT_MOMENTUM,
    };
    tensors.push(options.weight!, options.runningVar!);
    const outs = Array.from({ length: COMPOSITION_CALLS }, (_, i) => ({
      y: zeros(shape, `composition y ${i}`),
      saveMean: zeros([channels], `composition saveMean ${i}`),
      saveInvstd: zeros([channels], `composition saveInvstd ${i}`),
    }));
    const done = () => gpu.untilLost(gpu.device.queue.onSubmittedWorkDone());
    // One trial: [host ms until the work is submitted, ms until the queue has finished it].
    const recorded = async () => {
      const start = performance.now();
      const encoder = gpu.device.createCommandEncoder({ label: 'composition' });
      for (const out of outs) batchNorm(gpu, x, { ...options, out, encoder });
      gpu.device.queue.submit([encoder.finish()]);
      const submitted = performance.now();
      await done();
      return [submitted - start, performance.now() - start] as const;
    };
    const separate = async () => {
      const start = performance.now();
      for (const out of outs) batchNorm(gpu, x, { ...options, out });
      const submitted = performance.now();
      await done();
      return [submitted - start, performance.now() - start] as const;
    };
    const recordedTrials: (readonly [number, number])[] = [];
    const separateTrials: (readonly [number, number])[] = [];
    for (let t = 0; t < settings.warmupTrials + settings.trials; t++) {
      recordedTrials.push(await recorded());
      separateTrials.push(await separate());
    }
    const kept = (trials: readonly (readonly [number, number])[], part: 0 | 1) => summarizeTrials(trials.map((t) => t[part]), settings.warmupTrials);
    const recordedSummary = kept(recordedTrials, 1);
    const separateSummary = kept(separateTrials, 1);
    const hostCallMs = await timeHostCall(gpu, () => batchNorm(gpu, x, { ...options, out: outs[0]! }));
    return {
      method: `host + queue time on ${adapterLabel}: wall clock from the first call to queue.onSubmittedWorkDone(), median of ${settings.trials} trials after ${settings.warmupTrials} warm-up`,
      shape: [...shape],
      calls: COMPOSITION_CALLS,
      recordedMs: recordedSummary.medianMs,
      separateMs: separateSummary.medianMs,
      recordedTrialsMs: recordedSummary.keptMs,
      separateTrialsMs: separateSummary.keptMs,
      recordedHostMs: kept(recordedTrials, 0).medianMs,
      separateHostMs: kept(separateTrials, 0).medianMs,
      hostCallMs,
    };
  } finally {
    for (const tensor of tensors) tensor.destroy();
  }
}

/** Two timestamps (start of the first pass, end of the last) and the buffers that read them back. */
class TimestampSpan {
  readonly #gpu: Gpu;
  readonly #querySet: GPUQuerySet;
  readonly #resolved: GPUBuffer;
  readonly #readback: GPUBuffer;

  constructor(gpu: Gpu) {
    this.#gpu = gpu;
    this.#querySet = gpu.device.createQuerySet({ label: 'bench timestamps', type: 'timestamp', count: 2 });
    const usage = GPUBufferUsage;
    this.#resolved = gpu.device.createBuffer({ label: 'bench timestamps resolved', size: 16, usage: usage.QUERY_RESOLVE | usage.COPY_SRC });
    this.#readback = gpu.device.createBuffer({ label: 'bench timestamps readback', size: 16, usage: usage.MAP_READ | usage.COPY_DST });
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
    const encoder = this.#gpu.device.createCommandEncoder({ label: 'bench timestamps' });
    encoder.resolveQuerySet(this.#querySet, 0, 2, this.#resolved, 0);
    encoder.copyBufferToBuffer(this.#resolved, 0, this.#readback, 0, 16);
    this.#gpu.device.queue.submit([encoder.finish()]);
    await this.#gpu.untilLost(this.#readback.mapAsync(GPUMapMode.READ));
    const [start, end] = new BigUint64Array(this.#readback.getMappedRange());
    this.#readback.unmap();
    return Number(end! - start!) / 1e6;
  }

  destroy(): void {
    this.#querySet.destroy();
    this.#resolved.destroy();
    this.#readback.destroy();
  }
}

/** Median CPU time per call, trials of repeated calls sized like the GPU's. */
async function timeCpu(settings: BenchmarkSettings, call: () => void): Promise<number> {
  const { ms } = await medianOfTrials(settings, (iterations) => {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) call();
    return (performance.now() - start) / iterations;
  });
  return ms;
}
