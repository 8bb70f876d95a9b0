// Text forms of a benchmark report: the terminal summary tables, CSV (one row per shape and variant) and JSON.
import { baselineOf, formatPercent, OPERATIONS, speedups, type BenchmarkReport, type BenchmarkRow, type GpuMeasurement, type Operation, type VariantRow } from './benchmark.js';
import type { ModelStepReport, ModelStepRow, ModelStepTiming } from './model-step.js';
import { caseKey, caseLabel, findComparison, PEER_CASES, shortLibraryName, type PeerComparison, type PeerTiming } from './peers.js';

interface Column {
  readonly header: string;
  readonly value: (row: BenchmarkRow, variant: VariantRow) => string | number;
}

/** A nullable number as a CSV cell: empty where there is none. */
const cell = (value: number | null | undefined): string | number => value ?? '';

/** The passes of a measurement as one CSV cell: `kernel=ms` separated by spaces. */
const passesCell = (m: GpuMeasurement) => m.passes?.map((p) => `${p.kernel}=${p.ms}`).join(' ') ?? '';

const operationColumns = (operation: Operation): Column[] => [
  { header: `gpu_${operation}_ms`, value: (_, v) => v[operation].ms },
  { header: `gpu_${operation}_min_ms`, value: (_, v) => cell(v[operation].minMs) },
  { header: `gpu_${operation}_gbps`, value: (_, v) => v[operation].gbps },
  { header: `gpu_${operation}_of_copy`, value: (_, v) => cell(v[operation].copyFraction) },
  { header: `gpu_${operation}_iterations`, value: (_, v) => cell(v[operation].iterations) },
  { header: `gpu_${operation}_passes_ms`, value: (_, v) => passesCell(v[operation]) },
];

const COLUMNS: readonly Column[] = [
  { header: 'label', value: (r) => r.label },
  { header: 'shape', value: (r) => r.shape.join('x') },
  { header: 'elements', value: (r) => r.elements },
  { header: 'variant', value: (_, v) => v.label },
  { header: 'copy_ms', value: (r) => cell(r.copy?.ms) },
  { header: 'copy_min_ms', value: (r) => cell(r.copy?.minMs) },
  { header: 'copy_gbps', value: (r) => cell(r.copy?.gbps) },
  ...OPERATIONS.flatMap(operationColumns),
  { header: 'first_call_ms', value: (r) => r.firstCallMs },
  { header: 'host_call_ms', value: (r) => r.hostCallMs },
  { header: 'cpu_reference_f64_ms', value: (r) => r.cpuReferenceMs },
  { header: 'cpu_f32_ms', value: (r) => r.cpuFloat32Ms },
  { header: 'cpu_backward_f32_ms', value: (r) => r.cpuBackwardFloat32Ms },
  // CPU time / this variant's GPU time.
  { header: 'speedup_vs_reference', value: (r, v) => r.cpuReferenceMs / v.forward.ms },
  { header: 'speedup_vs_f32', value: (r, v) => r.cpuFloat32Ms / v.forward.ms },
  { header: 'backward_speedup_vs_f32', value: (r, v) => r.cpuBackwardFloat32Ms / v.backward.ms },
  // ours / the fastest peer that passed its check, per mode and layout; empty without peers.
  ...PEER_CASES.map((peerCase) => ({ header: `peer_ratio_${caseKey(peerCase)}`, value: (r: BenchmarkRow) => findComparison(r.peers, peerCase)?.ratio ?? '' })),
  // The residual comparison (the baseline variant's, on every line of the row); empty in older reports.
  ...(['fused', 'unfused'] as const).flatMap((side): Column[] => [
    { header: `residual_${side}_ms`, value: (r) => cell(r.residual?.[side].ms) },
    { header: `residual_${side}_min_ms`, value: (r) => cell(r.residual?.[side].minMs) },
    { header: `residual_${side}_bytes_per_element`, value: (r) => cell(r.residual?.[side].bytesPerElement) },
    { header: `residual_${side}_gbps`, value: (r) => cell(r.residual?.[side].gbps) },
  ]),
  { header: 'residual_fused_over_unfused', value: (r) => cell(r.residual?.ratio) },
  { header: 'residual_passed', value: (r) => (r.residual ? String(r.residual.fused.passed && r.residual.unfused.passed) : '') },
  { header: 'max_abs_error', value: (_, v) => v.maxAbsError },
  { header: 'passed', value: (_, v) => String(v.passed) },
];

