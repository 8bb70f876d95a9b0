// The interactive run: one shape, forward (and backward in both modes) on the GPU, histograms of x and
// y per channel, and a pass/fail badge from the comparison with the float64 CPU reference under the
// tests' tolerance model (bench/check.ts, src/reference/tolerances.ts).
//
// Sizes are checked before anything is generated, in the submit handler itself: x must fit one buffer of
// the device (maxBufferSize) and the run must fit the page's own host-memory cap (MAX_RUN_ELEMENTS), so a
// shape that cannot run is answered at once instead of after seconds of generating data.
import { DEFAULT_EPS, DEFAULT_MOMENTUM, type Gpu } from '../src/index.js';
import { channelMoments } from '../src/reference.js';
import { channelLayout, numElements } from '../src/runtime/shape.js';
import {
  checkForwardBackward,
  formatNumber,
  INTERACTIVE_PRESETS,
  runForwardBackward,
  syntheticInput,
  unitNoise,
  type Accuracy,
  type CaseInputs,
} from '../bench/index.js';
import { clearHistograms, histogramChart, showHistograms } from './charts.js';
import { formatStep, type PageClock } from './clock.js';
import { byId, fillTable, formatBytes, formatCount, type Header } from './dom.js';
import { channelHistograms, channelRange } from './histogram.js';

// The histograms and the table show the same channels: the first ones, up to this many.
const SHOWN_CHANNELS = 6;
const SEED = 7;

/**
 * Host memory an interactive run holds per element of x: x, dy and the GPU's y and dx read back as
 * float32 (16 bytes), the float64 reference's y and dx (16 bytes), and a readback's staging copy (4).
 */
export const HOST_BYTES_PER_ELEMENT = 36;
/** The page's cap on one interactive run: 2^25 elements, about 1.1 GiB of host memory at 36 bytes each. */
export const MAX_RUN_ELEMENTS = 2 ** 25;
const FLOAT32_BYTES = 4;

/** Why `shape` cannot run here, in the page's words, or null if it can. Pure arithmetic: no allocation. */
export function sizeProblem(shape: readonly number[], maxBufferSize: number): string | null {
  try {
    channelLayout(shape); // the library's shape rules and messages (positive integers, rank 2 to 5)
  } catch (error) {
    return `Not a valid shape: ${error instanceof Error ? error.message : String(error)}.`;
  }
  const elements = numElements(shape);
  const name = `${shape.join('×')} is ${Number.isSafeInteger(elements) ? formatCount(elements) : elements.toExponential(2)} elements`;
  const bytes = elements * FLOAT32_BYTES;
  if (bytes > maxBufferSize) {
    return (
      `Too large for this device: ${name}, so x alone needs ${formatBytes(bytes)} as float32, more than the ` +
      `device's maxBufferSize of ${formatBytes(maxBufferSize)} (${formatCount(Math.floor(maxBufferSize / FLOAT32_BYTES))} ` +
      'float32 elements). Nothing was generated or run; choose a smaller shape.'
    );
  }
  if (elements > MAX_RUN_ELEMENTS) {
    return (
      `Too large for this page: ${name}; an interactive run here takes at most ${formatCount(MAX_RUN_ELEMENTS)} ` +
      `elements (2^25), because the page holds about ${HOST_BYTES_PER_ELEMENT} bytes per element in this tab ` +
      `(${formatBytes(elements * HOST_BYTES_PER_ELEMENT)} for this shape). Nothing was generated or run; choose a smaller shape.`
    );
  }
  return null;
}

