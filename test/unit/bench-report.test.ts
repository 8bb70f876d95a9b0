// The benchmark report without a GPU: per-pass times from timestamps, the tables and CSV with passes,
// roofline fractions and variants, the residual comparison, the model row, reading schema 4 and 5
// reports, and the parsing of variants and of the model row's batches.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatPercent, REPORT_SCHEMA } from '../../bench/benchmark.js';
import { perCallPassTimes, summarizePasses } from '../../bench/gpu-timing.js';
import { failedModelRow, modelRow, parseModelBatches, type ModelStepReport, type ModelStepTiming } from '../../bench/model-step.js';
import { formatGpuTable, formatModelSteps, formatPasses, formatResidual, formatSummary, formatVariantRatios, passesText, reportToCsv } from '../../bench/report-format.js';
import { readReport } from '../../bench/report-schema.js';
import { LOSS_AGREEMENT_RTOL } from '../../bench/seed-cnn.js';
import { checkVariants, numericsVariants, parseVariants } from '../../bench/variants.js';
import { RESIDUAL_FUSED_BYTES_PER_ELEMENT, RESIDUAL_UNFUSED_BYTES_PER_ELEMENT } from '../../bench/statistics.js';
import { measurement, residualComparison, sampleReport, sampleRow, variantRow } from '../support/bench-report.js';

describe('per-pass times from timestamps', () => {
  it('sums each kernel over the calls, per call, in the order the kernels first ran', () => {
    // Two calls of stats, finalize, apply: ns pairs.
    const kernels = ['stats', 'finalize', 'apply', 'stats', 'finalize', 'apply'];
    const ticks = [0n, 3000n, 3000n, 3500n, 3600n, 5600n, 10_000n, 13_000n, 13_100n, 13_400n, 13_500n, 15_500n].map(BigInt);
    expect(perCallPassTimes(kernels, ticks, 2)).toEqual([
      { kernel: 'stats', ms: 0.003 },
      { kernel: 'finalize', ms: 0.0004 },
      { kernel: 'apply', ms: 0.002 },
    ]);
    expect(() => perCallPassTimes(kernels, ticks.slice(0, 4), 2)).toThrow(/need 12 timestamps/);
  });

  it('takes each pass’s median and minimum over trials, and refuses trials whose passes differ', () => {
    const trial = (stats: number, apply: number) => [
      { kernel: 'stats', ms: stats },
      { kernel: 'apply', ms: apply },
    ];
    expect(summarizePasses([trial(3, 1), trial(2, 4), trial(5, 2)])).toEqual([
      { kernel: 'stats', medianMs: 3, minMs: 2 },
      { kernel: 'apply', medianMs: 2, minMs: 1 },
    ]);
    expect(() => summarizePasses([trial(1, 1), [{ kernel: 'stats-apply', ms: 1 }]])).toThrow(/no 'stats' pass/);
    expect(() => summarizePasses([])).toThrow(/no trials/);
  });
});

