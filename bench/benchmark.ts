// The GPU-vs-CPU benchmark: for each shape of the sweep, training-forward time on the GPU and on the CPU
// (float64 reference and plain float32 loop), inference-forward time on the GPU, training-backward time
// (GPU and float32 CPU loop), each GPU time also pass by pass, the copy kernel's time at that size (the
// roofline every bandwidth figure is a fraction of), first-call (pipeline compilation) cost, host-side
// cost of one call, and a correctness check of every variant's forward.
//
// GPU time (bench/gpu-timing.ts): many calls recorded back to back into one encoder and the same
// output tensors (`out`: nothing is allocated while timing), one submit per trial, GPU timestamps where
// the device has them. Clock discipline (bench/statistics.ts): before each measurement the trials
// warm the GPU until their times are stable; the series compared at a shape (the variants, and the copy
// kernel beside the training forward) run interleaved trial by trial; the median and the minimum are kept.
//
// Variants (bench/variants.ts): named Gpu options over the one device, each timed and checked at
// every shape; the first is the baseline of the CPU speed-ups and of every ratio between variants.
//
// Residual (per shape, the baseline variant): the training forward with the residual add and ReLU fused,
// batchNorm(x, { residual: z, activation: 'relu' }), against the unfused sequence, batchNorm(x) and then
// an add+ReLU kernel (bench/add-relu.wgsl), timed like the other GPU measurements and interleaved
// trial by trial; bytes moved per element from bench/statistics.ts; both checked against the float64
// reference of relu(bn(x) + z).
//
// Composition (once per run, at one small shape): COMPOSITION_CALLS training forwards recorded into one
// caller's GPUCommandEncoder (the `encoder` option) and submitted once, against as many separate calls that
// each submit; both closed by one queue.onSubmittedWorkDone(), wall time. That is host + queue time on
// the adapter at hand, not GPU time: on a CPU-emulated adapter the "GPU" work runs on the same cores.
//
// Peers (with `peers` options; bench/peers.ts, peer-harness.ts): per shape, training forward,
// inference forward and forward+backward in NCHW and NHWC, ours (the run's Gpu, library defaults) against
// TensorFlow.js and ONNX Runtime Web on the same device, every library timed by one method (wall time of
// standalone calls, PEER_TIMING_METHOD) and checked against the float64 reference; the ratio is ours /
// the fastest peer that passed.
//
// Model row (with `model` options; bench/model-step.ts, model-step-run.ts): one training step of the seed
// article's CNN in TensorFlow.js, tfjs's BatchNormalization against webgpu-batchnorm/tfjs's, at each of a
// few batches, and the share of each step that the model's batch norm takes on its own.
import { batchNorm, batchNormBackward, DEFAULT_EPS, DEFAULT_MOMENTUM, Tensor, type BatchNormOptions, type Gpu } from '../src/index.js';
import { batchNormReference } from '../src/reference.js';
import { channelLayout, numElements } from '../src/runtime/shape.js';
import { forwardAccuracy, type Accuracy } from './accuracy.js';
import { CopyKernel } from './copy-kernel.js';
import { cpuBackwardFloat32, cpuForwardFloat32 } from './cpu-loops.js';
import { describeEnvironment, type Environment } from './environment.js';
import { inErrorScopes } from './error-scopes.js';
import {
  callTrial,
  countPasses,
  gpuTimingMethod,
  PassTimestamps,
  passTimingMethod,
  passTrial,
  summarizePasses,
  timeHostCall,
  TimestampSpan,
  type GpuCall,
} from './gpu-timing.js';
import { AddReluKernel } from './add-relu-kernel.js';
import type { Contender } from './contender.js';
import { comparePeerCase, loadPeers, ourContender, ShapeInputs, type PeerOptions } from './peer-harness.js';
import { caseLabel, PEER_CASES, type PeerComparison } from './peers.js';
import {
  BACKWARD_BYTES_PER_ELEMENT,
  COPY_BYTES_PER_ELEMENT,
  FORWARD_BYTES_PER_ELEMENT,
  INFERENCE_BYTES_PER_ELEMENT,
  KERNEL_BYTES_PER_ELEMENT,
  RESIDUAL_FUSED_BYTES_PER_ELEMENT,
  RESIDUAL_UNFUSED_BYTES_PER_ELEMENT,
  gigabytesPerSecond,
  interleavedTrials,
  median,
  medianOfTrials,
  summarizeTrials,
  type BenchmarkSettings,
  type SeriesResult,
  type TrialResult,
} from './statistics.js';
import type { SweepShape } from './sweep.js';
import { syntheticInput, unitNoise } from './synthetic.js';
import { checkVariants, DEFAULT_VARIANTS, variantGpu, type GpuVariant } from './variants.js';
import type { KernelName } from '../src/engine/kernels.js';
import type { ModelStepReport } from './model-step.js';

