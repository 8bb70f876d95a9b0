// `npm run bench:node`: the benchmark sweep in Node.js on Dawn (the `webgpu` package), for GPU servers
// without a browser. Bundled by vite.bench-node.config.ts into build-node/bench-node.js, which needs only
// `webgpu` at run time (see ../shared/gpu-kit/): TensorFlow.js and ONNX Runtime Web (the peers) are in
// the bundle, and ONNX Runtime Web's wasm lies gzipped beside it (ORT_WASM_GZ).
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import {
  adapterSlug,
  EMULATED_MODEL_BATCHES,
  formatSummary,
  MODEL_BATCHES,
  parseModelBatches,
  parseVariants,
  reportToJson,
  runBenchmark,
  numericsVariants,
  SWEEP,
  sweepUpTo,
} from '../bench/index.js';
import { describeAdapter } from '../bench/environment.js';
import { copySharedWritesOnDawn, installNavigatorGpu, reexecOnSwiftShaderWithoutGpu, requestDawnGpu } from './dawn.js';

// Ad-hoc runs write here, a folder git ignores, not over the committed results in bench-results/.
const DEFAULT_OUT_DIR = 'bench-results/local';
// SwiftShader runs the sweep's largest shapes for minutes; its default sweep stops here.
const EMULATED_DEFAULT_MAX_ELEMENTS = 4e6;
// ONNX Runtime Web's wasm, which vite.bench-node.config.ts gzips into build-node/ beside this bundle. Its
// bytes go to ort.env.wasm.wasmBinary: ORT's web build fetch()es a URL, and Node's fetch() reads no file: URL.
const ORT_WASM_GZ = 'ort-wasm-simd-threaded.asyncify.wasm.gz';

const USAGE = `usage: node build-node/bench-node.js [options]
  --max-elements N  largest tensor of the sweep (default: all, up to ${SWEEP.at(-1)!.shape.join('x')};
                    ${EMULATED_DEFAULT_MAX_ELEMENTS} on a CPU-emulated adapter)
  --trials N        timed trials per measurement, median and minimum reported (default 5)
  --warmup N        warm-up trials dropped; for the GPU the least of them (default 1)
  --max-warmup N    the GPU's warm-up goes on until its trials settle, at most N trials (default 10)
  --stable-tolerance F  settled: the last 3 trials within F of each other, (max-min)/min (default 0.05)
  --target-ms MS    length of one trial (default 100)
  --variants JSON   Gpu options to compare, interleaved at every shape: an object of labels to
                    options, e.g. '{"1024":{"reductionWorkgroups":1024},"256":{"reductionWorkgroups":256}}';
                    the first is the baseline
  --compare-numerics  the variants: the reductions' numerical choices (bench/variants.ts NUMERICS_VARIANTS:
                    the statistics merge, compensation per value or per block, fences), the default first,
                    then the plans of before every invocation got a whole fold block (wholeFoldBlock false)
  --list-shapes     print the shapes this run would measure (NxCxHxW, one line) and exit
  --rows-out FILE   also append each shape's row to FILE as it finishes, one JSON line each
                    (what a run cut short leaves)
  --out FILE        JSON output (default ${DEFAULT_OUT_DIR}/<adapter>.json, ignored by git;
                    the committed reference results are in bench-results/)
  --no-peers        leave out the comparison with TensorFlow.js and ONNX Runtime Web (six more
                    measurements per shape per library; ORT's wasm takes seconds to load)
  --model-batches LIST  the model row's batches: a training step of the seed CNN, tfjs's batch
                    norm vs ours (default ${MODEL_BATCHES.join(',')}; ${EMULATED_MODEL_BATCHES.join(',')} on a CPU-emulated adapter)
  --no-model        leave out the model row
  --help`;

