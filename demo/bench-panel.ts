// The benchmark panel: runs the sweep with a progress bar and a cancel button, draws the charts and the
// table as sizes finish, and offers the results as CSV or JSON. It also announces progress and the
// final report as window events ('bench-progress', 'bench-done', 'bench-cancelled', 'bench-error'),
// which `npm run bench` listens to.
/// <reference types="vite/client" />
import ortWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import type { Gpu } from '../src/index.js';
import { numElements } from '../src/runtime/shape.js';
import {
  adapterSlug,
  BACKWARD_BYTES_PER_ELEMENT,
  baselineOf,
  caseLabel,
  COPY_BYTES_PER_ELEMENT,
  EMULATED_MODEL_BATCHES,
  findComparison,
  formatComposition,
  formatNumber,
  formatSummary,
  FORWARD_BYTES_PER_ELEMENT,
  fractionCell,
  gpuTimingMethod,
  INFERENCE_BYTES_PER_ELEMENT,
  MODEL_BATCHES,
  modelStepCells,
  parseModelBatches,
  passesText,
  PEER_CASES,
  ratioCell,
  readReport,
  reportToCsv,
  reportToJson,
  runBenchmark,
  speedups,
  SWEEP,
  sweepUpTo,
  type BenchmarkReport,
  type BenchmarkRow,
  type Environment,
  type ModelStepReport,
} from '../bench/index.js';
import { benchmarkCharts } from './charts.js';
import { formatStep, type PageClock } from './clock.js';
import { byId, fillTable, formatCount, make, verdictCell, type Header } from './dom.js';

// On a software adapter the largest shapes take minutes each; the default stops below them.
const EMULATED_DEFAULT_MAX_ELEMENTS = 4e6;

/**
 * The paragraph above the benchmark: which clock times the GPU (the report's own method once a run has
 * finished: GPU timestamps where the device has timestamp-query, wall time otherwise) and how fine the
 * page's clock is for the host-side times.
 */
function methodText(gpuTiming: string, clock: PageClock, statistic = 'median of trials, warm-up dropped'): string {
  const hostClock = clock.crossOriginIsolated
    ? `performance.now(), steps of ${formatStep(clock.stepMs)} (cross-origin isolated)`
    : `performance.now(), coarsened to steps of ${formatStep(clock.stepMs)} because this page is not cross-origin isolated`;
  return (
    `Training forward, inference forward and training backward for each size. GPU time: ${gpuTiming}; ${statistic}. ` +
    'CPU time: the float64 reference and a plain float32 loop, single-threaded JavaScript. Host-side times (CPU loops, ' +
    `first call, host call) use ${hostClock}. GB/s counts ${FORWARD_BYTES_PER_ELEMENT} bytes per element for the training ` +
    `forward, ${INFERENCE_BYTES_PER_ELEMENT} for the inference forward and ${BACKWARD_BYTES_PER_ELEMENT} for the backward, shown as a ` +
    `share of what a plain vec4 copy kernel of as many values (${COPY_BYTES_PER_ELEMENT} bytes per element) moves, timed the same way ` +
    'on this device in the same run. With timestamp-query, each pass (named by its kernel) is also timed on its own. ' +
    'Before each measurement the GPU is warmed until its times settle. ' +
    'With the peers, training forward, inference forward and forward+backward in NCHW and NHWC are also run with ' +
    'TensorFlow.js (webgpu backend) and ONNX Runtime Web (WebGPU EP, inference) on this same device, every library ' +
    'timed alike (wall time of calls made back to back as its users make them, one flush, one ' +
    'onSubmittedWorkDone) and checked against the float64 reference. With the model step, one training step of the seed ' +
    "article's CNN in TensorFlow.js is timed with tfjs's BatchNormalization and with ours, and each model's batch norm on its own."
  );
}