// 2: adds `composition`. 3: GPU times from calls recorded into one encoder per trial (2: one submit per call),
// and the inference forward's GPU time.
// 4: adds `peers` (the report's method and libraries, each row's comparisons with TensorFlow.js and ONNX
// Runtime Web: bench/peers.ts), null / absent when run without peers.
// 5: per-pass times, the copy kernel (roofline) per row with every bandwidth also a fraction of it, min
// beside median, warm-up until stable, and variants: the GPU times of a row move into rows[].variants[]
// (one per report.variants entry), the CPU speed-ups are no longer stored (CPU ms / the baseline's ms).
// 6: adds rows[].residual (the fused residual add + ReLU against batchNorm then an add+ReLU kernel),
// method.residual, and `model`, the model row (bench/model-step.ts), null when run without it.
// Version 4 and 5 reports are read by bench/report-schema.ts.
export const REPORT_SCHEMA = 'webgpu-batchnorm-bench/6';

/** How every library of the peer comparison is timed, ours included (bench/peer-harness.ts). */
export const PEER_TIMING_METHOD =
  'wall time of calls made back to back as each library is used (ours: standalone calls, each submitting, into out tensors; ' +
  "TensorFlow.js: ops in tf.tidy; ONNX Runtime Web: await session.run), one flush of work a library holds back (TensorFlow.js's " +
  'pending dispatches), then one queue.onSubmittedWorkDone(), per call; after one call checked against the float64 reference';

/** The composition measurement: this many small training forwards (a ResNet-50 layer1 slice at batch 1)... */
export const COMPOSITION_SHAPE = [1, 64, 56, 56] as const;
/** ...recorded into one encoder and submitted once, against as many separate calls. */
export const COMPOSITION_CALLS = 50;

export const DEFAULT_SETTINGS: BenchmarkSettings = {
  trials: 5,
  warmupTrials: 1,
  targetTrialMs: 100,
  maxIterations: 1000,
  stableTrials: 3,
  stableTolerance: 0.05,
  maxWarmupTrials: 10,
};

/**
 * Over DEFAULT_SETTINGS on a CPU-emulated adapter: a fixed warm-up, as there is no GPU clock to settle,
 * and the times of a CPU shared with other work need not settle at all (explicit settings still win).
 */
export const EMULATED_SETTINGS: Partial<BenchmarkSettings> = { maxWarmupTrials: 0 };

export interface BenchmarkOptions {
  readonly shapes: readonly SweepShape[];
  /** Browser or Node/Dawn version, recorded with the results. */
  readonly runtime: string;
  readonly settings?: Partial<BenchmarkSettings>;
  /** Gpu options to compare, interleaved at each shape (default: DEFAULT_VARIANTS, the library as is). */
  readonly variants?: readonly GpuVariant[];
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: BenchmarkProgress) => void;
  /** Compare with TensorFlow.js and ONNX Runtime Web on the same device (absent or null: no peers). */
  readonly peers?: PeerOptions | null;
  /** The model row (absent or null: none). */
  readonly model?: ModelStepOptions | null;
}

