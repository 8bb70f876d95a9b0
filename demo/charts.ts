// Chart.js charts: the per-channel histograms, the benchmark's time, speed-up, bandwidth and time relative
// to the best peer (TensorFlow.js, ONNX Runtime Web) vs size, the training panel's test accuracy and
// percentile bands against steps, and the TensorFlow.js panel's test accuracy and step times against steps.
// Each canvas carries data-points="n,n,..." (points per dataset) so tests and scripts can see what is drawn.
// A chart without data shows its figure's "no data yet" note instead of empty axes (class "empty").
import { Chart, registerables, type ChartDataset, type Plugin, type ScatterDataPoint } from 'chart.js';
import {
  BACKWARD_BYTES_PER_ELEMENT,
  baselineOf,
  caseLabel,
  findComparison,
  FORWARD_BYTES_PER_ELEMENT,
  INFERENCE_BYTES_PER_ELEMENT,
  PEER_CASES,
  speedups,
  type BenchmarkRow,
  type Operation,
} from '../bench/index.js';
import type { KernelName } from '../src/engine/kernels.js';
import type { Histogram } from './histogram.js';

Chart.register(...registerables);
Chart.defaults.color = '#8b949e';
Chart.defaults.borderColor = '#30363d';
Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', sans-serif";

const PALETTE = ['#58a6ff', '#f78166', '#3fb950', '#d2a8ff', '#e3b341', '#39c5cf', '#ff7b72', '#a5d6ff'];

type LineChart = Chart<'line', ScatterDataPoint[]>;

function markPoints(chart: LineChart): void {
  chart.canvas.dataset.points = chart.data.datasets.map((d) => d.data.length).join(',');
  const empty = chart.data.datasets.every((d) => d.data.length === 0);
  chart.canvas.closest('figure')?.classList.toggle('empty', empty);
}

// Legend entries as line samples drawn with their series' dash pattern, so a dashed series shows dashed
// in the legend too (Chart.js's default boxes, and its point-style items, drop the dash).
const LINE_LEGEND = {
  position: 'bottom',
  labels: {
    usePointStyle: true,
    pointStyle: 'line',
    pointStyleWidth: 26,
    boxWidth: 26,
    generateLabels: (chart: Chart) =>
      Chart.defaults.plugins.legend.labels.generateLabels(chart).map((item) => {
        const dataset = chart.data.datasets[item.datasetIndex ?? -1] as { borderDash?: number[]; borderColor?: unknown } | undefined;
        return {
          ...item,
          lineDash: dataset?.borderDash ?? [],
          lineWidth: 2,
          ...(typeof dataset?.borderColor === 'string' ? { strokeStyle: dataset.borderColor } : {}),
        };
      }),
  },
} as const;

/** A horizontal reference line at y = `value`, labelled, drawn under the data (the speed-up chart's 1×). */
function referenceLine(value: number, label: string): Plugin<'line'> {
  return {
    id: 'referenceLine',
    beforeDatasetsDraw(chart) {
      const { ctx, chartArea, scales } = chart;
      const y = scales.y?.getPixelForValue(value);
      if (y === undefined || !Number.isFinite(y) || y < chartArea.top || y > chartArea.bottom) return;
      ctx.save();
      ctx.strokeStyle = '#c9d1d9';
      ctx.lineWidth = 1.5;
      ctx.setLineDash([2, 3]);
      ctx.beginPath();
      ctx.moveTo(chartArea.left, y);
      ctx.lineTo(chartArea.right, y);
      ctx.stroke();
      ctx.fillStyle = '#c9d1d9';
      ctx.font = `12px ${String(Chart.defaults.font.family)}`;
      ctx.textAlign = 'left';
      // Above the line, or below it where the line runs along the top of the plot.
      const above = y - chartArea.top > 16;
      ctx.textBaseline = above ? 'bottom' : 'top';
      ctx.fillText(label, chartArea.left + 4, above ? y - 3 : y + 3);
      ctx.restore();
    },
  };
}