describe('tables with passes, roofline and variants', () => {
  const passes = [
    { kernel: 'stats', ms: 0.2, minMs: 0.19, bytesPerElement: 4, gbps: 500, copyFraction: 0.25 },
    { kernel: 'finalize', ms: 0.004, minMs: 0.004, bytesPerElement: null, gbps: null, copyFraction: null },
    { kernel: 'apply', ms: 0.05, minMs: 0.05, bytesPerElement: 8, gbps: 1800, copyFraction: 0.9 },
  ];
  const old = { ...variantRow('statistics vec4', 1), forward: measurement(0.26, { passes, copyFraction: 0.47 }) };
  const block = { ...variantRow('statistics block', 1), forward: measurement(0.13, { minMs: 0.12, copyFraction: 0.94, warmup: { trials: 10, stable: false } }) };
  const variants = [
    { label: 'statistics vec4', options: {} },
    { label: 'statistics block', options: { reductionWorkgroups: 64 } },
  ];
  const report = sampleReport([sampleRow({ variants: [old, block] })], { variants });

  it('writes percentages of the copy kernel', () => {
    expect(formatPercent(0.473)).toBe('47%');
    expect(formatPercent(1.06)).toBe('106%');
    expect(formatPercent(0.0123)).toBe('1.2%');
  });

  it('shows a line per variant with its median, minimum, share of the copy and warm-up', () => {
    const [header, , first, second] = formatGpuTable(report);
    expect(header).toMatch(/^shape\s+variant\s+elements\s+copy GB\/s\s+fwd ms\s+fwd min\s+fwd of copy/);
    expect(first!.split(/\s{2,}/)).toEqual(['2x8x8x8', 'statistics vec4', '1024', '2', '0.26', '0.234', '47%', '0.5', '0.45', '50%', '2', '1.8', '50%', '3/3/3', '1.0e-7', 'yes']);
    // Not settled: starred.
    expect(second).toContain('10*/3/3');
    expect(second).toContain('94%');
  });

  it('names each pass by its kernel, with its share of the copy where it moves tensors of x’s shape', () => {
    expect(passesText(old.forward)).toBe('stats 0.2 (25%) | finalize 0.004 | apply 0.05 (90%)');
    expect(passesText(block.forward)).toBe('-');
    const lines = formatPasses(report);
    expect(lines[0]).toMatch(/^passes: each pass in its own compute pass/);
    expect(lines.find((l) => l.includes('statistics vec4') && l.includes('forward'))).toMatch(/0\.254\s+stats 0\.2 \(25%\) \| finalize 0\.004 \| apply 0\.05 \(90%\)$/);
    expect(formatPasses(sampleReport([sampleRow()]))).toEqual([]);
  });

  it('divides each variant by the baseline, median and minimum', () => {
    const lines = formatVariantRatios(report);
    expect(lines[0]).toContain("the baseline's (statistics vec4)");
    expect(lines[2]).toMatch(/^shape\s+fwd statistics block\s+inf statistics block\s+bwd statistics block$/);
    expect(lines[4]!.split(/\s{2,}/)).toEqual(['2x8x8x8', '0.5 (0.513)', '1 (1)', '1 (1)']);
    expect(formatVariantRatios(sampleReport([sampleRow()]))).toEqual([]);
  });

  it('writes a CSV line per shape and variant, with the passes and the share of the copy', () => {
    const [head, ...lines] = reportToCsv(report.rows).trim().split('\n');
    const columns = head!.split(',');
    expect(lines).toHaveLength(2);
    const cellsOf = (line: string) => Object.fromEntries(columns.map((c, i) => [c, line.split(',')[i]]));
    expect(cellsOf(lines[0]!)).toMatchObject({ variant: 'statistics vec4', copy_gbps: '2', gpu_forward_of_copy: '0.47', gpu_forward_passes_ms: 'stats=0.2 finalize=0.004 apply=0.05', passed: 'true' });
    expect(cellsOf(lines[1]!)).toMatchObject({ variant: 'statistics block', gpu_forward_ms: '0.13', gpu_forward_min_ms: '0.12', gpu_forward_passes_ms: '' });
    expect(columns.at(-1)).toBe('passed');
  });

  it('lists the variants, the warm-up and the roofline in the summary', () => {
    const summary = formatSummary(report);
    expect(summary).toContain('variants: statistics vec4 (baseline) {}; statistics block {"reductionWorkgroups":64}');
    expect(summary).toContain('warm-up: until stable');
    expect(summary).toContain('roofline: the copy kernel');
  });
});

describe('the residual comparison', () => {
  const report = sampleReport([sampleRow({ residual: residualComparison(0.6, 1.2) }), sampleRow({ shape: [4, 8, 8, 8], residual: residualComparison(3, 2) })]);

  it('moves 16 bytes per element fused (x twice, z, y) against 24 unfused (the forward\'s 12, then y, z and the result)', () => {
    expect(RESIDUAL_FUSED_BYTES_PER_ELEMENT).toBe(16);
    expect(RESIDUAL_UNFUSED_BYTES_PER_ELEMENT).toBe(24);
  });

  it('prints per shape each side\'s median, minimum and share of the copy, and fused / unfused', () => {
    const lines = formatResidual(report);
    expect(lines[0]).toBe('residual add + ReLU: fused against batchNorm then add+ReLU');
    expect(lines[1]).toBe('bytes per element: fused 16, unfused 24 (fused/unfused 0.667)');
    expect(lines[3]).toMatch(/^shape\s+fused ms\s+fused min\s+fused of copy\s+unfused ms\s+unfused min\s+unfused of copy\s+fused\/unfused \(min\)\s+ok$/);
    expect(lines[5]!.split(/\s{2,}/)).toEqual(['2x8x8x8', '0.6', '0.54', '50%', '1.2', '1.08', '50%', '0.5 (0.5)', 'yes']);
    expect(lines[6]!.split(/\s{2,}/)[7]).toBe('1.5 (1.5)');
    expect(formatSummary(report)).toContain('residual add + ReLU: ');
    expect(formatResidual(sampleReport([sampleRow({ residual: null })]))).toEqual([]);
  });

  it('writes its columns into every CSV line of the row', () => {
    const [head, line] = reportToCsv(report.rows).trim().split('\n');
    const columns = head!.split(',');
    const cells = Object.fromEntries(columns.map((c, i) => [c, line!.split(',')[i]]));
    expect(cells).toMatchObject({ residual_fused_ms: '0.6', residual_unfused_ms: '1.2', residual_fused_bytes_per_element: '16', residual_unfused_bytes_per_element: '24', residual_fused_over_unfused: '0.5', residual_passed: 'true' });
  });
});