export interface ModelStepOptions {
  /** The batches to time a step at, in order (MODEL_BATCHES; EMULATED_MODEL_BATCHES on a CPU-emulated adapter). */
  readonly batches: readonly number[];
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

/** How a GPU measurement's warm-up ended: trials run before the timed ones, and whether their times had settled (null: a fixed warm-up). */
export interface WarmupRecord {
  readonly trials: number;
  readonly stable: boolean | null;
}

/** One pass of a call: named by its kernel (its record in src/engine/kernels.ts), median and least ms per call. */
export interface PassMeasurement {
  readonly kernel: string;
  readonly ms: number;
  readonly minMs: number;
  /** From KERNEL_BYTES_PER_ELEMENT; null for a pass over per-channel data only (a finalize), which has no bandwidth. */
  readonly bytesPerElement: number | null;
  readonly gbps: number | null;
  /** gbps / the copy kernel's GB/s at this size. */
  readonly copyFraction: number | null;
}

/** One operation's GPU time per call. Nulls only in reports read from schema 4, which had none of these. */
export interface GpuMeasurement {
  /** Median of the timed trials, ms per call. */
  readonly ms: number;
  readonly minMs: number | null;
  /** At the operation's bytes per element and the median time. */
  readonly gbps: number;
  /** gbps / the copy kernel's GB/s at this size (both at their median times). */
  readonly copyFraction: number | null;
  /** Calls per trial. */
  readonly iterations: number | null;
  readonly warmup: WarmupRecord | null;
  /** Pass by pass (timestamp-query only), in the order the passes run. */
  readonly passes: readonly PassMeasurement[] | null;
}

/** The copy kernel (bench/copy.wgsl) at a row's size: the roofline. */
export interface CopyMeasurement {
  readonly ms: number;
  readonly minMs: number;
  /** COPY_BYTES_PER_ELEMENT per element at the median time. */
  readonly gbps: number;
  readonly iterations: number;
  readonly warmup: WarmupRecord;
}

/** One variant at one shape. */
export interface VariantRow {
  readonly label: string;
  readonly forward: GpuMeasurement;
  readonly inference: GpuMeasurement;
  readonly backward: GpuMeasurement;
  /** This variant's forward y against the float64 reference. */
  readonly maxAbsError: number;
  readonly passed: boolean;
}

/** One side of the residual comparison: its GPU time per call, the bytes it moves, and its check. */
export interface ResidualMeasurement {
  readonly ms: number;
  readonly minMs: number;
  /** RESIDUAL_FUSED_BYTES_PER_ELEMENT or RESIDUAL_UNFUSED_BYTES_PER_ELEMENT. */
  readonly bytesPerElement: number;
  /** At bytesPerElement and the median time. */
  readonly gbps: number;
  /** gbps / the copy kernel's GB/s at this size. */
  readonly copyFraction: number;
  readonly iterations: number;
  readonly warmup: WarmupRecord;
  /** relu(bn(x) + z) against the float64 reference. */
  readonly maxAbsError: number;
  readonly passed: boolean;
}

/** y = relu(bn(x) + z) in a training forward, fused and unfused, on the baseline variant. */
export interface ResidualComparison {
  /** batchNorm with `residual: z` and activation 'relu': the add and the ReLU in the pass that writes y. */
  readonly fused: ResidualMeasurement;
  /** batchNorm, then the add+ReLU kernel (bench/add-relu.wgsl): y written, then read again with z. */
  readonly unfused: ResidualMeasurement;
  /** fused / unfused, of the medians: below 1 the fused is faster. */
  readonly ratio: number;
  /** fused / unfused, of the minima. */
  readonly minRatio: number;
}

export interface BenchmarkRow {
  readonly label: string;
  readonly shape: readonly number[];
  readonly elements: number;
  /** The copy kernel at this size, timed interleaved with the training forwards; null in schema 4 reports. */
  readonly copy: CopyMeasurement | null;
  /** One per variant of the report, in its order; the first is the baseline. */
  readonly variants: readonly VariantRow[];
  /** The baseline's first forward call of this shape, submit to completion (includes pipeline compilation when new). */
  readonly firstCallMs: number;
  /** Host-side time of one baseline forward call (validate, encode and submit), median of calls on an idle queue. */
  readonly hostCallMs: number;
  readonly cpuReferenceMs: number;
  readonly cpuFloat32Ms: number;
  readonly cpuBackwardFloat32Ms: number;
  /** The fused residual add + ReLU against the unfused sequence; null in reports read from schemas 4 and 5. */
  readonly residual: ResidualComparison | null;
  /** With peers: one comparison per case of PEER_CASES (mode and layout). */
  readonly peers?: readonly PeerComparison[];
}

/** The GPU operations a row times. */
export const OPERATIONS = ['forward', 'inference', 'backward'] as const;
export type Operation = (typeof OPERATIONS)[number];

/** The row's first variant: the one the CPU speed-ups compare with. */
export function baselineOf(row: BenchmarkRow): VariantRow {
  const baseline = row.variants[0];
  if (!baseline) throw new Error(`row ${row.label} has no variant`);
  return baseline;
}

/** CPU time / the baseline's GPU time: above 1 the GPU is faster. */
export function speedups(row: BenchmarkRow): { vsReference: number; vsFloat32: number; backwardVsFloat32: number } {
  const { forward, backward } = baselineOf(row);
  return { vsReference: row.cpuReferenceMs / forward.ms, vsFloat32: row.cpuFloat32Ms / forward.ms, backwardVsFloat32: row.cpuBackwardFloat32Ms / backward.ms };
}

export interface BenchmarkReport {
  readonly schema: typeof REPORT_SCHEMA;
  readonly createdAt: string;
  readonly environment: Environment;
  readonly method: {
    readonly gpuTiming: string;
    /** Null without timestamp-query: no per-pass times. */
    readonly passTiming: string | null;
    readonly cpuTiming: string;
    readonly statistic: string;
    /** How the GPU's warm-up ends; null in schema 4 reports (a fixed warm-up). */
    readonly warmup: string | null;
    /** What the bandwidth fractions are of; null in schema 4 reports. */
    readonly roofline: string | null;
    readonly forwardBytesPerElement: number;
    readonly inferenceBytesPerElement: number;
    readonly backwardBytesPerElement: number;
    readonly copyBytesPerElement: number;
    /** What each pass moves, by kernel. */
    readonly kernelBytesPerElement: Readonly<Record<string, number | null>>;
    /** What the residual comparison times; null in reports read from schemas 4 and 5. */
    readonly residual: string | null;
    readonly settings: Partial<BenchmarkSettings>;
  };
  /** The variants compared, in the rows' order; the first is the baseline. */
  readonly variants: readonly GpuVariant[];
  /** The first forward call of the run (pipeline compilation) against that shape's steady state. */
  readonly compile: { readonly label: string; readonly firstCallMs: number; readonly steadyMs: number };
  /** Median over shapes of the host-side time of one forward call. */
  readonly hostCallMs: number;
  readonly composition: CompositionResult;
  /** The peer comparison's method and the libraries compared; null when run without peers. */
  readonly peers: PeerSummary | null;
  readonly rows: readonly BenchmarkRow[];
  /** The model row; null when run without it (and in reports of schema 5 and before). */
  readonly model: ModelStepReport | null;
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

const STEPS_PER_SHAPE = 6;
const COMPOSITION_STEPS = 1;

/** A variant and its Gpu over the run's device. */
interface VariantRun {
  readonly variant: GpuVariant;
  readonly gpu: Gpu;
}

export async function runBenchmark(gpu: Gpu, options: BenchmarkOptions): Promise<BenchmarkReport> {
  const environment = describeEnvironment(gpu, options.runtime);
  const settings = { ...DEFAULT_SETTINGS, ...(environment.adapter.emulated ? EMULATED_SETTINGS : {}), ...options.settings };
  const variants = checkVariants(options.variants ?? DEFAULT_VARIANTS);
  const rows: BenchmarkRow[] = [];
  const peerSteps = options.peers ? PEER_CASES.length : 0;
  const modelBatches = options.model?.batches ?? [];
  const total = options.shapes.length * (STEPS_PER_SHAPE + peerSteps) + modelBatches.length + COMPOSITION_STEPS;
  let completed = 0;
  const step = async (label: string, phase: string, row?: BenchmarkRow) => {
    options.onProgress?.({ completed, total, label, phase, ...(row ? { row } : {}) });
    // Lets a page repaint and take a cancel click between measurements.
    await new Promise((resolve) => setTimeout(resolve, 0));
    options.signal?.throwIfAborted();
  };
  // Loaded at the first shape's peer step (ONNX Runtime Web's wasm takes seconds), disposed at the end.
  let peers: { ours: Contender; others: Contender[] } | null = null;
  const runs: VariantRun[] = [];
  try {
    for (const variant of variants) runs.push({ variant, gpu: variantGpu(gpu, variant) });
    for (const [index, sweepShape] of options.shapes.entries()) {
      const beginPhase = async (phase: string) => {
        await step(sweepShape.label, phase);
        completed++;
      };
      let row: BenchmarkRow = await benchmarkShape(gpu, runs, sweepShape, index + 1, settings, beginPhase);
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
    for (const run of runs) run.gpu.destroy();
  }
  const first = rows[0];
  if (!first) throw new RangeError('the benchmark needs at least one shape');
  let model: ModelStepReport | null = null;
  if (modelBatches.length > 0) {
    const { measureModelSteps } = await import('./model-step-run.js');
    model = await measureModelSteps(gpu, settings, modelBatches, async (batch) => {
      await step(`model step, batch ${batch}`, "the seed CNN's training step, tfjs's batch norm vs ours, and batch norm on its own");
      completed++;
    });
  }
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
      passTiming: passTimingMethod(gpu),
      cpuTiming: 'wall time of repeated calls on the calling thread (single-threaded JavaScript)',
      statistic: `median (and minimum) of ${settings.trials} trials after the warm-up`,
      warmup:
        (settings.maxWarmupTrials > settings.warmupTrials
          ? `GPU: at least ${settings.warmupTrials} warm-up trial(s), more until the last ${settings.stableTrials} of every series compared ` +
            `are within ${formatPercent(settings.stableTolerance)} of each other, at most ${settings.maxWarmupTrials}`
          : `GPU: ${settings.warmupTrials} warm-up trial(s)${environment.adapter.emulated ? ' (a CPU-emulated adapter has no clock to settle)' : ''}`) +
        '; the series of a measurement (variants; the copy kernel with the training forward; the fused and unfused residual) interleaved trial by trial. ' +
        `CPU loops and peers: ${settings.warmupTrials} warm-up trial(s)`,
      roofline:
        `the copy kernel (bench/copy.wgsl: one vec4 of f32 per invocation, ${COPY_BYTES_PER_ELEMENT} bytes per element) ` +
        'copying as many values as the shape has, timed the same way on the same device; a fraction is GB/s / its GB/s',
      forwardBytesPerElement: FORWARD_BYTES_PER_ELEMENT,
      inferenceBytesPerElement: INFERENCE_BYTES_PER_ELEMENT,
      backwardBytesPerElement: BACKWARD_BYTES_PER_ELEMENT,
      copyBytesPerElement: COPY_BYTES_PER_ELEMENT,
      kernelBytesPerElement: KERNEL_BYTES_PER_ELEMENT,
      residual:
        `training forward of y = relu(bn(x) + z) on the baseline variant: fused (batchNorm with residual z and activation 'relu', ` +
        `${RESIDUAL_FUSED_BYTES_PER_ELEMENT} bytes per element) against unfused (batchNorm, then bench/add-relu.wgsl, ` +
        `${RESIDUAL_UNFUSED_BYTES_PER_ELEMENT} bytes per element), timed as the GPU's other measurements and interleaved trial by trial; ` +
        'ratio = fused / unfused, below 1 the fused is faster',
      settings,
    },
    variants,
    compile: { label: first.label, firstCallMs: first.firstCallMs, steadyMs: baselineOf(first).forward.ms },
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
    model,
  };
}

/** A fraction as a percentage: whole from 10% up, two significant digits below. */
export function formatPercent(fraction: number): string {
  const percent = fraction * 100;
  return `${Math.abs(percent) >= 10 ? Math.round(percent) : Number(percent.toPrecision(2))}%`;
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
  runs: readonly VariantRun[],
  { label, shape }: SweepShape,
  seed: number,
  settings: BenchmarkSettings,
  beginPhase: (phase: string) => Promise<void>,
): Promise<BenchmarkRow> {
  const elements = numElements(shape);
  const { channels } = channelLayout(shape);
  await beginPhase('input and float64 reference');
  const { x } = syntheticInput(shape, seed);
  // PyTorch's initial parameters: weight 1, bias 0, running mean 0, running variance 1.
  const weight = new Float32Array(channels).fill(1);
  const bias = new Float32Array(channels);
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
  // The tensors live on the run's device, which every variant's Gpu shares.
  const tensors: Tensor[] = [];
  const upload = (data: Float32Array, dims: readonly number[], tensorLabel: string) => {
    const tensor = Tensor.fromArray(gpu, data, dims, { label: tensorLabel });
    tensors.push(tensor);
    return tensor;
  };
  let copy: CopyKernel | null = null;
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

    await beginPhase(`GPU forward${runs.length > 1 ? `, ${runs.length} variants` : ''} and the copy kernel`);
    // The baseline's first call (pipeline compilation when new), then every variant's output checked.
    const firstStart = performance.now();
    const first = batchNorm(runs[0]!.gpu, xTensor, forwardOptions);
    await gpu.untilLost(gpu.device.queue.onSubmittedWorkDone());
    const firstCallMs = performance.now() - firstStart;
    const saveMean = first.saveMean!;
    const saveInvstd = first.saveInvstd!;
    tensors.push(first.y, saveMean, saveInvstd);
    const accuracies: Accuracy[] = [];
    for (const [i, run] of runs.entries()) {
      const result = i === 0 ? first : batchNorm(run.gpu, xTensor, forwardOptions);
      if (i > 0) tensors.push(result.y, result.saveMean!, result.saveInvstd!);
      accuracies.push(forwardAccuracy(x, shape, await result.y.toArray(), reference.y, reference, weight, bias));
    }
    const copyKernel = (copy = await CopyKernel.checked(gpu, x));
    const forwardOut = { y: upload(new Float32Array(elements), shape, 'bench y'), saveMean: upload(new Float32Array(channels), [channels], 'bench saveMean out'), saveInvstd: upload(new Float32Array(channels), [channels], 'bench saveInvstd out') };
    const forwardCalls = runs.map((run): GpuCall => (recording) => batchNorm(run.gpu, xTensor, { ...forwardOptions, out: forwardOut, ...recording }));
    const [copySeries, ...forwardSeries] = await timeSeries(gpu, settings, [(recording) => copyKernel.record(recording), ...forwardCalls]);
    const forwardPasses = await timePasses(gpu, settings, forwardCalls, forwardSeries);
    const copyMeasurement: CopyMeasurement = {
      ms: copySeries!.summary.medianMs,
      minMs: copySeries!.summary.minMs,
      gbps: gigabytesPerSecond(elements, COPY_BYTES_PER_ELEMENT, copySeries!.summary.medianMs),
      iterations: copySeries!.iterations,
      warmup: warmupOf(copySeries!),
    };
    const measured = (bytesPerElement: number, series: readonly SeriesResult<TrialResult>[], passes: PassSummaries) =>
      series.map((s, i) => gpuMeasurement(elements, bytesPerElement, s, passes?.[i] ?? null, copyMeasurement.gbps));
    const forward = measured(FORWARD_BYTES_PER_ELEMENT, forwardSeries, forwardPasses);
    const hostCallMs = await timeHostCall(gpu, () => forwardCalls[0]!({}));

    await beginPhase('GPU inference forward');
    const inferenceCalls = runs.map((run): GpuCall => (recording) => batchNorm(run.gpu, xTensor, { ...forwardOptions, training: false, out: { y: forwardOut.y }, ...recording }));
    const inferenceSeries = await timeSeries(gpu, settings, inferenceCalls);
    const inference = measured(INFERENCE_BYTES_PER_ELEMENT, inferenceSeries, await timePasses(gpu, settings, inferenceCalls, inferenceSeries));

    await beginPhase('GPU and CPU backward');
    const dy = unitNoise(elements, seed + 1000);
    const dyTensor = upload(dy, shape, 'bench dy');
    const backwardOptions = { training: true as const, weight: forwardOptions.weight ?? null, saveMean, saveInvstd };
    const backwardOut = { dx: upload(new Float32Array(elements), shape, 'bench dx'), dweight: upload(new Float32Array(channels), [channels], 'bench dweight'), dbias: upload(new Float32Array(channels), [channels], 'bench dbias') };
    const backwardCalls = runs.map((run): GpuCall => (recording) => batchNormBackward(run.gpu, dyTensor, xTensor, { ...backwardOptions, out: backwardOut, ...recording }));
    const backwardSeries = await timeSeries(gpu, settings, backwardCalls);
    const backward = measured(BACKWARD_BYTES_PER_ELEMENT, backwardSeries, await timePasses(gpu, settings, backwardCalls, backwardSeries));
    await beginPhase('GPU residual add + ReLU, fused and unfused');
    const residual = await measureResidual(gpu, runs[0]!.gpu, settings, {
      x, xTensor, shape, seed, forwardOptions, referenceOptions, out: forwardOut, copyGBps: copyMeasurement.gbps,
    });

    const [mean, invstd] = [await saveMean.toArray(), await saveInvstd.toArray()];
    const gradients = { dx: new Float32Array(elements), dweight: new Float32Array(channels), dbias: new Float32Array(channels) };
    const cpuBackwardFloat32Ms = await timeCpu(settings, () => cpuBackwardFloat32(dy, x, shape, { weight, mean, invstd }, gradients));

    await beginPhase('CPU float64 reference and float32 loop');
    const cpuReferenceMs = await timeCpu(settings, () => batchNormReference(x, shape, referenceOptions));
    const yCpu = new Float32Array(elements);
    const cpuFloat32Ms = await timeCpu(settings, () => cpuForwardFloat32(x, shape, { weight, bias, eps: DEFAULT_EPS }, yCpu));

    return {
      label,
      shape: [...shape],
      elements,
      copy: copyMeasurement,
      variants: runs.map(({ variant }, i) => ({
        label: variant.label,
        forward: forward[i]!,
        inference: inference[i]!,
        backward: backward[i]!,
        maxAbsError: accuracies[i]!.maxAbsError,
        passed: accuracies[i]!.passed,
      })),
      firstCallMs,
      hostCallMs,
      cpuReferenceMs,
      cpuFloat32Ms,
      cpuBackwardFloat32Ms,
      residual,
    };
  } finally {
    copy?.destroy();
    for (const tensor of tensors) tensor.destroy();
  }
}