export function histogramChart(canvas: HTMLCanvasElement, xTitle: string): LineChart {
  return new Chart(canvas, {
    type: 'line',
    data: { datasets: [] },
    options: {
      animation: false,
      maintainAspectRatio: false,
      parsing: false,
      scales: {
        x: { type: 'linear', title: { display: true, text: xTitle } },
        y: { title: { display: true, text: 'fraction of the channel' }, beginAtZero: true },
      },
      plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } } },
      elements: { point: { radius: 0 } },
    },
  });
}

/** Empties a histogram chart (after a failed run): its figure shows the "no data yet" note again. */
export function clearHistograms(chart: LineChart): void {
  showHistograms(chart, []);
}

export function showHistograms(chart: LineChart, histograms: readonly Histogram[]): void {
  chart.data.datasets = histograms.map((h, i) => ({
    label: `channel ${h.channel}`,
    data: [...h.points],
    borderColor: PALETTE[i % PALETTE.length]!,
    backgroundColor: `${PALETTE[i % PALETTE.length]!}33`,
    fill: true,
    stepped: 'middle',
    borderWidth: 1.5,
  }));
  chart.update();
  markPoints(chart);
}

// Log axes label only the decades; Chart.js would otherwise label every minor tick.
function powerOfTenLabel(value: number | string): string {
  const exponent = Math.log10(Number(value));
  return Math.abs(exponent - Math.round(exponent)) < 1e-9 ? `1e${Math.round(exponent)}` : '';
}

// A ratio's log axis spans less than a decade or two: label 1, 2 and 5 times each power of ten (0.5, 1, 2).
function oneTwoFiveLabel(value: number | string): string {
  const v = Number(value);
  const exponent = Math.floor(Math.log10(v) + 1e-9);
  const mantissa = v / 10 ** exponent;
  return [1, 2, 5].some((m) => Math.abs(mantissa - m) < 1e-6) ? String(Number(v.toPrecision(1))) : '';
}

interface Series {
  readonly label: string;
  /** The point of a row; null draws none (a ratio without a peer that passed, a run without peers). */
  readonly value: (row: BenchmarkRow) => number | null;
  readonly dashed?: boolean;
  /** Default: the palette's color at the series' index. */
  readonly color?: string;
}

interface SizeChartOptions {
  readonly yTitle: string;
  readonly yLog: boolean;
  /** Log axis labels at 1, 2 and 5 times the powers of ten, not only the powers. */
  readonly yOneTwoFive?: boolean;
  /** A labelled horizontal line, always inside the y range. */
  readonly reference?: { readonly value: number; readonly label: string };
}