/** One line per shape and variant (one per shape without variants). */
export function reportToCsv(rows: readonly BenchmarkRow[]): string {
  const quote = (value: string | number) => {
    const text = String(value);
    return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  const lines = [COLUMNS.map((c) => c.header).join(',')];
  for (const row of rows) {
    for (const variant of row.variants) lines.push(COLUMNS.map((c) => quote(c.value(row, variant))).join(','));
  }
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
    `  ratio: ${peers.ratio}; checks: y (and dx, dweight, dbias) against the float64 reference, tolerances of src/reference/tolerances.ts`,
    '',
    ...ratioTable,
    '',
    ...timeTable,
    ...(failures.length > 0 ? ['', 'failed (not counted as best peer):', ...failures] : []),
  ];
}

/**
 * A measured batch of the model row, between its batch and its verdict: each model's step time, ours /
 * tfjs's, each model's batch norm time and share, and the first losses' difference (the text table's and
 * the demo's columns).
 */
export function modelStepCells(r: ModelStepRow & { tfjs: ModelStepTiming; ours: ModelStepTiming }): string[] {
  return [
    formatNumber(r.tfjs.stepMs),
    formatNumber(r.ours.stepMs),
    r.stepRatio === null ? '-' : formatNumber(r.stepRatio),
    formatNumber(r.tfjs.batchNormMs),
    formatPercent(r.tfjs.batchNormShare),
    formatNumber(r.ours.batchNormMs),
    formatPercent(r.ours.batchNormShare),
    r.lossDifference === null ? '-' : r.lossDifference.toExponential(1),
  ];
}

/** The model row's table: per batch, each model's step and batch norm time, batch norm's share, ours / tfjs's step. */
export function modelStepTable(model: ModelStepReport): string[] {
  const headers = ['batch', 'tfjs step ms', 'ours step ms', 'ours / tfjs', 'tfjs BN ms', 'tfjs BN share', 'ours BN ms', 'ours BN share', 'loss diff', 'ok'];
  const body = model.rows.map((r) => {
    if (!r.tfjs || !r.ours) return [String(r.batch), `error: ${r.error ?? 'not measured'}`, ...headers.slice(2).map(() => '')];
    return [String(r.batch), ...modelStepCells({ ...r, tfjs: r.tfjs, ours: r.ours }), r.passed ? 'yes' : 'NO'];
  });
  return textTable(headers, body);
}

/** The model row: what it times, and its table. Empty when the report has none. */
export function formatModelSteps(report: BenchmarkReport): string[] {
  const { model } = report;
  if (!model) return [];
  return [
    `model step: ${model.network}`,
    `  batch norm: ${model.libraries.tfjs} against ${model.libraries.ours}`,
    `  step: ${model.stepTiming}`,
    `  BN: ${model.batchNormTiming}; BN share = BN ms / step ms`,
    `  ${model.statistic}; check: ${model.check}`,
    '',
    ...modelStepTable(model),
  ];
}

/** A fraction of the copy kernel's bandwidth, or '-' where there is none (a schema 4 report). */
export function fractionCell(fraction: number | null): string {
  return fraction === null ? '-' : formatPercent(fraction);
}

/** The warm-up trials of a row's variant, forward/inference/backward, '*' marking one that never settled. */
function warmupCell(v: VariantRow): string {
  return OPERATIONS.map((op) => {
    const w = v[op].warmup;
    return w === null ? '-' : `${w.trials}${w.stable === false ? '*' : ''}`;
  }).join('/');
}

/** Short names of the operations in table headers. */
const OPERATION_SHORT: Readonly<Record<Operation, string>> = { forward: 'fwd', inference: 'inf', backward: 'bwd' };