/** What the residual comparison needs of a row's measurement. */
interface ResidualInputs {
  readonly x: Float32Array;
  readonly xTensor: Tensor;
  readonly shape: readonly number[];
  readonly seed: number;
  readonly forwardOptions: BatchNormOptions;
  /** The float64 reference's options of that forward (weight 1, bias 0). */
  readonly referenceOptions: Parameters<typeof batchNormReference>[2] & { weight: Float32Array; bias: Float32Array };
  /** The training forward's out tensors (the fused call writes its y there). */
  readonly out: { readonly y: Tensor; readonly saveMean: Tensor; readonly saveInvstd: Tensor };
  readonly copyGBps: number;
}

/**
 * y = relu(bn(x) + z) in a training forward on `run` (the baseline variant's Gpu): fused against
 * batchNorm then the add+ReLU kernel, each checked once, then timed interleaved.
 */
async function measureResidual(gpu: Gpu, run: Gpu, settings: BenchmarkSettings, inputs: ResidualInputs): Promise<ResidualComparison> {
  const { x, xTensor, shape, forwardOptions, referenceOptions, out } = inputs;
  const elements = numElements(shape);
  const z = unitNoise(elements, inputs.seed + 2000);
  const addRelu = new AddReluKernel(gpu, shape, z);
  try {
    const fused: GpuCall = (recording) => batchNorm(run, xTensor, { ...forwardOptions, activation: 'relu', residual: addRelu.z, out, ...recording });
    // The sequence's time runs from the start of batchNorm's pass to the end of the add+ReLU kernel's.
    const unfused: GpuCall = ({ encoder, timestampWrites }) => {
      const { querySet, beginningOfPassWriteIndex: begin, endOfPassWriteIndex: end } = timestampWrites ?? {};
      const first = querySet && begin !== undefined ? { querySet, beginningOfPassWriteIndex: begin } : undefined;
      const last = querySet && end !== undefined ? { querySet, endOfPassWriteIndex: end } : undefined;
      batchNorm(run, xTensor, { ...forwardOptions, out: { ...out, y: addRelu.y }, encoder, timestampWrites: first });
      addRelu.record({ encoder, timestampWrites: last });
    };
    const reference = batchNormReference(x, shape, { ...referenceOptions, activation: 'relu', residual: z });
    await inErrorScopes(gpu, async () => {
      const encoder = gpu.device.createCommandEncoder({ label: 'bench residual check' });
      fused({ encoder });
      unfused({ encoder });
      gpu.device.queue.submit([encoder.finish()]);
    });
    const { weight, bias } = referenceOptions;
    const accuracy = (y: Float32Array) => forwardAccuracy(x, shape, y, reference.y, reference, weight, bias, z);
    const [fusedAccuracy, unfusedAccuracy] = [accuracy(await out.y.toArray()), accuracy(await addRelu.result())];
    const [fusedSeries, unfusedSeries] = await timeSeries(gpu, settings, [fused, unfused]);
    const measurement = (series: SeriesResult<TrialResult>, bytesPerElement: number, checked: Accuracy): ResidualMeasurement => {
      const gbps = gigabytesPerSecond(elements, bytesPerElement, series.summary.medianMs);
      return {
        ms: series.summary.medianMs,
        minMs: series.summary.minMs,
        bytesPerElement,
        gbps,
        copyFraction: gbps / inputs.copyGBps,
        iterations: series.iterations,
        warmup: warmupOf(series),
        maxAbsError: checked.maxAbsError,
        passed: checked.passed,
      };
    };
    const fusedMeasurement = measurement(fusedSeries!, RESIDUAL_FUSED_BYTES_PER_ELEMENT, fusedAccuracy);
    const unfusedMeasurement = measurement(unfusedSeries!, RESIDUAL_UNFUSED_BYTES_PER_ELEMENT, unfusedAccuracy);
    return {
      fused: fusedMeasurement,
      unfused: unfusedMeasurement,
      ratio: fusedMeasurement.ms / unfusedMeasurement.ms,
      minRatio: fusedMeasurement.minMs / unfusedMeasurement.minMs,
    };
  } finally {
    addRelu.destroy();
  }
}