function sizeChart(canvas: HTMLCanvasElement, { yTitle, yLog, yOneTwoFive, reference }: SizeChartOptions, series: readonly Series[]): (rows: readonly BenchmarkRow[]) => void {
  const datasets: ChartDataset<'line', ScatterDataPoint[]>[] = series.map((s, i) => ({
    label: s.label,
    data: [],
    borderColor: s.color ?? PALETTE[i % PALETTE.length]!,
    backgroundColor: s.color ?? PALETTE[i % PALETTE.length]!,
    borderDash: s.dashed ? [6, 4] : [],
    pointRadius: 3,
    borderWidth: 2,
  }));
  const chart: LineChart = new Chart(canvas, {
    type: 'line',
    data: { datasets },
    options: {
      animation: false,
      maintainAspectRatio: false,
      parsing: false,
      scales: {
        x: { type: 'logarithmic', title: { display: true, text: 'elements (N*C*H*W)' }, ticks: { callback: powerOfTenLabel } },
        y: yLog
          ? {
              type: 'logarithmic',
              title: { display: true, text: yTitle },
              ticks: { callback: yOneTwoFive ? oneTwoFiveLabel : powerOfTenLabel },
              ...(reference ? { suggestedMin: reference.value, suggestedMax: reference.value } : {}),
            }
          : { type: 'linear', title: { display: true, text: yTitle }, beginAtZero: true },
      },
      plugins: {
        legend: LINE_LEGEND,
        tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${Number(item.parsed.y).toPrecision(3)}` } },
      },
    },
    plugins: reference ? [referenceLine(reference.value, reference.label)] : [],
  });
  if (reference) canvas.dataset.reference = String(reference.value);
  markPoints(chart);
  return (rows) => {
    series.forEach((s, i) => {
      chart.data.datasets[i]!.data = rows.flatMap((row) => {
        const y = s.value(row);
        return y === null || !Number.isFinite(y) ? [] : [{ x: row.elements, y }];
      });
    });
    chart.update();
    markPoints(chart);
  };
}

/** One color per mode; NCHW solid, NHWC dashed. */
const MODE_COLORS = { training: PALETTE[0]!, inference: PALETTE[2]!, 'forward+backward': PALETTE[1]! } as const;

/** The kernels of the pass that reduces x (and dy), by kernel record, rows kernels included. */
const FORWARD_REDUCING_KERNELS = ['stats', 'stats-rows', 'stats-apply', 'stats-apply-rows'] as const satisfies readonly KernelName[];
const BACKWARD_REDUCING_KERNELS = ['backward-reduce', 'backward-reduce-rows', 'backward-fused', 'backward-fused-rows'] as const satisfies readonly KernelName[];

/** The share of the copy kernel's bandwidth that the baseline's pass of one of `kernels` reaches in `operation`. */
function passFraction(row: BenchmarkRow, operation: Operation, kernels: readonly KernelName[]): number | null {
  return baselineOf(row)[operation].passes?.find((p) => (kernels as readonly string[]).includes(p.kernel))?.copyFraction ?? null;
}

/** The four benchmark charts (of the baseline variant); the returned function redraws them from the rows measured so far. */
export function benchmarkCharts(canvases: { time: HTMLCanvasElement; speedup: HTMLCanvasElement; bandwidth: HTMLCanvasElement; peers: HTMLCanvasElement }) {
  const updaters = [
    sizeChart(canvases.time, { yTitle: 'ms per call (log)', yLog: true }, [
      { label: 'GPU forward', value: (r) => baselineOf(r).forward.ms },
      { label: 'CPU forward, float64 reference', value: (r) => r.cpuReferenceMs },
      { label: 'CPU forward, float32 loop', value: (r) => r.cpuFloat32Ms },
      { label: 'GPU backward', value: (r) => baselineOf(r).backward.ms, dashed: true },
      { label: 'CPU backward, float32 loop', value: (r) => r.cpuBackwardFloat32Ms, dashed: true },
    ]),
    sizeChart(canvases.speedup, { yTitle: 'CPU time / GPU time (log)', yLog: true, reference: { value: 1, label: '1×: GPU as fast as the CPU' } }, [
      { label: 'forward vs float64 reference', value: (r) => speedups(r).vsReference },
      { label: 'forward vs float32 loop', value: (r) => speedups(r).vsFloat32 },
      { label: 'backward vs float32 loop', value: (r) => speedups(r).backwardVsFloat32, dashed: true },
    ]),
    sizeChart(canvases.bandwidth, { yTitle: "share of the copy's GB/s", yLog: false, reference: { value: 1, label: 'the copy kernel' } }, [
      { label: `training forward (${FORWARD_BYTES_PER_ELEMENT} B/element)`, value: (r) => baselineOf(r).forward.copyFraction },
      { label: `inference forward (${INFERENCE_BYTES_PER_ELEMENT} B/element)`, value: (r) => baselineOf(r).inference.copyFraction, color: PALETTE[2]! },
      { label: `backward (${BACKWARD_BYTES_PER_ELEMENT} B/element)`, value: (r) => baselineOf(r).backward.copyFraction, dashed: true, color: PALETTE[1]! },
      // The pass that reduces: alone (three-pass plans) or fused with the apply (one-dispatch plans).
      { label: "forward's reducing pass", value: (r) => passFraction(r, 'forward', FORWARD_REDUCING_KERNELS), color: PALETTE[3]! },
      { label: "backward's reducing pass", value: (r) => passFraction(r, 'backward', BACKWARD_REDUCING_KERNELS), dashed: true, color: PALETTE[4]! },
    ]),
    sizeChart(
      canvases.peers,
      { yTitle: 'our time / best peer (log)', yLog: true, yOneTwoFive: true, reference: { value: 1, label: '1×: as fast as the best peer' } },
      PEER_CASES.map((peerCase) => ({
        label: caseLabel(peerCase),
        value: (r) => findComparison(r.peers, peerCase)?.ratio ?? null,
        dashed: peerCase.layout === 'NHWC',
        color: MODE_COLORS[peerCase.mode],
      })),
    ),
  ];
  return (rows: readonly BenchmarkRow[]) => {
    for (const update of updaters) update(rows);
  };
}

// The training panel's charts, after Ioffe and Szegedy (2015), Figure 1: (a) test accuracy against training
// steps for both networks, (b, c) the 15th, 50th and 85th percentiles of one sigmoid's input over training,
// without and with batch norm, on one shared y range so that the two bands compare at a glance.
const NETWORK_COLORS = { plain: '#f78166', batchNorm: '#58a6ff' } as const;
type NetworkKey = keyof typeof NETWORK_COLORS;

function stepChart(canvas: HTMLCanvasElement, yTitle: string, datasets: ChartDataset<'line', ScatterDataPoint[]>[], yTicks?: (value: number | string) => string): LineChart {
  const chart: LineChart = new Chart(canvas, {
    type: 'line',
    data: { datasets },
    options: {
      animation: false,
      maintainAspectRatio: false,
      parsing: false,
      elements: { point: { radius: 0 } },
      scales: {
        x: { type: 'linear', min: 0, title: { display: true, text: 'training steps' } },
        y: { type: 'linear', title: { display: true, text: yTitle }, ...(yTicks ? { ticks: { callback: yTicks } } : {}) },
      },
      plugins: {
        legend: LINE_LEGEND,
        tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${Number(item.parsed.y).toPrecision(3)}` } },
      },
    },
  });
  markPoints(chart);
  return chart;
}