/** The result table's columns: short words, with a tooltip that says in full what each holds. */
const TABLE_HEADERS: readonly Header[] = [
  { text: 'shape', title: "N×C×H×W and the sweep's name for it" },
  'elements',
  { text: 'copy GB/s', title: 'a plain vec4 copy of as many values (8 bytes per element), timed like the rest on this device: the roofline' },
  { text: 'GPU forward ms', title: 'GPU time of one training forward call, median of trials (minimum in the JSON)' },
  { text: 'forward of copy', title: "12 bytes per element / GPU forward time, as a share of the copy kernel's GB/s" },
  { text: 'forward passes', title: "each pass's ms per call (its share of the copy's bandwidth), named by its kernel: statistics, finalize and apply, or the one fused pass" },
  { text: 'GPU inference ms', title: 'GPU time of one inference forward call (running statistics), median of trials' },
  { text: 'inference of copy', title: "8 bytes per element / GPU inference time, as a share of the copy kernel's GB/s" },
  { text: 'GPU backward ms', title: 'GPU time of one training backward call (dx, dweight, dbias), median of trials' },
  { text: 'backward of copy', title: "20 bytes per element / GPU backward time, as a share of the copy kernel's GB/s" },
  { text: 'backward passes', title: "each pass's ms per call (its share of the copy's bandwidth): reduce, finalize and apply, or the one fused pass" },
  { text: 'residual fused ms', title: "training forward of relu(bn(x) + z) with the add and ReLU fused into batchNorm's pass (16 bytes per element), median of trials" },
  { text: 'residual unfused ms', title: 'the same as batchNorm, then a separate add+ReLU kernel (24 bytes per element), timed interleaved with the fused one' },
  { text: 'fused / unfused', title: 'residual fused time / unfused time, medians: below 1 the fused is faster' },
  { text: 'first call ms', title: "this shape's first forward call, submit to completion: includes compiling the shaders when they are new" },
  { text: 'host ms per call', title: 'host-side time of one forward call: validate, encode and submit, on an idle queue' },
  { text: 'CPU float64 ms', title: 'the float64 reference forward on the CPU (single-threaded JavaScript)' },
  { text: 'CPU float32 ms', title: 'a plain float32 forward loop on the CPU (single-threaded JavaScript)' },
  { text: 'speed-up vs float64', title: 'CPU float64 time / GPU forward time: above 1 the GPU is faster' },
  { text: 'speed-up vs float32', title: 'CPU float32 time / GPU forward time: above 1 the GPU is faster' },
  { text: 'CPU backward float32 ms', title: 'a plain float32 backward loop on the CPU' },
  { text: 'backward speed-up vs float32', title: 'CPU float32 backward time / GPU backward time: above 1 the GPU is faster' },
  ...PEER_CASES.map((peerCase) => ({
    text: `vs best peer, ${caseLabel(peerCase)}`,
    title:
      `${peerCase.mode} in ${peerCase.layout}: our time / the fastest peer (TensorFlow.js, ONNX Runtime Web) that passed its check, ` +
      'all timed alike (wall time of standalone calls); below 1 webgpu-batchnorm is faster. The JSON export has every time.',
  })),
  { text: 'max |error|', title: 'largest absolute difference of the GPU forward y from the float64 reference' },
  { text: 'check', title: 'y within the tolerance of the float64 reference' },
];

/** The model row's columns. */
const MODEL_HEADERS: readonly Header[] = [
  'batch',
  { text: "step ms, tfjs's BN", title: "median wall time of a training step (trainOnBatch until its loss is read) with tfjs's BatchNormalization" },
  { text: 'step ms, ours', title: 'median wall time of a training step with webgpu-batchnorm/tfjs' },
  { text: 'ours / tfjs', title: 'our step time / tfjs\'s: below 1 the model with our batch norm trains faster' },
  { text: "BN ms, tfjs's BN", title: "the model's batch norm on its own (its BN layers' forward and backward at the step's shapes), median ms per call" },
  { text: "BN share, tfjs's BN", title: "BN ms / step ms with tfjs's BatchNormalization: the part of a step that batch norm takes" },
  { text: 'BN ms, ours', title: "the model's batch norm on its own with webgpu-batchnorm/tfjs, median ms per call" },
  { text: 'BN share, ours', title: 'BN ms / step ms with webgpu-batchnorm/tfjs' },
  { text: 'loss diff', title: "the two models' first-step loss from the same weights, relative difference" },
  { text: 'check', title: 'the loss difference within LOSS_AGREEMENT_RTOL' },
];

