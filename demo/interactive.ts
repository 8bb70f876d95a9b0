// The interactive run: one shape, forward (and backward in both modes) on the GPU, histograms of x and
// y per channel, and a pass/fail badge from the comparison with the float64 CPU reference under the
// tests' tolerance model (src/bench/check.ts, src/tolerances.ts).
import { channelMoments, DEFAULT_EPS, DEFAULT_MOMENTUM, type Gpu } from '../src/index.js';
import { channelLayout } from '../src/shape.js';
import {
  checkForwardBackward,
  formatNumber,
  INTERACTIVE_PRESETS,
  runForwardBackward,
  syntheticInput,
  unitNoise,
  type Accuracy,
  type CaseInputs,
} from '../src/bench/index.js';
import { histogramChart, showHistograms } from './charts.js';
import { byId, fillTable } from './dom.js';
import { channelHistograms, channelRange } from './histogram.js';

const SHOWN_CHANNELS = 6;
const TABLE_CHANNELS = 8;
const SEED = 7;

export function setUpInteractive(gpu: Gpu): void {
  const form = byId('run-form', HTMLFormElement);
  const preset = byId('preset', HTMLSelectElement);
  const dims = ['dim-n', 'dim-c', 'dim-h', 'dim-w'].map((id) => byId(id, HTMLInputElement));
  const button = byId('run-button', HTMLButtonElement);
  const badge = byId('check-badge', HTMLSpanElement);
  const summary = byId('run-summary', HTMLSpanElement);
  const histX = histogramChart(byId('hist-x', HTMLCanvasElement), 'x');
  const histY = histogramChart(byId('hist-y', HTMLCanvasElement), 'y');
  const table = byId('channel-table', HTMLTableElement);

  for (const [index, p] of INTERACTIVE_PRESETS.entries()) preset.append(new Option(`${p.label}`, String(index)));
  preset.append(new Option('custom', 'custom'));
  const applyPreset = () => {
    const chosen = INTERACTIVE_PRESETS[Number(preset.value)];
    if (chosen) dims.forEach((input, i) => (input.value = String(chosen.shape[i])));
  };
  preset.value = '1';
  applyPreset();
  preset.addEventListener('change', applyPreset);
  for (const input of dims) input.addEventListener('input', () => (preset.value = 'custom'));

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const shape = dims.map((input) => Number(input.value));
    const training = new FormData(form).get('mode') === 'training';
    button.disabled = true;
    badge.className = 'badge busy';
    badge.textContent = 'running…';
    summary.textContent = '';
    runCase(gpu, shape, training)
      .then((outcome) => {
        badge.className = `badge ${outcome.passed ? 'pass' : 'fail'}`;
        badge.textContent = outcome.passed ? 'PASS' : 'FAIL';
        badge.dataset.worstError = String(outcome.forward.maxAbsError);
        summary.textContent = outcome.summary;
        showHistograms(histX, outcome.histogramsX);
        showHistograms(histY, outcome.histogramsY);
        fillTable(table, outcome.tableHeaders, outcome.tableRows);
      })
      .catch((error: unknown) => {
        badge.className = 'badge fail';
        badge.textContent = 'ERROR';
        summary.textContent = error instanceof Error ? error.message : String(error);
        console.error(error);
      })
      .finally(() => (button.disabled = false));
  });
  button.disabled = false;
}

interface Outcome {
  passed: boolean;
  forward: Accuracy;
  summary: string;
  histogramsX: ReturnType<typeof channelHistograms>;
  histogramsY: ReturnType<typeof channelHistograms>;
  tableHeaders: string[];
  tableRows: (string | HTMLTableCellElement)[][];
}

async function runCase(gpu: Gpu, shape: number[], training: boolean): Promise<Outcome> {
  const { channels } = channelLayout(shape);
  const { x, channelMean, channelStd } = syntheticInput(shape, SEED);
  // PyTorch's initial affine parameters; in inference, running statistics equal to the true ones.
  const inputs: CaseInputs = {
    x,
    shape,
    training,
    weight: new Float32Array(channels).fill(1),
    bias: new Float32Array(channels),
    runningMean: training ? new Float32Array(channels) : Float32Array.from(channelMean),
    runningVar: training ? new Float32Array(channels).fill(1) : Float32Array.from(channelStd, (s) => s * s),
    dy: unitNoise(x.length, SEED + 1),
    eps: DEFAULT_EPS,
    momentum: DEFAULT_MOMENTUM,
  };
  const actual = await runForwardBackward(gpu, inputs);
  const { passed, checks, reference } = checkForwardBackward(inputs, actual);
  const forward = checks[0]!.accuracy;
  const y = actual.y;

  const shown = Array.from({ length: Math.min(channels, SHOWN_CHANNELS) }, (_, c) => c);
  const histogramsX = channelHistograms(x, shape, shown, channelRange(x, shape, shown));
  const histogramsY = channelHistograms(y, shape, shown, [-4, 4]);
  const xMoments = channelMoments(x, shape);
  const yMoments = channelMoments(y, shape);
  const tableRows = Array.from({ length: Math.min(channels, TABLE_CHANNELS) }, (_, c) => [
    String(c),
    formatNumber(xMoments.mean[c]!),
    formatNumber(Math.sqrt(xMoments.variance[c]!)),
    formatNumber(yMoments.mean[c]!),
    formatNumber(Math.sqrt(yMoments.variance[c]!)),
    formatNumber(reference.mean[c]!),
    formatNumber(reference.invstd[c]!),
  ]);
  const summary = checks
    .map(({ what, accuracy }) => `${what} max |err| ${accuracy.maxAbsError.toExponential(1)} (${formatNumber(accuracy.worstRatio)} of tolerance)`)
    .join(', ');
  const mode = training ? 'training' : 'inference';
  return {
    passed,
    forward,
    summary: `[${shape.join(',')}] ${mode}: forward + backward + readback ${formatNumber(actual.gpuMs)} ms on the GPU; vs float64 reference: ${summary}`,
    histogramsX,
    histogramsY,
    tableHeaders: ['channel', 'x mean', 'x std', 'y mean (GPU)', 'y std (GPU)', training ? 'batch mean' : 'running mean', 'invstd'],
    tableRows,
  };
}