/** Per series, its passes' median and least ms per call; null without timestamp-query. */
type PassSummaries = ReturnType<typeof summarizePasses>[] | null;

/** The calls' GPU times, interleaved trial by trial, warmed until stable. */
async function timeSeries(gpu: Gpu, settings: BenchmarkSettings, calls: readonly GpuCall[]): Promise<SeriesResult<TrialResult>[]> {
  const spans = gpu.features.timestampQuery ? calls.map(() => new TimestampSpan(gpu)) : null;
  try {
    // A GPU error while timing fails the run: its times would be of work that did not run.
    return await inErrorScopes(gpu, () =>
      interleavedTrials(
        settings,
        calls.map((call, i) => callTrial(gpu, spans?.[i] ?? null, call)),
        'until-stable',
      ),
    );
  } finally {
    for (const span of spans ?? []) span.destroy();
  }
}

/**
 * The calls' GPU times pass by pass, interleaved and warmed like timeSeries, with the calls per trial
 * `totals` had (as many as the query set holds); null without timestamp-query.
 */
async function timePasses(gpu: Gpu, settings: BenchmarkSettings, calls: readonly GpuCall[], totals: readonly SeriesResult<TrialResult>[]): Promise<PassSummaries> {
  if (!gpu.features.timestampQuery) return null;
  const timers = calls.map(() => new PassTimestamps(gpu));
  try {
    const series = await inErrorScopes(gpu, () =>
      interleavedTrials(
        settings,
        calls.map((call, i) => passTrial(gpu, timers[i]!, call, countPasses(gpu, timers[i]!, call))),
        'until-stable',
        totals.map((t) => t.iterations),
      ),
    );
    return series.map((s) => summarizePasses(s.kept.map((trial) => trial.passes)));
  } finally {
    for (const timer of timers) timer.destroy();
  }
}

