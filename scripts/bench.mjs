// `npm run bench`: builds and serves the demo, runs its benchmark in headless Chromium (system Chromium,
// WebGPU on), shows progress here, writes <out-dir>/<adapter>.json and a PNG of the chart panel, and
// prints the summary table. Options: --max-elements N (default: the page's default, which is short on a
// CPU-emulated adapter), --trials N, --out-dir DIR (default bench-results/local, ignored by git, so an
// ad-hoc run leaves the committed reference results in bench-results/ alone; pass --out-dir
// bench-results to replace them on purpose), --no-peers (leave out the comparison with TensorFlow.js and ONNX
// Runtime Web, which adds six measurements per shape and per library and a few seconds to load ORT's wasm),
// --model-batches LIST (the model row's batches, a training step of the seed CNN with tfjs's batch norm
// against ours; default the page's: 64,256, or 64 on a CPU-emulated adapter), --no-model (leave it out).
// `--render FILE.json` runs nothing: it opens a saved report (from `bench:node` on a GPU server, say) in
// the page and writes the chart panel beside it as FILE.png.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildDemo, launchChromium, serveDemo } from './demo-browser.mjs';

const DEFAULT_OUT_DIR = 'bench-results/local';

const { values } = parseArgs({
  options: {
    'max-elements': { type: 'string' },
    trials: { type: 'string' },
    'out-dir': { type: 'string', default: DEFAULT_OUT_DIR },
    'no-peers': { type: 'boolean' },
    'model-batches': { type: 'string' },
    'no-model': { type: 'boolean' },
    render: { type: 'string' },
    help: { type: 'boolean' },
  },
});
if (values.help) {
  console.log(
    `usage: npm run bench -- [--max-elements N] [--trials N] [--out-dir DIR (default ${DEFAULT_OUT_DIR})] [--no-peers]\n` +
      '                        [--model-batches 64,256 | --no-model]\n' +
      '       npm run bench -- --render REPORT.json   (charts of a saved report, written as REPORT.png)',
  );
  process.exit(0);
}

if (values['model-batches'] && values['no-model']) {
  console.error('--model-batches and --no-model contradict each other: give one');
  process.exit(2);
}
console.log('bench: building the demo page');
await buildDemo();
const server = await serveDemo();
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
  page.on('console', (message) => {
    if (message.type() === 'error') console.error(`page: ${message.text()}`);
  });
  page.on('pageerror', (error) => console.error(`page: ${error.message}`));
  if (values.render) {
    await page.goto(server.url);
    await page.waitForSelector('#bench-run:not([disabled])', { timeout: 60_000 });
    const opened = page.evaluate(
      () =>
        new Promise((resolve, reject) => {
          window.addEventListener('bench-opened', () => resolve(undefined));
          window.addEventListener('bench-error', (e) => reject(new Error(e.detail.message)));
        }),
    );
    await page.setInputFiles('#bench-open', values.render);
    await opened;
    const pngPath = values.render.replace(/\.json$/, '') + '.png';
    await page.locator('#charts').screenshot({ path: pngPath });
    console.log(`wrote ${pngPath}`);
    await browser.close();
    await server.close();
    process.exit(0);
  }
  const interactive = process.stdout.isTTY;
  await page.exposeFunction('benchProgress', ({ completed, total, label, phase }) => {
    const text = `[${String(completed).padStart(3)}/${total}] ${label}: ${phase}`;
    if (interactive) process.stdout.write(`\r\x1b[2K${text}`);
    else console.log(text);
  });
  await page.goto(server.url);
  await page.waitForSelector('#bench-run:not([disabled])', { timeout: 60_000 });
  // The page announces progress and the result as window events; forward them to this process.
  const finished = page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        window.addEventListener('bench-progress', (e) => window.benchProgress(e.detail));
        window.addEventListener('bench-done', (e) => resolve(e.detail));
        window.addEventListener('bench-error', (e) => reject(new Error(e.detail.message)));
      }),
  );
  if (values['max-elements']) {
    const wanted = Number(values['max-elements']);
    const options = await page.$$eval('#bench-max option', (list) => list.map((o) => Number(o.value)));
    const chosen = Math.max(...options.filter((size) => size <= wanted));
    if (!Number.isFinite(chosen)) throw new Error(`no size of the sweep has at most ${wanted} elements`);
    await page.selectOption('#bench-max', String(chosen));
  }
  if (values.trials) await page.fill('#bench-trials', values.trials);
  await page.setChecked('#bench-peers', !values['no-peers']);
  await page.setChecked('#bench-model', !values['no-model']);
  if (values['model-batches']) await page.fill('#bench-model-batches', values['model-batches']);
  const model = values['no-model'] ? 'no model row' : `the model row at batch ${await page.inputValue('#bench-model-batches')}`;
  console.log(`bench: ${await page.$eval('#bench-max', (select) => select.selectedOptions[0]?.textContent ?? '')}; ${model}`);
  await page.click('#bench-run');
  const { report, summary, adapterSlug } = await finished;
  if (interactive) process.stdout.write('\r\x1b[2K');

  mkdirSync(values['out-dir'], { recursive: true });
  const jsonPath = join(values['out-dir'], `${adapterSlug}.json`);
  const pngPath = join(values['out-dir'], `${adapterSlug}.png`);
  writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  await page.locator('#charts').screenshot({ path: pngPath });
  console.log(`${summary}\n\nwrote ${jsonPath} and ${pngPath}`);
} finally {
  await browser.close();
  await server.close();
}