export function setUpInteractive(gpu: Gpu, clock: PageClock, emulated: boolean): void {
  const form = byId('run-form', HTMLFormElement);
  const preset = byId('preset', HTMLSelectElement);
  const dims = ['dim-n', 'dim-c', 'dim-h', 'dim-w'].map((id) => byId(id, HTMLInputElement));
  const button = byId('run-button', HTMLButtonElement);
  const badge = byId('check-badge', HTMLSpanElement);
  const summary = byId('run-summary', HTMLSpanElement);
  const timing = byId('run-timing', HTMLParagraphElement);
  const histX = histogramChart(byId('hist-x', HTMLCanvasElement), 'x');
  const histY = histogramChart(byId('hist-y', HTMLCanvasElement), 'y');
  const shownCaptions = [...document.querySelectorAll<HTMLSpanElement>('#interactive-panel .channels-shown')];
  const table = byId('channel-table', HTMLTableElement);
  const channelNote = byId('channel-note', HTMLParagraphElement);
  const { maxBufferSize } = gpu.device.limits;

  const deviceCap = Math.floor(maxBufferSize / FLOAT32_BYTES);
  byId('size-limits', HTMLParagraphElement).textContent =
    `Up to ${formatCount(Math.min(deviceCap, MAX_RUN_ELEMENTS))} elements: x must fit one buffer of this device ` +
    `(${formatCount(deviceCap)} float32), and the page keeps ${HOST_BYTES_PER_ELEMENT} bytes per element in this tab ` +
    `(at most ${formatCount(MAX_RUN_ELEMENTS)}, 2^25). Checked before anything is generated.`;

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

  // Shapes and modes run before on this page: their shaders are compiled, so a repeat's time is steady.
  const ranBefore = new Set<string>();

  const clearResults = () => {
    clearHistograms(histX);
    clearHistograms(histY);
    for (const caption of shownCaptions) caption.textContent = '';
    table.replaceChildren();
    channelNote.hidden = true;
    channelNote.textContent = '';
    timing.hidden = true;
    timing.textContent = '';
  };
  const showFailure = (label: string, message: string, kind: 'size' | 'run') => {
    badge.className = 'badge fail';
    badge.textContent = label;
    badge.dataset.error = kind;
    delete badge.dataset.worstError;
    summary.textContent = message;
    clearResults();
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const shape = dims.map((input) => Number(input.value));
    const training = new FormData(form).get('mode') === 'training';
    const problem = sizeProblem(shape, maxBufferSize);
    if (problem) {
      showFailure('TOO LARGE', problem, 'size');
      return;
    }
    const key = `${shape.join('x')} ${training ? 'training' : 'inference'}`;
    const firstRun = !ranBefore.has(key);
    button.disabled = true;
    badge.className = 'badge busy';
    badge.textContent = 'running…';
    delete badge.dataset.error;
    summary.textContent = '';
    // One frame first, so "running…" is on screen while the input is generated (seconds for large shapes).
    new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)))
      .then(() => runCase(gpu, shape, training))
      .then((outcome) => {
        ranBefore.add(key);
        badge.className = `badge ${outcome.passed ? 'pass' : 'fail'}`;
        badge.textContent = outcome.passed ? 'PASS' : 'FAIL';
        badge.dataset.worstError = String(outcome.forward.maxAbsError);
        summary.textContent = outcome.summary;
        timing.hidden = false;
        timing.textContent =
          `Time: ${formatNumber(outcome.gpuMs)} ms on the page's wall clock (steps of ${formatStep(clock.stepMs)}), from the ` +
          'forward call until every result was read back; not the upload of x, the CPU check or the charts. ' +
          (firstRun
            ? 'First run of this shape and mode: it includes compiling the shaders (run again for the time without).'
            : 'A repeat: the shaders were already compiled.') +
          (emulated ? ' CPU emulation: CPU time, not GPU speed.' : '');
        timing.dataset.firstRun = String(firstRun);
        showHistograms(histX, outcome.histogramsX);
        showHistograms(histY, outcome.histogramsY);
        for (const caption of shownCaptions) caption.textContent = `(${outcome.histogramNote})`;
        fillTable(table, outcome.tableHeaders, outcome.tableRows);
        channelNote.hidden = false;
        channelNote.textContent = outcome.tableNote;
      })
      .catch((error: unknown) => {
        showFailure('ERROR', error instanceof Error ? error.message : String(error), 'run');
        console.error(error);
      })
      .finally(() => (button.disabled = false));
  });
  button.disabled = false;
}

interface Outcome {
  passed: boolean;
  forward: Accuracy;
  gpuMs: number;
  summary: string;
  histogramsX: ReturnType<typeof channelHistograms>;
  histogramsY: ReturnType<typeof channelHistograms>;
  histogramNote: string;
  tableHeaders: Header[];
  tableRows: (string | HTMLTableCellElement)[][];
  tableNote: string;
}