const { values } = parseArgs({
  options: {
    'max-elements': { type: 'string' },
    trials: { type: 'string' },
    warmup: { type: 'string' },
    'target-ms': { type: 'string' },
    'max-warmup': { type: 'string' },
    'stable-tolerance': { type: 'string' },
    variants: { type: 'string' },
    'compare-numerics': { type: 'boolean' },
    'list-shapes': { type: 'boolean' },
    'rows-out': { type: 'string' },
    out: { type: 'string' },
    'no-peers': { type: 'boolean' },
    'model-batches': { type: 'string' },
    'no-model': { type: 'boolean' },
    help: { type: 'boolean' },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

function positiveNumber(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) {
    console.error(`--${name} must be a non-negative number, got '${text}'\n${USAGE}`);
    process.exit(2);
  }
  return value;
}

if (values.variants !== undefined && values['compare-numerics']) {
  console.error(`--variants and --compare-numerics both name the variants: give one\n${USAGE}`);
  process.exit(2);
}
if (values['model-batches'] !== undefined && values['no-model']) {
  console.error(`--model-batches and --no-model contradict each other: give one\n${USAGE}`);
  process.exit(2);
}
// Read before any GPU work, so that a bad list fails at once.
const variants = values['compare-numerics'] ? numericsVariants() : values.variants !== undefined ? parseVariants(values.variants) : undefined;
const modelBatches = values['model-batches'] !== undefined ? parseModelBatches(values['model-batches']) : undefined;

reexecOnSwiftShaderWithoutGpu('bench:node');
const withPeers = !values['no-peers'];
const withModel = !values['no-model'];
// Before TensorFlow.js is imported (the benchmark imports it when the first shape reaches the peers, or at the model row).
if (withPeers || withModel) installNavigatorGpu();
const gpu = await requestDawnGpu();
if (withPeers) copySharedWritesOnDawn(gpu.device);
const adapter = describeAdapter(gpu.device.adapterInfo);
const maxElements = positiveNumber('max-elements', values['max-elements']) ?? (adapter.emulated ? EMULATED_DEFAULT_MAX_ELEMENTS : Infinity);
const shapes = sweepUpTo(maxElements);
if (shapes.length === 0) {
  console.error(`no shape of the sweep has at most ${maxElements} elements`);
  process.exit(2);
}
if (values['list-shapes']) {
  console.log(shapes.map((s) => s.shape.join('x')).join(' '));
  gpu.destroy();
  process.exit(0);
}
const settings = {
  ...(values.trials !== undefined ? { trials: Math.max(1, Math.round(positiveNumber('trials', values.trials)!)) } : {}),
  ...(values.warmup !== undefined ? { warmupTrials: Math.round(positiveNumber('warmup', values.warmup)!) } : {}),
  ...(values['max-warmup'] !== undefined ? { maxWarmupTrials: Math.round(positiveNumber('max-warmup', values['max-warmup'])!) } : {}),
  ...(values['stable-tolerance'] !== undefined ? { stableTolerance: positiveNumber('stable-tolerance', values['stable-tolerance'])! } : {}),
  ...(values['target-ms'] !== undefined ? { targetTrialMs: positiveNumber('target-ms', values['target-ms'])! } : {}),
};
const model = withModel ? { batches: modelBatches ?? (adapter.emulated ? EMULATED_MODEL_BATCHES : MODEL_BATCHES) } : null;
console.log(
  `adapter: ${adapter.label}; ${shapes.length} shapes up to ${shapes.at(-1)!.shape.join('x')}` +
    (model ? `; the model row at batch ${model.batches.join(', ')}` : ''),
);

const rowsOut = values['rows-out'];
if (rowsOut) {
  mkdirSync(dirname(rowsOut), { recursive: true });
  writeFileSync(rowsOut, '');
}
const interactive = process.stdout.isTTY;
const report = await runBenchmark(gpu, {
  shapes,
  runtime: `Node.js ${process.version} (${process.platform}-${process.arch}), Dawn from the webgpu npm package`,
  settings,
  ...(variants ? { variants } : {}),
  peers: withPeers ? { ortWasm: gunzipSync(readFileSync(fileURLToPath(new URL(ORT_WASM_GZ, import.meta.url)))) } : null,
  model,
  onProgress: ({ completed, total, label, phase, row }) => {
    if (row && rowsOut) appendFileSync(rowsOut, `${JSON.stringify(row)}\n`);
    const text = `[${String(completed).padStart(3)}/${total}] ${label}: ${phase}`;
    if (interactive) process.stdout.write(`\r\x1b[2K${text}`);
    else console.log(text);
  },
});
if (interactive) process.stdout.write('\r\x1b[2K');

const out = values.out ?? `${DEFAULT_OUT_DIR}/${adapterSlug(report.environment.adapter)}.json`;
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, reportToJson(report));
console.log(`${formatSummary(report)}\n\nwrote ${out}`);
gpu.destroy();
// Dawn's event loop integration can keep Node alive after the last device is destroyed.
process.exit(0);