/** The model row's table and the paragraph that says what it times; hidden without a model row. */
function showModelRow(model: ModelStepReport | null, box: HTMLElement, method: HTMLParagraphElement, table: HTMLTableElement): void {
  box.hidden = !model;
  if (!model) return;
  method.textContent =
    `The network: ${model.network}. Batch norm: ${model.libraries.tfjs} against ${model.libraries.ours}. Step: ${model.stepTiming}. ` +
    `BN: ${model.batchNormTiming}; BN share = BN ms / step ms. ${model.statistic}. Check: ${model.check}.`;
  fillTable(
    table,
    MODEL_HEADERS,
    model.rows.map((r) => {
      if (!r.tfjs || !r.ours) return [formatCount(r.batch), make('td', `not measured: ${r.error ?? 'unknown'}`, 'not-ok'), ...MODEL_HEADERS.slice(2).map(() => '')];
      return [formatCount(r.batch), ...modelStepCells({ ...r, tfjs: r.tfjs, ours: r.ours }), verdictCell(r.passed)];
    }),
  );
}

/** The row's shape, and under it the sweep's name for it. */
function shapeCell(row: BenchmarkRow): HTMLTableCellElement {
  const cell = make('td', '', 'shape-cell');
  cell.append(row.shape.join('×'), make('br'), make('small', row.label));
  return cell;
}

