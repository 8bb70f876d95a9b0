// The interactive run: one shape, forward (and backward in both modes) on the GPU, histograms of x and
// y per channel, and a pass/fail badge from the comparison with the float64 CPU reference.
import {
  batchNorm,
  batchNormBackward,
  batchNormBackwardReference,
  batchNormReference,
  channelMoments,
  Tensor,
  type Gpu,
} from '../src/index.js';
import { forwardAccuracy, formatNumber, INTERACTIVE_PRESETS, scaledAccuracy, syntheticInput, unitNoise, type Accuracy } from '../src/bench/index.js';
import { histogramChart, showHistograms } from './charts.js';
import { byId, fillTable } from './dom.js';
import { channelHistograms, channelRange } from './histogram.js';

// The backward test's tolerances (test/gpu/backward.test.ts): dx relative to the terms it sums,
// dweight and dbias relative to the sum of magnitudes they accumulate.
const DX_RTOL = 1e-5;
const SUM_RTOL = 1e-5;
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
  const channels = shape[1]!;
  const { x, channelMean, channelStd } = syntheticInput(shape, SEED);
  // PyTorch's initial affine parameters; in inference, running statistics equal to the true ones.
  const weight = new Float32Array(channels).fill(1);
  const bias = new Float32Array(channels);
  const runningMean = training ? new Float32Array(channels) : Float32Array.from(channelMean);
  const runningVar = training ? new Float32Array(channels).fill(1) : Float32Array.from(channelStd, (s) => s * s);
  const dy = unitNoise(x.length, SEED + 1);

  const tensors: Tensor[] = [];
  const upload = (data: Float32Array, dims: readonly number[]) => {
    const tensor = Tensor.fromArray(gpu, data, dims);
    tensors.push(tensor);
    return tensor;
  };
  const filters: GPUErrorFilter[] = ['validation', 'out-of-memory', 'internal'];
  for (const filter of filters) gpu.device.pushErrorScope(filter);
  let y: Float32Array;
  let dx: Float32Array;
  let dweight: Float32Array;
  let dbias: Float32Array;
  let gpuMs: number;
  try {
    const xTensor = upload(x, shape);
    const weightTensor = upload(weight, [channels]);
    const runningMeanTensor = upload(runningMean, [channels]);
    const runningVarTensor = upload(runningVar, [channels]);
    const start = performance.now();
    const result = batchNorm(gpu, xTensor, {
      training,
      weight: weightTensor,
      bias: upload(bias, [channels]),
      runningMean: runningMeanTensor,
      runningVar: runningVarTensor,
    });
    tensors.push(result.y, ...[result.saveMean, result.saveInvstd].filter((t): t is Tensor => t !== null));
    const gradients =
      result.saveMean && result.saveInvstd
        ? batchNormBackward(gpu, upload(dy, shape), xTensor, {
            training: true,
            weight: weightTensor,
            saveMean: result.saveMean,
            saveInvstd: result.saveInvstd,
          })
        : batchNormBackward(gpu, upload(dy, shape), xTensor, {
            training: false,
            weight: weightTensor,
            runningMean: runningMeanTensor,
            runningVar: runningVarTensor,
          });
    tensors.push(gradients.dx, ...[gradients.dweight, gradients.dbias].filter((t): t is Tensor => t !== null));
    [y, dx, dweight, dbias] = await Promise.all([
      result.y.toArray(),
      gradients.dx.toArray(),
      gradients.dweight!.toArray(),
      gradients.dbias!.toArray(),
    ]);
    gpuMs = performance.now() - start;
  } finally {
    for (const tensor of tensors) tensor.destroy();
    const errors = await Promise.all(filters.map(() => gpu.device.popErrorScope()));
    const messages = errors.filter((e): e is GPUError => e !== null).map((e) => e.message);
    if (messages.length > 0) throw new Error(`GPU error(s): ${messages.join(' | ')}`);
  }

  const reference = batchNormReference(x, shape, { training, weight, bias, runningMean, runningVar });
  const scale = reference.invstd.map((s, c) => s * weight[c]!);
  const shift = reference.mean.map((m, c) => bias[c]! - m * scale[c]!);
  const forward = forwardAccuracy(x, shape, y, reference.y, scale, shift);
  const backwardReference = batchNormBackwardReference(
    dy,
    x,
    shape,
    training
      ? { training: true, weight, saveMean: reference.mean, saveInvstd: reference.invstd }
      : { training: false, weight, runningMean, runningVar },
  );
  const backward = backwardAccuracy(dy, x, shape, training, weight, backwardReference, { dx, dweight, dbias });
  const passed = forward.passed && backward.every((b) => b.accuracy.passed);

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
  const checks = [{ what: 'y', accuracy: forward }, ...backward]
    .map(({ what, accuracy }) => `${what} max |err| ${accuracy.maxAbsError.toExponential(1)} (${formatNumber(accuracy.worstRatio)} of tolerance)`)
    .join(', ');
  const mode = training ? 'training' : 'inference';
  return {
    passed,
    forward,
    summary: `[${shape.join(',')}] ${mode}: forward + backward + readback ${formatNumber(gpuMs)} ms on the GPU; vs float64 reference: ${checks}`,
    histogramsX,
    histogramsY,
    tableHeaders: ['channel', 'x mean', 'x std', 'y mean (GPU)', 'y std (GPU)', training ? 'batch mean' : 'running mean', 'invstd'],
    tableRows,
  };
}

function backwardAccuracy(
  dy: Float32Array,
  x: Float32Array,
  shape: readonly number[],
  training: boolean,
  weight: Float32Array,
  reference: ReturnType<typeof batchNormBackwardReference>,
  actual: { dx: Float32Array; dweight: Float32Array; dbias: Float32Array },
): { what: string; accuracy: Accuracy }[] {
  const [batch = 1, channels = 1, ...rest] = shape;
  const spatial = rest.reduce((a, b) => a * b, 1);
  const count = batch * spatial;
  const channelOf = (i: number) => Math.floor(i / spatial) % channels;
  const xhat = (i: number) => Math.abs((x[i]! - reference.mean[channelOf(i)]!) * reference.invstd[channelOf(i)]!);
  const sumAbsDy = new Float64Array(channels);
  const sumAbsDyXhat = new Float64Array(channels);
  for (let i = 0; i < dy.length; i++) {
    sumAbsDy[channelOf(i)]! += Math.abs(dy[i]!);
    sumAbsDyXhat[channelOf(i)]! += Math.abs(dy[i]!) * xhat(i);
  }
  const dxMagnitude = (i: number) => {
    const c = channelOf(i);
    const terms = training ? Math.abs(dy[i]!) + sumAbsDy[c]! / count + xhat(i) * (sumAbsDyXhat[c]! / count) : Math.abs(dy[i]!);
    return Math.abs(weight[c]!) * reference.invstd[c]! * terms;
  };
  return [
    { what: 'dx', accuracy: scaledAccuracy(actual.dx, reference.dx, dxMagnitude, DX_RTOL, 0) },
    { what: 'dweight', accuracy: scaledAccuracy(actual.dweight, reference.dweight!, (c) => sumAbsDyXhat[c]!, SUM_RTOL, 0) },
    { what: 'dbias', accuracy: scaledAccuracy(actual.dbias, reference.dbias!, (c) => sumAbsDy[c]!, SUM_RTOL, 0) },
  ];
}