function warmupOf(series: SeriesResult<TrialResult>): WarmupRecord {
  return { trials: series.warmupMs.length, stable: series.stable };
}

/** One operation's measurement: its time, bandwidth and fraction of the copy's, and its passes'. */
function gpuMeasurement(
  elements: number,
  bytesPerElement: number,
  series: SeriesResult<TrialResult>,
  passes: ReturnType<typeof summarizePasses> | null,
  copyGBps: number,
): GpuMeasurement {
  const gbps = gigabytesPerSecond(elements, bytesPerElement, series.summary.medianMs);
  return {
    ms: series.summary.medianMs,
    minMs: series.summary.minMs,
    gbps,
    copyFraction: gbps / copyGBps,
    iterations: series.iterations,
    warmup: warmupOf(series),
    passes:
      passes?.map(({ kernel, medianMs, minMs }) => {
        const bytes = KERNEL_BYTES_PER_ELEMENT[kernel as KernelName] ?? null;
        const passGBps = bytes === null ? null : gigabytesPerSecond(elements, bytes, medianMs);
        return { kernel, ms: medianMs, minMs, bytesPerElement: bytes, gbps: passGBps, copyFraction: passGBps === null ? null : passGBps / copyGBps };
      }) ?? null,
  };
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

/** Median CPU time per call, trials of repeated calls sized like the GPU's. */
async function timeCpu(settings: BenchmarkSettings, call: () => void): Promise<number> {
  const { ms } = await medianOfTrials(settings, (iterations) => {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) call();
    return (performance.now() - start) / iterations;
  });
  return ms;
}