export function setUpBenchmark(gpu: Gpu, environment: Environment, clock: PageClock): void {
  const form = byId('bench-form', HTMLFormElement);
  const maxSelect = byId('bench-max', HTMLSelectElement);
  const trialsInput = byId('bench-trials', HTMLInputElement);
  const runButton = byId('bench-run', HTMLButtonElement);
  const cancelButton = byId('bench-cancel', HTMLButtonElement);
  const progress = byId('bench-progress', HTMLProgressElement);
  const status = byId('bench-status', HTMLSpanElement);
  const summary = byId('bench-summary', HTMLParagraphElement);
  const table = byId('bench-table', HTMLTableElement);
  const exportText = byId('export-text', HTMLTextAreaElement);
  const copyButton = byId('export-copy', HTMLButtonElement);
  const downloadButton = byId('export-download', HTMLButtonElement);
  const warning = byId('emulation-warning', HTMLDivElement);
  const drawCharts = benchmarkCharts({
    time: byId('chart-time', HTMLCanvasElement),
    speedup: byId('chart-speedup', HTMLCanvasElement),
    bandwidth: byId('chart-bandwidth', HTMLCanvasElement),
    peers: byId('chart-peers', HTMLCanvasElement),
  });
  const peersBox = byId('bench-peers', HTMLInputElement);
  const modelBox = byId('bench-model', HTMLInputElement);
  const modelBatches = byId('bench-model-batches', HTMLInputElement);
  const modelResult = byId('bench-model-result', HTMLDivElement);
  const modelMethod = byId('bench-model-method', HTMLParagraphElement);
  const modelTable = byId('bench-model-table', HTMLTableElement);
  // On a software adapter a step at batch 64 takes tens of seconds: the model row only when asked for.
  modelBox.checked = !environment.adapter.emulated;
  modelBatches.value = (environment.adapter.emulated ? EMULATED_MODEL_BATCHES : MODEL_BATCHES).join(', ');
  const method = byId('bench-method', HTMLParagraphElement);
  const chartsCaption = byId('charts-caption', HTMLParagraphElement);
  const showMethod = (gpuTiming: string, statistic?: string, measuredOn: Environment = environment) => {
    method.textContent = methodText(gpuTiming, clock, statistic);
    method.dataset.gpuTiming = gpuTiming;
    chartsCaption.textContent = `${measuredOn.adapter.label} · ${measuredOn.runtime} · GPU time: ${gpuTiming}`;
  };
  showMethod(gpuTimingMethod(gpu));

  const sizes = [...new Set(SWEEP.map((s) => numElements(s.shape)))];
  for (const size of sizes) {
    const largest = SWEEP.filter((s) => numElements(s.shape) === size).map((s) => s.shape.join('x'));
    maxSelect.append(new Option(`${size.toExponential(1)} elements (${sweepUpTo(size).length} sizes, up to ${largest.join(', ')})`, String(size)));
  }
  const defaultMax = environment.adapter.emulated ? Math.max(...sizes.filter((s) => s <= EMULATED_DEFAULT_MAX_ELEMENTS)) : Math.max(...sizes);
  maxSelect.value = String(defaultMax);
  if (environment.adapter.emulated) {
    warning.hidden = false;
    warning.textContent =
      `${environment.adapter.label}: this adapter runs WebGPU on the CPU, so "GPU" times here are CPU emulation, ` +
      'not a GPU timing. The default sweep stops at a few million elements; the largest sizes take minutes.';
  }

  let rows: BenchmarkRow[] = [];
  let report: BenchmarkReport | null = null;
  let controller: AbortController | null = null;

  const exportFormat = () => document.querySelector<HTMLInputElement>('input[name="export-format"]:checked')?.value ?? 'csv';
  const exportContent = () =>
    exportFormat() === 'json' ? (report ? reportToJson(report) : `${JSON.stringify({ environment, rows, complete: false }, null, 2)}\n`) : reportToCsv(rows);
  const refreshExport = () => {
    exportText.value = rows.length > 0 ? exportContent() : '';
    copyButton.disabled = downloadButton.disabled = rows.length === 0;
  };
  for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="export-format"]')) radio.addEventListener('change', refreshExport);
  copyButton.addEventListener('click', () => {
    exportText.select();
    navigator.clipboard.writeText(exportText.value).then(
      () => (copyButton.textContent = 'Copied'),
      () => (copyButton.textContent = 'Select and copy (clipboard blocked)'),
    );
  });
  downloadButton.addEventListener('click', () => {
    const json = exportFormat() === 'json';
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([exportText.value], { type: json ? 'application/json' : 'text/csv' }));
    link.download = `webgpu-batchnorm-bench.${json ? 'json' : 'csv'}`;
    link.click();
    URL.revokeObjectURL(link.href);
  });

  const showRows = () => {
    drawCharts(rows);
    if (rows.length === 0) {
      table.replaceChildren();
      refreshExport();
      return;
    }
    fillTable(
      table,
      TABLE_HEADERS,
      rows.map((r) => {
        const baseline = baselineOf(r);
        const x = speedups(r);
        return [
          shapeCell(r),
          r.elements.toLocaleString('en-US'),
          r.copy ? formatNumber(r.copy.gbps) : '-',
          formatNumber(baseline.forward.ms),
          fractionCell(baseline.forward.copyFraction),
          passesText(baseline.forward),
          formatNumber(baseline.inference.ms),
          fractionCell(baseline.inference.copyFraction),
          formatNumber(baseline.backward.ms),
          fractionCell(baseline.backward.copyFraction),
          passesText(baseline.backward),
          r.residual ? formatNumber(r.residual.fused.ms) : '-',
          r.residual ? formatNumber(r.residual.unfused.ms) : '-',
          r.residual ? formatNumber(r.residual.ratio) : '-',
          formatNumber(r.firstCallMs),
          formatNumber(r.hostCallMs),
          formatNumber(r.cpuReferenceMs),
          formatNumber(r.cpuFloat32Ms),
          formatNumber(x.vsReference),
          formatNumber(x.vsFloat32),
          formatNumber(r.cpuBackwardFloat32Ms),
          formatNumber(x.backwardVsFloat32),
          ...PEER_CASES.map((peerCase) => ratioCell(findComparison(r.peers, peerCase))),
          baseline.maxAbsError.toExponential(1),
          verdictCell(baseline.passed),
        ];
      }),
    );
    refreshExport();
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const shapes = sweepUpTo(Number(maxSelect.value));
    const trials = Math.max(1, Math.round(Number(trialsInput.value) || 1));
    let model: { batches: number[] } | null = null;
    try {
      model = modelBox.checked ? { batches: parseModelBatches(modelBatches.value) } : null;
    } catch (error) {
      status.textContent = error instanceof Error ? error.message : String(error);
      return;
    }
    rows = [];
    showModelRow(null, modelResult, modelMethod, modelTable);
    report = null;
    summary.textContent = '';
    showRows();
    controller = new AbortController();
    runButton.disabled = true;
    cancelButton.disabled = false;
    status.textContent = 'starting…';
    progress.value = 0;
    runBenchmark(gpu, {
      shapes,
      runtime: environment.runtime,
      settings: { trials },
      // The ORT wasm's URL from Vite (served from node_modules, or emitted by the build); TensorFlow.js and
      // ONNX Runtime Web themselves load only when a run reaches the peers.
      peers: peersBox.checked ? { ortWasm: ortWasmUrl } : null,
      model,
      signal: controller.signal,
      onProgress: (p) => {
        progress.value = p.completed / p.total;
        status.textContent = `${p.completed}/${p.total} · ${p.label}: ${p.phase}`;
        if (p.row) {
          rows.push(p.row);
          showRows();
        }
        window.dispatchEvent(new CustomEvent('bench-progress', { detail: { completed: p.completed, total: p.total, label: p.label, phase: p.phase } }));
      },
    })
      .then((finished) => {
        report = finished;
        showMethod(finished.method.gpuTiming, finished.method.statistic);
        showModelRow(finished.model, modelResult, modelMethod, modelTable);
        progress.value = 1;
        status.textContent = `done: ${finished.rows.length} sizes`;
        summary.textContent =
          `First call ${formatNumber(finished.compile.firstCallMs)} ms vs steady ${formatNumber(finished.compile.steadyMs)} ms ` +
          `(${finished.compile.label}: the run's first call includes compiling the shaders and their first use). Host-side time of one forward call ` +
          `(validate + encode + submit, on an idle queue): ${formatNumber(finished.hostCallMs)} ms, median over sizes. ` +
          formatComposition(finished).map((line) => line.trim()).join(' ');
        refreshExport();
        window.dispatchEvent(new CustomEvent('bench-done', { detail: { report: finished, summary: formatSummary(finished), adapterSlug: adapterSlug(environment.adapter) } }));
      })
      .catch((error: unknown) => {
        if (controller?.signal.aborted) {
          status.textContent = `cancelled after ${rows.length} of ${shapes.length} sizes`;
          window.dispatchEvent(new CustomEvent('bench-cancelled', { detail: { rows: rows.length } }));
          return;
        }
        status.textContent = `failed: ${error instanceof Error ? error.message : String(error)}`;
        console.error(error);
        window.dispatchEvent(new CustomEvent('bench-error', { detail: { message: status.textContent } }));
      })
      .finally(() => {
        runButton.disabled = false;
        cancelButton.disabled = true;
        controller = null;
      });
  });
  // A saved report (from this page, `npm run bench` or `npm run bench:node` on a GPU server) drawn as if
  // it had just run here, captioned with the adapter and runtime it was measured on.
  const openInput = byId('bench-open', HTMLInputElement);
  openInput.addEventListener('change', () => {
    const file = openInput.files?.[0];
    if (!file) return;
    file
      .text()
      .then((text) => {
        const opened = readReport(JSON.parse(text));
        report = opened;
        rows = [...opened.rows];
        showMethod(opened.method.gpuTiming, opened.method.statistic, opened.environment);
        showModelRow(opened.model, modelResult, modelMethod, modelTable);
        summary.textContent = formatComposition(opened).map((line) => line.trim()).join(' ');
        status.textContent = `opened ${file.name}: ${rows.length} sizes measured on ${opened.environment.adapter.label}, ${opened.createdAt}`;
        showRows();
        window.dispatchEvent(new CustomEvent('bench-opened', { detail: { adapterSlug: adapterSlug(opened.environment.adapter) } }));
      })
      .catch((error: unknown) => {
        status.textContent = `could not open ${file.name}: ${error instanceof Error ? error.message : String(error)}`;
        window.dispatchEvent(new CustomEvent('bench-error', { detail: { message: status.textContent } }));
      });
  });
  cancelButton.addEventListener('click', () => {
    controller?.abort();
    status.textContent = 'cancelling after the current measurement…';
  });
  runButton.disabled = false;
}