describe('the model row', () => {
  const timing = (stepMs: number, batchNormMs: number, firstLoss: number): ModelStepTiming => ({
    stepMs,
    stepMinMs: stepMs * 0.9,
    stepsPerTrial: 4,
    batchNormMs,
    batchNormMinMs: batchNormMs * 0.9,
    batchNormCallsPerTrial: 8,
    batchNormShare: batchNormMs / stepMs,
    firstLoss,
    warmup: { trials: 1, stable: null },
  });
  const measured = modelRow(64, timing(20, 8, 2.5), timing(12, 1.5, 2.5 * (1 + 2e-6)), LOSS_AGREEMENT_RTOL);
  const model: ModelStepReport = {
    network: 'the seed CNN',
    libraries: { tfjs: 'tfjs BN', ours: 'our BN' },
    stepTiming: 'trainOnBatch',
    batchNormTiming: 'BN layers alone',
    statistic: 'median',
    check: 'first loss',
    rows: [measured, failedModelRow(256, new Error('GPU error(s): out of memory'))],
  };

  it('divides our step by tfjs’s and checks the first losses against LOSS_AGREEMENT_RTOL', () => {
    expect(measured.stepRatio).toBe(0.6);
    expect(measured.lossDifference).toBeCloseTo(2e-6, 12);
    expect(measured.passed).toBe(true);
    const apart = modelRow(64, timing(20, 8, 2.5), timing(12, 1.5, 2.5 * (1 + 2 * LOSS_AGREEMENT_RTOL)), LOSS_AGREEMENT_RTOL);
    expect(apart.passed).toBe(false);
  });

  it('records a batch that could not run with its reason and no times', () => {
    expect(failedModelRow(256, new Error('out of memory'))).toEqual({ batch: 256, tfjs: null, ours: null, stepRatio: null, lossDifference: null, passed: false, error: 'out of memory' });
  });

  it('prints what it times and a line per batch: step times, their ratio, batch norm’s time and share', () => {
    const lines = formatModelSteps(sampleReport([sampleRow()], { model }));
    expect(lines[0]).toBe('model step: the seed CNN');
    expect(lines).toContain('  BN: BN layers alone; BN share = BN ms / step ms');
    const header = lines.find((l) => l.startsWith('batch'))!;
    expect(header.split(/\s{2,}/)).toEqual(['batch', 'tfjs step ms', 'ours step ms', 'ours / tfjs', 'tfjs BN ms', 'tfjs BN share', 'ours BN ms', 'ours BN share', 'loss diff', 'ok']);
    const [row64, row256] = lines.slice(lines.indexOf(header) + 2);
    expect(row64!.split(/\s{2,}/)).toEqual(['64', '20', '12', '0.6', '8', '40%', '1.5', '13%', '2.0e-6', 'yes']);
    expect(row256).toMatch(/^256\s+error: GPU error\(s\): out of memory\s*$/);
    expect(formatSummary(sampleReport([sampleRow()], { model }))).toContain('\nmodel step: the seed CNN\n');
    expect(formatModelSteps(sampleReport([sampleRow()]))).toEqual([]);
  });

  it('parses the batches: integers of at least 2, separated by commas, none repeated', () => {
    expect(parseModelBatches('64,256')).toEqual([64, 256]);
    expect(parseModelBatches(' 8 ')).toEqual([8]);
    expect(() => parseModelBatches('64;256')).toThrow(/integers of at least 2 separated by commas/);
    expect(() => parseModelBatches('1')).toThrow(/at least 2/);
    expect(() => parseModelBatches('')).toThrow(/got ""/);
    expect(() => parseModelBatches('64,64')).toThrow(/repeat/);
  });
});