/** The GPU table: per shape (and variant), each operation's median and least ms and its share of the copy's bandwidth. */
export function formatGpuTable(report: BenchmarkReport): string[] {
  const many = report.variants.length > 1;
  const headers = ['shape', ...(many ? ['variant'] : []), 'elements', 'copy GB/s'];
  for (const op of OPERATIONS) headers.push(`${OPERATION_SHORT[op]} ms`, `${OPERATION_SHORT[op]} min`, `${OPERATION_SHORT[op]} of copy`);
  headers.push('warm-up', 'max |err|', 'ok');
  const body = report.rows.flatMap((r) =>
    r.variants.map((v) => [
      r.shape.join('x'),
      ...(many ? [v.label] : []),
      String(r.elements),
      r.copy ? formatNumber(r.copy.gbps) : '-',
      ...OPERATIONS.flatMap((op) => [formatNumber(v[op].ms), v[op].minMs === null ? '-' : formatNumber(v[op].minMs), fractionCell(v[op].copyFraction)]),
      warmupCell(v),
      v.maxAbsError.toExponential(1),
      v.passed ? 'yes' : 'NO',
    ]),
  );
  return textTable(headers, body, many ? 2 : 1);
}

/** A measurement's passes in one cell: `kernel ms (share of copy)`, joined by ' | '. */
export function passesText(m: GpuMeasurement): string {
  if (!m.passes) return '-';
  return m.passes.map((p) => `${p.kernel} ${formatNumber(p.ms)}${p.copyFraction === null ? '' : ` (${formatPercent(p.copyFraction)})`}`).join(' | ');
}

/** Per shape, variant and operation: its passes' median ms per call and share of the copy's bandwidth. Empty without per-pass times. */
export function formatPasses(report: BenchmarkReport): string[] {
  if (!report.rows.some((r) => r.variants.some((v) => OPERATIONS.some((op) => v[op].passes)))) return [];
  const many = report.variants.length > 1;
  const body = report.rows.flatMap((r) =>
    r.variants.flatMap((v) =>
      OPERATIONS.map((op) => {
        const passes = v[op].passes;
        const sum = passes ? passes.reduce((total, p) => total + p.ms, 0) : null;
        return [r.shape.join('x'), ...(many ? [v.label] : []), op, sum === null ? '-' : formatNumber(sum), passesText(v[op])];
      }),
    ),
  );
  return [
    `passes: ${report.method.passTiming}; ms per call, median; (share of the copy kernel's bandwidth) where a pass moves tensors of x's shape`,
    '',
    ...textTable(['shape', ...(many ? ['variant'] : []), 'operation', 'sum ms', 'passes'], body, many ? 4 : 3),
  ];
}

/** With variants: each one's time / the baseline's, per shape and operation, of the medians and of the minima. */
export function formatVariantRatios(report: BenchmarkReport): string[] {
  const [baseline, ...others] = report.variants;
  if (!baseline || others.length === 0) return [];
  const headers = ['shape'];
  for (const other of others) for (const op of OPERATIONS) headers.push(`${OPERATION_SHORT[op]} ${other.label}`);
  const ratio = (a: number | null, b: number | null) => (a === null || b === null ? '-' : formatNumber(a / b));
  const body = report.rows.map((r) => {
    const base = baselineOf(r);
    return [
      r.shape.join('x'),
      ...r.variants.slice(1).flatMap((v) => OPERATIONS.map((op) => `${ratio(v[op].ms, base[op].ms)} (${ratio(v[op].minMs, base[op].minMs)})`)),
    ];
  });
  return [
    `variants: time / the baseline's (${baseline.label}), median (minimum); below 1 the variant is faster`,
    '',
    ...textTable(headers, body),
  ];
}

/**
 * The residual comparison: per shape, the fused and the unfused training forward of relu(bn(x) + z), median
 * and least ms, share of the copy's bandwidth, and fused / unfused. Empty for reports without it.
 */
