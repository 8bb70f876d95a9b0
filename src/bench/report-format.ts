// Text forms of a benchmark report: the terminal summary table, CSV (one row per shape) and JSON.
import type { BenchmarkReport, BenchmarkRow } from './benchmark.js';
import { caseKey, caseLabel, findComparison, PEER_CASES, shortLibraryName, type PeerComparison, type PeerTiming } from './peers.js';

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
  // ours / the fastest peer that passed its check, per mode and layout; empty without peers.
  ...PEER_CASES.map((peerCase) => ({ header: `peer_ratio_${caseKey(peerCase)}`, value: (r: BenchmarkRow) => findComparison(r.peers, peerCase)?.ratio ?? '' })),
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

/** Columns of text under a rule: the first `leftColumns` left-aligned (names), the others right-aligned (numbers). */
function textTable(headers: readonly string[], body: readonly (readonly string[])[], leftColumns = 1): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((cell, i) => (i < leftColumns ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)];
}

/** A ratio cell: the ratio and the peer it is against, or why there is none. */
export function ratioCell(comparison: PeerComparison | undefined): string {
  if (!comparison) return '-';
  if (comparison.ratio === null) {
    if (!comparison.ours.passed) return 'ours failed';
    return comparison.peers.length > 0 ? 'peers failed' : 'no peer';
  }
  return `${formatNumber(comparison.ratio)} ${shortLibraryName(comparison.bestPeer!)}`;
}

/** A library's time in a case: ms when it passed, marked FAIL when its output failed the check, 'error' when it did not run. */
export function timingCell(timing: PeerTiming | undefined): string {
  if (!timing) return '-';
  if (timing.ms === null) return 'error';
  return timing.passed ? formatNumber(timing.ms) : `${formatNumber(timing.ms)} FAIL`;
}

/**
 * The peer comparison: ours / best peer per shape and case, then each library's time per case, then any
 * failure's reason. Empty when the report has no peers.
 */
export function formatPeers(report: BenchmarkReport): string[] {
  const { peers } = report;
  if (!peers) return [];
  const rows = report.rows.filter((r) => r.peers);
  const ratioTable = textTable(
    ['shape', ...PEER_CASES.map(caseLabel)],
    rows.map((r) => [r.shape.join('x'), ...PEER_CASES.map((c) => ratioCell(findComparison(r.peers, c)))]),
  );
  const libraries = peers.libraries;
  const timeTable = textTable(
    ['shape', 'case', ...libraries.map((l) => `${shortLibraryName(l)} ms`)],
    rows.flatMap((r) =>
      (r.peers ?? []).map((c) => {
        const timings = [c.ours, ...c.peers];
        return [r.shape.join('x'), caseLabel(c), ...libraries.map((l) => timingCell(timings.find((t) => t.library === l)))];
      }),
    ),
    2,
  );
  const failures = rows.flatMap((r) =>
    (r.peers ?? []).flatMap((c) =>
      [c.ours, ...c.peers]
        .filter((t) => !t.passed)
        .map((t) => `  ${r.shape.join('x')} ${caseLabel(c)}, ${t.library}: ${t.error ?? `${t.worstOutput} off by ${formatNumber(t.worstRatio)}x its tolerance`}`),
    ),
  );
  return [
    `peers: ${libraries.join(', ')}`,
    `  timing: ${peers.timing}; ${peers.statistic}`,
    `  ratio: ${peers.ratio}; checks: y (and dx, dweight, dbias) against the float64 reference, tolerances of src/tolerances.ts`,
    '',
    ...ratioTable,
    '',
    ...timeTable,
    ...(failures.length > 0 ? ['', 'failed (not counted as best peer):', ...failures] : []),
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
  const peers = formatPeers(report);
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
    ...textTable(headers, body),
    ...(peers.length > 0 ? ['', ...peers] : []),
  ].join('\n');
}