/** "channels 0–5 of 16", "all 4 channels", "channel 0 of 1". */
function shownChannels(shown: number, channels: number): string {
  if (shown === channels) return channels === 1 ? 'the only channel' : `all ${channels} channels`;
  return `channels 0–${shown - 1} of ${channels}`;
}

async function runCase(gpu: Gpu, shape: number[], training: boolean): Promise<Outcome> {
  const { channels } = channelLayout(shape);
  const { x, channelMean, channelStd } = syntheticInput(shape, SEED);
  // PyTorch's initial affine parameters and running statistics (mean 0, var 1) in training; in inference,
  // running statistics equal to the true ones.
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
  const { passed, checks } = checkForwardBackward(inputs, actual);
  const forward = checks[0]!.accuracy;
  const y = actual.y;

  const shown = Array.from({ length: Math.min(channels, SHOWN_CHANNELS) }, (_, c) => c);
  const histogramsX = channelHistograms(x, shape, shown, channelRange(x, shape, shown));
  const histogramsY = channelHistograms(y, shape, shown, [-4, 4]);
  const xMoments = channelMoments(x, shape);
  const yMoments = channelMoments(y, shape);
  const statistics = (c: number): string[] =>
    training
      ? [
          formatNumber(actual.saveMean![c]!),
          formatNumber(actual.saveInvstd![c]!),
          formatNumber(actual.runningMean![c]!),
          formatNumber(actual.runningVar![c]!),
        ]
      : [formatNumber(inputs.runningMean[c]!), formatNumber(inputs.runningVar[c]!)];
  const tableRows = shown.map((c) => [
    String(c),
    formatNumber(xMoments.mean[c]!),
    formatNumber(Math.sqrt(xMoments.variance[c]!)),
    formatNumber(yMoments.mean[c]!),
    formatNumber(Math.sqrt(yMoments.variance[c]!)),
    ...statistics(c),
  ]);
  const statisticHeaders: Header[] = training
    ? [
        { text: 'batch mean (GPU)', title: "the channel's mean over the batch, as the GPU computed it (saveMean)" },
        { text: '1/√(var + eps) (GPU)', title: 'the inverse standard deviation the GPU normalized with (saveInvstd)' },
        {
          text: 'running mean after',
          title: `the running mean after this training step: ${1 - DEFAULT_MOMENTUM} × 0 + ${DEFAULT_MOMENTUM} × batch mean (GPU)`,
        },
        {
          text: 'running var after',
          title: `the running variance after this training step: ${1 - DEFAULT_MOMENTUM} × 1 + ${DEFAULT_MOMENTUM} × unbiased batch variance (GPU)`,
        },
      ]
    : [
        { text: 'running mean (used)', title: 'inference normalizes with the running mean: here the mean the channel was drawn with' },
        { text: 'running var (used)', title: 'inference normalizes with the running variance: here the variance the channel was drawn with' },
      ];
  const checkSummary = checks
    .map(({ what, accuracy }) => `${what} max |err| ${accuracy.maxAbsError.toExponential(1)} (${formatNumber(accuracy.worstRatio)} of tolerance)`)
    .join(', ');
  const mode = training ? 'training' : 'inference';
  return {
    passed,
    forward,
    gpuMs: actual.gpuMs,
    summary: `[${shape.join(',')}] ${mode}, forward + backward against the float64 reference: ${checkSummary}`,
    histogramsX,
    histogramsY,
    histogramNote: shownChannels(shown.length, channels),
    tableHeaders: [
      'channel',
      { text: 'x mean', title: "the mean of the input's channel" },
      { text: 'x std', title: "the standard deviation of the input's channel" },
      { text: 'y mean (GPU)', title: 'the mean of the normalized output: about 0' },
      { text: 'y std (GPU)', title: 'the standard deviation of the normalized output: about 1' },
      ...statisticHeaders,
    ],
    tableRows,
    tableNote:
      `Showing ${shownChannels(shown.length, channels)}, as in the histograms. ` +
      (training
        ? `Running statistics start at PyTorch's initial values (mean 0, var 1) and are updated once by this ` +
          `training forward with momentum ${DEFAULT_MOMENTUM}, on the GPU.`
        : 'Inference normalizes with the running statistics instead of the batch ones; here they are the mean and ' +
          'variance each channel was drawn with.'),
  };
}