/** The percentile bands: 85th, median and 15th, the band between the outer two filled. */
function percentileDatasets(color: string): ChartDataset<'line', ScatterDataPoint[]>[] {
  return [
    { label: '85th percentile', data: [], borderColor: color, backgroundColor: `${color}33`, borderWidth: 1, fill: '+2' },
    { label: 'median', data: [], borderColor: color, backgroundColor: color, borderWidth: 2.5 },
    { label: '15th percentile', data: [], borderColor: color, backgroundColor: color, borderWidth: 1, borderDash: [4, 3] },
  ];
}

/** One evaluation as the charts need it: the step, and per network its test accuracy and the percentiles (none before the first step). */
export interface TrainingPoint {
  readonly step: number;
  readonly networks: Readonly<Record<NetworkKey, { readonly testAccuracy: number; readonly percentiles: readonly number[] | null }>>;
}

export function trainingCharts(canvases: { accuracy: HTMLCanvasElement; plain: HTMLCanvasElement; batchNorm: HTMLCanvasElement }) {
  const percent = (value: number | string) => `${Math.round(Number(value) * 100)}%`;
  const accuracy = stepChart(
    canvases.accuracy,
    'test accuracy',
    [
      { label: 'without batch norm', data: [], borderColor: NETWORK_COLORS.plain, backgroundColor: NETWORK_COLORS.plain, borderWidth: 2 },
      { label: 'with batch norm', data: [], borderColor: NETWORK_COLORS.batchNorm, backgroundColor: NETWORK_COLORS.batchNorm, borderWidth: 2 },
    ],
    percent,
  );
  accuracy.options.scales!.y!.min = 0;
  accuracy.options.scales!.y!.max = 1;
  const bands: Record<NetworkKey, LineChart> = {
    plain: stepChart(canvases.plain, 'sigmoid input', percentileDatasets(NETWORK_COLORS.plain)),
    batchNorm: stepChart(canvases.batchNorm, 'sigmoid input', percentileDatasets(NETWORK_COLORS.batchNorm)),
  };
  const all = [accuracy, bands.plain, bands.batchNorm];

  /** Redraws every chart from the evaluations so far, with the step axis running to `lastStep`. */
  return (points: readonly TrainingPoint[], lastStep: number) => {
    (['plain', 'batchNorm'] as const).forEach((key, i) => {
      accuracy.data.datasets[i]!.data = points.map((p) => ({ x: p.step, y: p.networks[key].testAccuracy }));
      // Datasets run 85th, 50th, 15th: the percentiles' order reversed.
      bands[key].data.datasets.forEach((dataset, d) => {
        dataset.data = points.flatMap((p) => (p.networks[key].percentiles ? [{ x: p.step, y: p.networks[key].percentiles[2 - d]! }] : []));
      });
    });
    const values = points.flatMap((p) => [...(p.networks.plain.percentiles ?? []), ...(p.networks.batchNorm.percentiles ?? [])]);
    const low = values.reduce((a, b) => Math.min(a, b), Infinity);
    const high = values.reduce((a, b) => Math.max(a, b), -Infinity);
    for (const chart of [bands.plain, bands.batchNorm]) {
      // Whole halves around every value of both networks.
      chart.options.scales!.y!.min = values.length > 0 ? Math.floor(low * 2) / 2 : undefined;
      chart.options.scales!.y!.max = values.length > 0 ? Math.ceil(high * 2) / 2 : undefined;
    }
    for (const chart of all) {
      chart.options.scales!.x!.max = Math.max(lastStep, 1);
      chart.update();
      markPoints(chart);
    }
  };
}