export function formatResidual(report: BenchmarkReport): string[] {
  const rows = report.rows.filter((r) => r.residual);
  const first = rows[0]?.residual;
  if (!first) return [];
  const sides = ['fused', 'unfused'] as const;
  const headers = ['shape', ...sides.flatMap((side) => [`${side} ms`, `${side} min`, `${side} of copy`]), 'fused/unfused (min)', 'ok'];
  const body = rows.map((r) => {
    const residual = r.residual!;
    return [
      r.shape.join('x'),
      ...sides.flatMap((side) => [formatNumber(residual[side].ms), formatNumber(residual[side].minMs), formatPercent(residual[side].copyFraction)]),
      `${formatNumber(residual.ratio)} (${formatNumber(residual.minRatio)})`,
      residual.fused.passed && residual.unfused.passed ? 'yes' : 'NO',
    ];
  });
  return [
    `residual add + ReLU: ${report.method.residual ?? ''}`,
    `bytes per element: fused ${first.fused.bytesPerElement}, unfused ${first.unfused.bytesPerElement} ` +
      `(fused/unfused ${formatNumber(first.fused.bytesPerElement / first.unfused.bytesPerElement)})`,
    '',
    ...textTable(headers, body),
  ];
}

/** The CPU table: the loops' times and the baseline's speed-up over them. */
export function formatCpuTable(report: BenchmarkReport): string[] {
  const headers = ['shape', 'CPU f64 ms', 'CPU f32 ms', 'x f64', 'x f32', 'bwd CPU f32', 'bwd x f32'];
  const body = report.rows.map((r) => {
    const x = speedups(r);
    return [
      r.shape.join('x'),
      formatNumber(r.cpuReferenceMs),
      formatNumber(r.cpuFloat32Ms),
      formatNumber(x.vsReference),
      formatNumber(x.vsFloat32),
      formatNumber(r.cpuBackwardFloat32Ms),
      formatNumber(x.backwardVsFloat32),
    ];
  });
  return textTable(headers, body);
}

/** The header lines and the tables, as `npm run bench` and `bench:node` print them. */
export function formatSummary(report: BenchmarkReport): string {
  const { environment, compile, method } = report;
  const variants = report.variants.map((v, i) => `${v.label}${i === 0 ? ' (baseline)' : ''} ${JSON.stringify(v.options)}`);
  const peers = formatPeers(report);
  const passes = formatPasses(report);
  const ratios = formatVariantRatios(report);
  const residual = formatResidual(report);
  const model = formatModelSteps(report);
  return [
    `adapter: ${environment.adapter.label}`,
    `runtime: ${environment.runtime}`,
    `GPU timing: ${method.gpuTiming}; ${method.statistic}`,
    ...(method.warmup ? [`warm-up: ${method.warmup}`] : []),
    ...(method.roofline ? [`roofline: ${method.roofline}`] : []),
    `bytes per element: training forward ${method.forwardBytesPerElement}, inference forward ${method.inferenceBytesPerElement}, ` +
      `backward ${method.backwardBytesPerElement}, copy ${method.copyBytesPerElement}; "of copy" = GB/s / the copy kernel's GB/s at that size`,
    `variants: ${variants.join('; ')}`,
    `first call (pipeline compilation) ${formatNumber(compile.firstCallMs)} ms vs steady ${formatNumber(compile.steadyMs)} ms (${compile.label})`,
    `host-side time of one forward call (validate + encode + submit, on an idle queue): ${formatNumber(report.hostCallMs)} ms (median over shapes)`,
    ...formatComposition(report),
    '',
    `GPU, ms per call (warm-up: trials before the timed ones, forward/inference/backward, * = not settled; max |err| of forward y vs float64):`,
    '',
    ...formatGpuTable(report),
    ...(passes.length > 0 ? ['', ...passes] : []),
    ...(ratios.length > 0 ? ['', ...ratios] : []),
    ...(residual.length > 0 ? ['', ...residual] : []),
    '',
    'CPU, ms per call (x = CPU time / the baseline GPU time):',
    '',
    ...formatCpuTable(report),
    ...(peers.length > 0 ? ['', ...peers] : []),
    ...(model.length > 0 ? ['', ...model] : []),
  ].join('\n');
}
