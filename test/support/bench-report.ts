// Benchmark rows and reports made by hand, for the tests of the report's formats (no GPU run behind them).
import {
  DEFAULT_SETTINGS,
  REPORT_SCHEMA,
  type BenchmarkReport,
  type BenchmarkRow,
  type GpuMeasurement,
  type ResidualComparison,
  type ResidualMeasurement,
  type VariantRow,
} from '../../bench/benchmark.js';
import type { ModelStepReport } from '../../bench/model-step.js';
import type { PeerComparison } from '../../bench/peers.js';
import { COPY_BYTES_PER_ELEMENT, KERNEL_BYTES_PER_ELEMENT, RESIDUAL_FUSED_BYTES_PER_ELEMENT, RESIDUAL_UNFUSED_BYTES_PER_ELEMENT } from '../../bench/statistics.js';
import type { GpuVariant } from '../../bench/variants.js';

/** A measurement of `ms` per call, 1 GB/s, half the copy's bandwidth, settled after 3 warm-up trials. */
export function measurement(ms: number, extra: Partial<GpuMeasurement> = {}): GpuMeasurement {
  return { ms, minMs: ms * 0.9, gbps: 1, copyFraction: 0.5, iterations: 10, warmup: { trials: 3, stable: true }, passes: null, ...extra };
}

export function variantRow(label: string, ms = 1, extra: Partial<VariantRow> = {}): VariantRow {
  return { label, forward: measurement(ms), inference: measurement(ms / 2), backward: measurement(ms * 2), maxAbsError: 1e-7, passed: true, ...extra };
}

/** The residual comparison: fused in `fusedMs`, unfused in `unfusedMs`, each checked and settled. */
export function residualComparison(fusedMs: number, unfusedMs: number): ResidualComparison {
  const side = (ms: number, bytesPerElement: number): ResidualMeasurement => ({
    ms, minMs: ms * 0.9, bytesPerElement, gbps: 1, copyFraction: 0.5, iterations: 10, warmup: { trials: 3, stable: true }, maxAbsError: 1e-7, passed: true,
  });
  const fused = side(fusedMs, RESIDUAL_FUSED_BYTES_PER_ELEMENT);
  const unfused = side(unfusedMs, RESIDUAL_UNFUSED_BYTES_PER_ELEMENT);
  return { fused, unfused, ratio: fusedMs / unfusedMs, minRatio: fused.minMs / unfused.minMs };
}

export function sampleRow(
  options: { peers?: readonly PeerComparison[]; variants?: readonly VariantRow[]; shape?: readonly [number, number, number, number]; residual?: ResidualComparison | null } = {},
): BenchmarkRow {
  const shape = options.shape ?? [2, 8, 8, 8];
  return {
    label: `small ${shape.join('x')}`,
    shape,
    elements: shape.reduce((a, b) => a * b, 1),
    copy: { ms: 0.5, minMs: 0.45, gbps: 2, iterations: 10, warmup: { trials: 3, stable: true } },
    variants: options.variants ?? [variantRow('default')],
    firstCallMs: 1,
    hostCallMs: 1,
    cpuReferenceMs: 4,
    cpuFloat32Ms: 2,
    cpuBackwardFloat32Ms: 8,
    residual: options.residual === undefined ? residualComparison(0.8, 1.2) : options.residual,
    ...(options.peers ? { peers: options.peers } : {}),
  };
}

export function sampleReport(
  rows: readonly BenchmarkRow[],
  options: { libraries?: readonly string[]; variants?: readonly GpuVariant[]; model?: ModelStepReport } = {},
): BenchmarkReport {
  return {
    schema: REPORT_SCHEMA,
    createdAt: '2026-01-01T00:00:00.000Z',
    environment: {
      adapter: { vendor: 'test', architecture: '', device: '', description: '', isFallbackAdapter: false, emulated: false, label: 'test adapter' },
      runtime: 'test runtime',
      features: { subgroups: true, shaderF16: false, timestampQuery: true },
      limits: {},
    },
    method: {
      gpuTiming: 'timestamps',
      passTiming: 'each pass in its own compute pass',
      cpuTiming: 'wall',
      statistic: 'median',
      warmup: 'until stable',
      roofline: 'the copy kernel',
      forwardBytesPerElement: 12,
      inferenceBytesPerElement: 8,
      backwardBytesPerElement: 20,
      copyBytesPerElement: COPY_BYTES_PER_ELEMENT,
      kernelBytesPerElement: KERNEL_BYTES_PER_ELEMENT,
      residual: 'fused against batchNorm then add+ReLU',
      settings: DEFAULT_SETTINGS,
    },
    variants: options.variants ?? [{ label: 'default', options: {} }],
    compile: { label: 'small', firstCallMs: 1, steadyMs: 1 },
    hostCallMs: 1,
    composition: { method: '', shape: [1], calls: 1, recordedMs: 1, separateMs: 1, recordedTrialsMs: [], separateTrialsMs: [], recordedHostMs: 1, separateHostMs: 1, hostCallMs: 1 },
    peers: options.libraries ? { timing: 'wall time', statistic: 'median', ratio: 'ours / best', libraries: options.libraries } : null,
    rows,
    model: options.model ?? null,
  };
}