const TFJS_MODELS = [
  { key: 'tfjs', label: "tfjs's BatchNormalization", color: '#f78166' },
  { key: 'ours', label: 'webgpu-batchnorm/tfjs', color: '#58a6ff' },
] as const;
type TfjsModelKey = (typeof TFJS_MODELS)[number]['key'];

/** The TensorFlow.js panel's data as the charts need it: per model, test accuracy by step and step time by step. */
export interface TfjsComparisonPoints {
  readonly evaluations: readonly { readonly step: number; readonly accuracy: Readonly<Record<TfjsModelKey, number>> }[];
  readonly steps: readonly { readonly step: number; readonly ms: Readonly<Record<TfjsModelKey, number>> }[];
}

export function tfjsComparisonCharts(canvases: { accuracy: HTMLCanvasElement; stepTime: HTMLCanvasElement }) {
  const datasets = () => TFJS_MODELS.map(({ label, color }) => ({ label, data: [], borderColor: color, backgroundColor: color, borderWidth: 2, pointRadius: 2 }));
  const accuracy = stepChart(canvases.accuracy, 'test accuracy', datasets(), (value) => `${Math.round(Number(value) * 100)}%`);
  // Ours dashed: the two accuracy curves lie on each other, and the dashes let both show.
  accuracy.data.datasets[1]!.borderDash = [6, 4];
  accuracy.options.scales!.y!.min = 0;
  accuracy.options.scales!.y!.max = 1;
  const stepTime = stepChart(canvases.stepTime, 'ms per training step', datasets());
  stepTime.options.scales!.y!.min = 0;

  /** Redraws both charts, with the step axis running to `lastStep`. */
  return ({ evaluations, steps }: TfjsComparisonPoints, lastStep: number) => {
    TFJS_MODELS.forEach(({ key }, i) => {
      accuracy.data.datasets[i]!.data = evaluations.map((e) => ({ x: e.step, y: e.accuracy[key] }));
      stepTime.data.datasets[i]!.data = steps.map((s) => ({ x: s.step, y: s.ms[key] }));
    });
    for (const chart of [accuracy, stepTime]) {
      chart.options.scales!.x!.max = Math.max(lastStep, 1);
      chart.update();
      markPoints(chart);
    }
  };
}