describe('readReport', () => {
  it('reads the committed H200 run (schema 4) into the current schema, with null where it measured nothing', () => {
    const saved = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'bench-results', 'nvidia-nvidia-h200.json'), 'utf8'));
    const report = readReport(saved);
    expect(report.schema).toBe(REPORT_SCHEMA);
    expect(report.variants).toEqual([{ label: 'default', options: {} }]);
    expect(report.rows).toHaveLength(saved.rows.length);
    const [row] = report.rows;
    expect(row!.copy).toBeNull();
    expect(row!.variants[0]!.forward).toEqual({
      ms: saved.rows[0].gpuForwardMs,
      minMs: null,
      gbps: saved.rows[0].gpuForwardGBps,
      copyFraction: null,
      iterations: saved.rows[0].gpuIterations,
      warmup: null,
      passes: null,
    });
    expect(row!.variants[0]!.backward.ms).toBe(saved.rows[0].gpuBackwardMs);
    expect(row!.peers).toEqual(saved.rows[0].peers);
    // Every table still prints, with '-' where schema 4 has nothing.
    expect(formatGpuTable(report)[2]).toContain(' - ');
    expect(() => formatSummary(report)).not.toThrow();
  });

  it('reads a schema 5 report (before the residual comparison and the model row) with null residuals and model', () => {
    const current = sampleReport([sampleRow()]);
    const { residual: _method, ...method } = current.method;
    const { model: _model, ...withoutModel } = current;
    const v5 = { ...withoutModel, schema: 'webgpu-batchnorm-bench/5', method, rows: current.rows.map(({ residual: _row, ...row }) => row) };
    const report = readReport(JSON.parse(JSON.stringify(v5)));
    expect(report.schema).toBe(REPORT_SCHEMA);
    expect(report.method.residual).toBeNull();
    expect(report.rows[0]!.residual).toBeNull();
    expect(report.model).toBeNull();
    expect(report.rows[0]!.variants).toEqual(current.rows[0]!.variants);
    expect(formatResidual(report)).toEqual([]);
    expect(() => formatSummary(report)).not.toThrow();
  });

  it('takes the current schema as it is and names a schema it cannot read', () => {
    const current = sampleReport([sampleRow()]);
    expect(readReport(current)).toBe(current);
    expect(() => readReport({ schema: 'webgpu-batchnorm-bench/3' })).toThrow(/schema: "webgpu-batchnorm-bench\/3"/);
    expect(() => readReport(null)).toThrow(/not a benchmark report/);
  });
});

describe('variants', () => {
  it('parses labels to Gpu options, in order', () => {
    expect(parseVariants('{"a": {}, "b": {"reductionWorkgroups": 64}}')).toEqual([
      { label: 'a', options: {} },
      { label: 'b', options: { reductionWorkgroups: 64 } },
    ]);
  });

  it('names what is wrong with a list', () => {
    expect(() => parseVariants('{a}')).toThrow(/must be JSON/);
    expect(() => parseVariants('[{}]')).toThrow(/object of labels to Gpu options, got an array/);
    expect(() => parseVariants('{"a": 3}')).toThrow(/variant 'a': its Gpu options must be an object/);
    expect(() => parseVariants('{"a": {"gpu": {}}}')).toThrow(/'gpu' is the run's own/);
    expect(() => parseVariants('{}')).toThrow(/at least one variant/);
    expect(() => checkVariants([{ label: 'x', options: {} }, { label: 'x', options: {} }])).toThrow(/two variants are labelled 'x'/);
    expect(() => checkVariants([{ label: ' ', options: {} }])).toThrow(/needs a label/);
  });

  it("compares the numerical choices, the library's default first (the baseline), each labelled by what it changes, then the plans of before", () => {
    const variants = numericsVariants();
    expect(variants.map((v) => v.label)).toEqual([
      'default',
      'statisticsMerge vec4',
      'compensation kahan',
      'fences false',
      'compensation kahan, fences false',
      'wholeFoldBlock false',
    ]);
    expect(variants[5]!.options).toEqual({ wholeFoldBlock: false });
    expect(variants[0]!.options).toEqual({ statisticsMerge: 'block', compensation: 'value', fences: true });
    expect(variants[4]!.options).toEqual({ statisticsMerge: 'block', compensation: 'kahan', fences: false });
  });
});
