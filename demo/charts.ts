// Chart.js charts: the per-channel histograms and the benchmark's time, speed-up and bandwidth vs size.
// Each canvas carries data-points="n,n,..." (points per dataset) so tests and scripts can see what is drawn.
import { Chart, registerables, type ChartDataset, type ScatterDataPoint } from 'chart.js';
import type { BenchmarkRow } from '../src/bench/index.js';
import type { Histogram } from './histogram.js';

Chart.register(...registerables);
Chart.defaults.color = '#8b949e';
Chart.defaults.borderColor = '#30363d';
Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', sans-serif";

const PALETTE = ['#58a6ff', '#f78166', '#3fb950', '#d2a8ff', '#e3b341', '#39c5cf', '#ff7b72', '#a5d6ff'];

type LineChart = Chart<'line', ScatterDataPoint[]>;

function markPoints(chart: LineChart): void {
  chart.canvas.dataset.points = chart.data.datasets.map((d) => d.data.length).join(',');
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

interface Series {
  readonly label: string;
  readonly value: (row: BenchmarkRow) => number;
  readonly dashed?: boolean;
}

function sizeChart(canvas: HTMLCanvasElement, yTitle: string, yLog: boolean, series: readonly Series[]): (rows: readonly BenchmarkRow[]) => void {
  const datasets: ChartDataset<'line', ScatterDataPoint[]>[] = series.map((s, i) => ({
    label: s.label,
    data: [],
    borderColor: PALETTE[i % PALETTE.length]!,
    backgroundColor: PALETTE[i % PALETTE.length]!,
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
          ? { type: 'logarithmic', title: { display: true, text: yTitle }, ticks: { callback: powerOfTenLabel } }
          : { type: 'linear', title: { display: true, text: yTitle }, beginAtZero: true },
      },
      plugins: {
        legend: { position: 'bottom', labels: { boxWidth: 12 } },
        tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${Number(item.parsed.y).toPrecision(3)}` } },
      },
    },
  });
  markPoints(chart);
  return (rows) => {
    series.forEach((s, i) => {
      chart.data.datasets[i]!.data = rows.map((row) => ({ x: row.elements, y: s.value(row) }));
    });
    chart.update();
    markPoints(chart);
  };
}

/** The three benchmark charts; the returned function redraws them from the rows measured so far. */
export function benchmarkCharts(canvases: { time: HTMLCanvasElement; speedup: HTMLCanvasElement; bandwidth: HTMLCanvasElement }) {
  const updaters = [
    sizeChart(canvases.time, 'ms per call (log)', true, [
      { label: 'GPU forward', value: (r) => r.gpuForwardMs },
      { label: 'CPU forward, float64 reference', value: (r) => r.cpuReferenceMs },
      { label: 'CPU forward, float32 loop', value: (r) => r.cpuFloat32Ms },
      { label: 'GPU backward', value: (r) => r.gpuBackwardMs, dashed: true },
      { label: 'CPU backward, float32 loop', value: (r) => r.cpuBackwardFloat32Ms, dashed: true },
    ]),
    sizeChart(canvases.speedup, 'CPU time / GPU time (log)', true, [
      { label: 'forward vs float64 reference', value: (r) => r.speedupVsReference },
      { label: 'forward vs float32 loop', value: (r) => r.speedupVsFloat32 },
      { label: 'backward vs float32 loop', value: (r) => r.backwardSpeedupVsFloat32, dashed: true },
    ]),
    sizeChart(canvases.bandwidth, 'GB/s', false, [
      { label: 'forward (12 B/element)', value: (r) => r.gpuForwardGBps },
      { label: 'backward (20 B/element)', value: (r) => r.gpuBackwardGBps, dashed: true },
    ]),
  ];
  return (rows: readonly BenchmarkRow[]) => {
    for (const update of updaters) update(rows);
  };
}
