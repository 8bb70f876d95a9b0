// Reading a saved report: the current schema as it is, and schemas 4 (before per-pass times, the copy
// kernel and variants; the H200 and SwiftShader reference runs of bench-results/ were written in it) and
// 5 (before the residual comparison and the model row) moved into the current shape, with null where they
// measured nothing.
import { REPORT_SCHEMA, type BenchmarkReport, type BenchmarkRow, type GpuMeasurement } from './benchmark.js';
import type { PeerComparison } from './peers.js';
import { COPY_BYTES_PER_ELEMENT, KERNEL_BYTES_PER_ELEMENT } from './statistics.js';
import { DEFAULT_VARIANTS } from './variants.js';

const SCHEMA_4 = 'webgpu-batchnorm-bench/4';
const SCHEMA_5 = 'webgpu-batchnorm-bench/5';

/** A schema 5 report: the current one without the residual comparison and the model row. */
type ReportV5 = Omit<BenchmarkReport, 'schema' | 'rows' | 'method' | 'model'> & {
  readonly schema: typeof SCHEMA_5;
  readonly method: Omit<BenchmarkReport['method'], 'residual'>;
  readonly rows: readonly Omit<BenchmarkRow, 'residual'>[];
};

/** A schema 4 row: the GPU's times flat on the row, one per operation. */
interface RowV4 {
  readonly label: string;
  readonly shape: readonly number[];
  readonly elements: number;
  readonly gpuForwardMs: number;
  readonly gpuForwardGBps: number;
  readonly gpuInferenceMs: number;
  readonly gpuInferenceGBps: number;
  readonly gpuIterations: number;
  readonly firstCallMs: number;
  readonly hostCallMs: number;
  readonly cpuReferenceMs: number;
  readonly cpuFloat32Ms: number;
  readonly gpuBackwardMs: number;
  readonly gpuBackwardGBps: number;
  readonly cpuBackwardFloat32Ms: number;
  readonly maxAbsError: number;
  readonly passed: boolean;
  readonly peers?: readonly PeerComparison[];
}

type ReportV4 = Omit<BenchmarkReport, 'schema' | 'rows' | 'variants' | 'method' | 'model'> & {
  readonly schema: typeof SCHEMA_4;
  readonly method: Pick<BenchmarkReport['method'], 'gpuTiming' | 'cpuTiming' | 'statistic' | 'forwardBytesPerElement' | 'inferenceBytesPerElement' | 'backwardBytesPerElement' | 'settings'>;
  readonly rows: readonly RowV4[];
};

/** A report parsed from JSON, in the current schema; throws naming the schema it cannot read. */
export function readReport(parsed: unknown): BenchmarkReport {
  const schema = (parsed as { schema?: unknown } | null)?.schema;
  if (schema === REPORT_SCHEMA) return parsed as BenchmarkReport;
  if (schema === SCHEMA_5) return fromSchema5(parsed as ReportV5);
  if (schema === SCHEMA_4) return fromSchema4(parsed as ReportV4);
  throw new Error(`not a benchmark report of schema ${REPORT_SCHEMA}, ${SCHEMA_5} or ${SCHEMA_4} (schema: ${JSON.stringify(schema)})`);
}

function fromSchema5(report: ReportV5): BenchmarkReport {
  return {
    ...report,
    schema: REPORT_SCHEMA,
    model: null,
    method: { ...report.method, residual: null },
    rows: report.rows.map((r) => ({ ...r, residual: null })),
  };
}

function fromSchema4(report: ReportV4): BenchmarkReport {
  const measurement = (ms: number, gbps: number, iterations: number | null): GpuMeasurement => ({
    ms,
    minMs: null,
    gbps,
    copyFraction: null,
    iterations,
    warmup: null,
    passes: null,
  });
  const rows = report.rows.map(
    (r): BenchmarkRow => ({
      label: r.label,
      shape: r.shape,
      elements: r.elements,
      copy: null,
      variants: [
        {
          label: DEFAULT_VARIANTS[0]!.label,
          forward: measurement(r.gpuForwardMs, r.gpuForwardGBps, r.gpuIterations),
          // Schema 4 kept the calls per trial of the forward only.
          inference: measurement(r.gpuInferenceMs, r.gpuInferenceGBps, null),
          backward: measurement(r.gpuBackwardMs, r.gpuBackwardGBps, null),
          maxAbsError: r.maxAbsError,
          passed: r.passed,
        },
      ],
      firstCallMs: r.firstCallMs,
      hostCallMs: r.hostCallMs,
      cpuReferenceMs: r.cpuReferenceMs,
      cpuFloat32Ms: r.cpuFloat32Ms,
      cpuBackwardFloat32Ms: r.cpuBackwardFloat32Ms,
      residual: null,
      ...(r.peers ? { peers: r.peers } : {}),
    }),
  );
  return {
    ...report,
    schema: REPORT_SCHEMA,
    method: {
      ...report.method,
      passTiming: null,
      warmup: null,
      roofline: null,
      copyBytesPerElement: COPY_BYTES_PER_ELEMENT,
      kernelBytesPerElement: KERNEL_BYTES_PER_ELEMENT,
      residual: null,
    },
    variants: DEFAULT_VARIANTS,
    rows,
    model: null,
  };
}
