// Text forms of a benchmark report: the terminal summary table, CSV (one row per shape) and JSON.
import type { BenchmarkReport, BenchmarkRow } from './benchmark.js';

interface Column {
  readonly header: string;
  readonly value: (row: BenchmarkRow) => string | number;
}

const COLUMNS: readonly Column[] = [
  { header: 'label', value: (r) => r.label },
  { header: 'shape', value: (r) => r.shape.join('x') },
  { header: 'elements', value: (r) => r.elements },
  { header: 'gpu_forward_ms', value: (r) => r.gpuForwardMs },
  { header: 'gpu_forward_gbps', value: (r) => r.gpuForwardGBps },
  { header: 'gpu_inference_ms', value: (r) => r.gpuInferenceMs },
  { header: 'gpu_inference_gbps', value: (r) => r.gpuInferenceGBps },
  { header: 'gpu_iterations', value: (r) => r.gpuIterations },
  { header: 'first_call_ms', value: (r) => r.firstCallMs },
  { header: 'host_call_ms', value: (r) => r.hostCallMs },
  { header: 'cpu_reference_f64_ms', value: (r) => r.cpuReferenceMs },
  { header: 'cpu_f32_ms', value: (r) => r.cpuFloat32Ms },
  { header: 'speedup_vs_reference', value: (r) => r.speedupVsReference },
  { header: 'speedup_vs_f32', value: (r) => r.speedupVsFloat32 },
  { header: 'gpu_backward_ms', value: (r) => r.gpuBackwardMs },
  { header: 'gpu_backward_gbps', value: (r) => r.gpuBackwardGBps },
  { header: 'cpu_backward_f32_ms', value: (r) => r.cpuBackwardFloat32Ms },
  { header: 'backward_speedup_vs_f32', value: (r) => r.backwardSpeedupVsFloat32 },
  { header: 'max_abs_error', value: (r) => r.maxAbsError },
  { header: 'passed', value: (r) => String(r.passed) },
];

export function reportToCsv(rows: readonly BenchmarkRow[]): string {
  const quote = (cell: string | number) => {
    const text = String(cell);
    return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  const lines = [COLUMNS.map((c) => c.header).join(',')];
  for (const row of rows) lines.push(COLUMNS.map((c) => quote(c.value(row))).join(','));
  return `${lines.join('\n')}\n`;
}

export function reportToJson(report: BenchmarkReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** Three significant digits, without exponent noise for everyday magnitudes. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (value !== 0 && (Math.abs(value) >= 1e6 || Math.abs(value) < 1e-3)) return value.toExponential(2);
  return Number(value.toPrecision(3)).toString();
}

/** The composition measurement's lines: recorded into one encoder vs separate calls, host + queue time. */
export function formatComposition({ composition: c, environment }: BenchmarkReport): string[] {
  const shape = c.shape.join('x');
  return [
    `composition, host + queue time on ${environment.adapter.label}: ${c.calls} training forwards ${shape}, each into its own out tensors,`,
    `  recorded into one encoder, one submit: ${formatNumber(c.recordedMs)} ms; ${c.calls} separate calls (${c.calls} submits): ` +
      `${formatNumber(c.separateMs)} ms (separate / recorded = ${formatNumber(c.separateMs / c.recordedMs)}); both closed by ` +
      `queue.onSubmittedWorkDone(), wall clock, median of trials`,
    `  of which host until submitted: recorded ${formatNumber(c.recordedHostMs)} ms, separate ${formatNumber(c.separateHostMs)} ms; ` +
      `host-side time of one call at ${shape} (idle queue): ${formatNumber(c.hostCallMs)} ms`,
  ];
}

/** The header lines and a fixed-width table, as `npm run bench` and `bench:node` print them. */
export function formatSummary(report: BenchmarkReport): string {
  const { environment, compile } = report;
  const headers = ['shape', 'elements', 'GPU ms', 'GB/s', 'inf GPU ms', 'inf GB/s', 'CPU f64 ms', 'CPU f32 ms', 'x f64', 'x f32'];
  headers.push('bwd GPU ms', 'bwd GB/s', 'bwd CPU f32', 'bwd x f32', 'max |err|', 'ok');
  const body = report.rows.map((r) => {
    return [
      r.shape.join('x'),
      String(r.elements),
      formatNumber(r.gpuForwardMs),
      formatNumber(r.gpuForwardGBps),
      formatNumber(r.gpuInferenceMs),
      formatNumber(r.gpuInferenceGBps),
      formatNumber(r.cpuReferenceMs),
      formatNumber(r.cpuFloat32Ms),
      formatNumber(r.speedupVsReference),
      formatNumber(r.speedupVsFloat32),
      formatNumber(r.gpuBackwardMs),
      formatNumber(r.gpuBackwardGBps),
      formatNumber(r.cpuBackwardFloat32Ms),
      formatNumber(r.backwardSpeedupVsFloat32),
      r.maxAbsError.toExponential(1),
      r.passed ? 'yes' : 'NO',
    ];
  });
  const widths = headers.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [
    `adapter: ${environment.adapter.label}`,
    `runtime: ${environment.runtime}`,
    `GPU timing: ${report.method.gpuTiming}; ${report.method.statistic}`,
    `training forward (GB/s at ${report.method.forwardBytesPerElement} bytes/element), inference forward (inf, ` +
      `${report.method.inferenceBytesPerElement} bytes/element) and backward (bwd, ` +
      `${report.method.backwardBytesPerElement} bytes/element); x = CPU time / GPU time; max |err| of forward y vs float64`,
    `first call (pipeline compilation) ${formatNumber(compile.firstCallMs)} ms vs steady ${formatNumber(compile.steadyMs)} ms (${compile.label})`,
    `host-side time of one forward call (validate + encode + submit, on an idle queue): ${formatNumber(report.hostCallMs)} ms (median over shapes)`,
    ...formatComposition(report),
    '',
    line(headers),
    line(widths.map((w) => '-'.repeat(w))),
    ...body.map(line),
  ].join('\n');
}
