// End-to-end: the built demo page in headless Chromium (WebGPU on SwiftShader where there is no GPU).
// Small interactive runs, a short benchmark sweep, and the peers and the model row at one size; the page
// must log no errors, pass its check against the CPU reference, draw a point per size in every chart
// series, and export one CSV row per size. The document must never be wider than the viewport (390 px phone, 1280 px desktop), before and
// after a run and a benchmark; a shape too large for the device or the page must be refused at once, with
// the previous run's charts and table cleared. The built site must also work from a sub-path of a plain
// static host (as GitHub Pages serves it), without cross-origin isolation.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Page } from 'playwright';
import { expectFitsViewports, openDemo, VIEWPORTS, type DemoPage } from './demo-page.js';
import { REPORT_SCHEMA, type BenchmarkReport } from '../../bench/benchmark.js';
import { sweepUpTo } from '../../bench/sweep.js';
import { serveStatic } from './static-server.js';

// Sizes up to this many elements: the first few of the sweep, seconds on SwiftShader.
const SHORT_SWEEP_MAX_ELEMENTS = '100352';
const SHORT_SWEEP_SIZES = sweepUpTo(Number(SHORT_SWEEP_MAX_ELEMENTS)).length;
const DEMO_DIST = join(import.meta.dirname, '..', '..', 'demo-dist');
const SUB_PATH = '/webgpu-batchnorm/';
/** The model row's batch here: the smallest it takes, seconds a step on SwiftShader (test/gpu/model-step.test.ts times it). */
const MODEL_BATCH = 2;

let demo: DemoPage;
let page: Page;
let consoleErrors: string[];

beforeAll(async () => {
  demo = await openDemo('#run-button:not([disabled])');
  ({ page, consoleErrors } = demo);
});

afterAll(async () => {
  await demo?.close();
});


/** Fills the shape inputs and picks the mode. */
async function setShape(shape: readonly number[], mode: 'training' | 'inference' = 'training'): Promise<void> {
  for (const [i, id] of ['dim-n', 'dim-c', 'dim-h', 'dim-w'].entries()) await page.fill(`#${id}`, String(shape[i]));
  await page.check(`input[name="mode"][value="${mode}"]`);
}

/** Clicks Run and waits for the badge to settle; returns its text. */
async function runAndWait(): Promise<string> {
  await page.click('#run-button');
  const badge = page.locator('#check-badge');
  await expect.poll(() => badge.getAttribute('class'), { timeout: 30_000 }).toMatch(/\b(pass|fail)\b/);
  return (await badge.textContent()) ?? '';
}

it('fits a phone and a desktop on load, with "no data yet" in place of empty charts', async () => {
  await expectFitsViewports(page, 'on load');
  // Every panel shows the code behind it (demo/snippets/, type-checked), starting with its import.
  const snippets = await page.$$eval('section.panel', (panels) =>
    panels.map((panel) => [panel.id, panel.querySelector('[data-snippet]')?.textContent ?? ''] as const),
  );
  expect(snippets.map(([id]) => id)).toEqual(['adapter-panel', 'interactive-panel', 'training-panel', 'tfjs-panel', 'bench-panel']);
  for (const [id, code] of snippets) expect(code, id).toMatch(/^import .* from 'webgpu-batchnorm(\/tfjs)?';$/m);
  // No placeholder axes before any data: every chart's figure is in its empty state.
  const figures = await page.$$eval('figure.chart-box', (list) => list.map((f) => f.classList.contains('empty')));
  expect(figures).toEqual(new Array(11).fill(true)); // 2 histograms, 3 training charts, 2 TensorFlow.js charts, 4 benchmark charts
  // Adapter limits stay readable at 390 px: each value on one line, not a character per line.
  await page.setViewportSize(VIEWPORTS[0]);
  const limitLines = await page.$$eval('.adapter-grid dl:nth-of-type(2) dd', (list) =>
    list.map((dd) => {
      const text = document.createRange();
      text.selectNodeContents(dd);
      return text.getBoundingClientRect().height / parseFloat(getComputedStyle(dd).lineHeight);
    }),
  );
  expect(limitLines.length).toBeGreaterThan(0);
  expect(Math.max(...limitLines)).toBeLessThan(1.5);
  await page.setViewportSize(VIEWPORTS[1]);
  // Served by vite preview with COOP/COEP: the fine clock, and the page says so.
  expect(await page.getAttribute('#clock-note', 'data-cross-origin-isolated')).toBe('true');
});

it('runs a small interactive case and passes the check against the CPU reference', async () => {
  await page.selectOption('#preset', { label: 'tiny 2x4x4x4' });
  const badge = page.locator('#check-badge');
  expect(await runAndWait(), (await page.textContent('#run-summary')) ?? '').toBe('PASS');
  expect(Number(await badge.getAttribute('data-worst-error'))).toBeLessThan(1e-5);
  // Four channels in each histogram chart, 48 bins each.
  expect(await page.getAttribute('#hist-y', 'data-points')).toBe('48,48,48,48');
  // The first run of a shape says its time includes shader compilation; a repeat says it does not.
  expect(await page.getAttribute('#run-timing', 'data-first-run')).toBe('true');
  expect(await page.textContent('#run-timing')).toMatch(/from the forward call until every result was read back.*includes compiling the shaders/);
  expect(await runAndWait()).toBe('PASS');
  expect(await page.getAttribute('#run-timing', 'data-first-run')).toBe('false');
  // Training shows the running statistics after the update.
  const headers = await page.$$eval('#channel-table th', (list) => list.map((th) => th.textContent));
  expect(headers).toContain('running mean after');
  expect(headers).toContain('running var after');
  expect(await page.textContent('#channel-note')).toMatch(/^Showing all 4 channels, as in the histograms\./);
  await expectFitsViewports(page, 'after a run');
  expect(consoleErrors).toEqual([]);
});

it('passes a valid case with one value per channel and sample (N=2, C=4, H=W=1, training)', async () => {
  await setShape([2, 4, 1, 1], 'training');
  expect(await runAndWait(), (await page.textContent('#run-summary')) ?? '').toBe('PASS');
  expect(consoleErrors).toEqual([]);
});

it('says how many channels it shows, and the running statistics follow momentum 0.1 from (0, 1)', async () => {
  await page.selectOption('#preset', { label: 'small 8x16x14x14' });
  await page.check('input[name="mode"][value="training"]');
  expect(await runAndWait()).toBe('PASS');
  // The table shows the histograms' channels.
  expect(await page.textContent('#channel-note')).toMatch(/^Showing channels 0–5 of 16, as in the histograms\./);
  expect(await page.$$eval('#interactive-panel .channels-shown', (list) => list.map((s) => s.textContent))).toEqual([
    '(channels 0–5 of 16)',
    '(channels 0–5 of 16)',
  ]);
  const table = await page.$$eval('#channel-table tr', (rows) => rows.map((row) => [...row.children].map((cell) => cell.textContent ?? '')));
  const column = (name: string) => table[0]!.indexOf(name);
  expect(table).toHaveLength(1 + 6);
  expect(table.slice(1).map((row) => row[0])).toEqual(['0', '1', '2', '3', '4', '5']);
  for (const row of table.slice(1)) {
    const batchMean = Number(row[column('batch mean (GPU)')]);
    expect(Number(row[column('running mean after')])).toBeCloseTo(0.1 * batchMean, 2);
  }
  expect(consoleErrors).toEqual([]);
});

it('refuses shapes too large for the device or the page at once, and clears the previous results', async () => {
  expect(await page.getAttribute('#hist-x', 'data-points')).not.toBe('');
  const cases = [
    // 2 GiB of float32: over SwiftShader's 1 GiB maxBufferSize (it froze the tab for 48 s before).
    { shape: [64, 512, 128, 128], message: /^Too large for this device: 64×512×128×128 is 536,870,912 elements.*maxBufferSize/ },
    // 1e14 elements: used to end in "Invalid typed array length".
    { shape: [100000, 100000, 100, 100], message: /^Too large for this device: 100000×100000×100×100 is 100,000,000,000,000 elements/ },
    // Fits the device's buffers, but not the page's cap on host memory (2^25 elements).
    { shape: [32, 1024, 32, 33], message: /^Too large for this page: 32×1024×32×33 is 34,603,008 elements; .*at most 33,554,432 elements/ },
  ];
  for (const { shape, message } of cases) {
    await setShape(shape);
    // In the page: the answer is there when the submit handler returns (synchronously: nothing was
    // allocated or awaited). Not timed: speed is the benchmark's to measure, and a loaded machine's clock
    // says nothing about the page.
    const badge = await page.evaluate(() => {
      document.querySelector<HTMLFormElement>('#run-form')!.requestSubmit();
      return document.querySelector('#check-badge')!.textContent;
    });
    expect(badge).toBe('TOO LARGE');
    // From a real click, as a user sees it.
    await page.click('#run-button');
    await expect.poll(() => page.textContent('#run-summary'), { interval: 10 }).toMatch(message);
    expect(await page.textContent('#check-badge')).toBe('TOO LARGE');
    expect(await page.getAttribute('#check-badge', 'data-error')).toBe('size');
    // The previous run's charts and table are gone.
    expect(await page.getAttribute('#hist-x', 'data-points')).toBe('');
    expect(await page.getAttribute('#hist-y', 'data-points')).toBe('');
    expect(await page.$$eval('#interactive-panel figure.chart-box', (list) => list.every((f) => f.classList.contains('empty')))).toBe(true);
    expect(await page.$eval('#channel-table', (table) => (table as HTMLTableElement).rows.length)).toBe(0);
    expect(await page.isVisible('#channel-note')).toBe(false);
  }
  await expectFitsViewports(page, 'after a size error');
  expect(consoleErrors).toEqual([]);
});

it('runs a short sweep: a chart point per size in every series, one CSV row per size', async () => {
  await page.selectOption('#bench-max', SHORT_SWEEP_MAX_ELEMENTS);
  await page.fill('#bench-trials', '2');
  // Without the peers and the model row here (the next test runs them on one size): the peers add six
  // measurements per size and library, the model row a training step of a CNN of each model.
  expect(await page.isChecked('#bench-peers')).toBe(true);
  await page.uncheck('#bench-peers');
  await page.uncheck('#bench-model');
  await page.click('#bench-run');
  // Each size times every operation twice (per call, and pass by pass) beside the copy kernel, and the
  // residual's fused and unfused sequences.
  await expect.poll(() => page.textContent('#bench-status'), { timeout: 240_000, interval: 500 }).toMatch(/^(done|failed|cancelled)/);
  expect(await page.textContent('#bench-status')).toBe(`done: ${SHORT_SWEEP_SIZES} sizes`);

  for (const id of ['chart-time', 'chart-speedup', 'chart-bandwidth']) {
    const points = (await page.getAttribute(`#${id}`, 'data-points'))!.split(',').map(Number);
    expect(points.length, id).toBeGreaterThan(0);
    expect(points, id).toEqual(points.map(() => SHORT_SWEEP_SIZES));
  }
  const emptyFigures = await page.$$eval('#bench-panel figure.chart-box', (list) => list.filter((f) => f.classList.contains('empty')).map((f) => f.querySelector('canvas')!.id));
  expect(emptyFigures).toEqual(['chart-peers']);
  // The speed-up chart has its 1x line, and the dashed series are explained.
  expect(await page.getAttribute('#chart-speedup', 'data-reference')).toBe('1');
  expect(await page.textContent('#charts-key')).toMatch(/Dashed lines: training backward/);
  // Every abbreviated header has its tooltip.
  const untitled = await page.$$eval('#bench-table th', (list) => (list as HTMLElement[]).filter((th) => !th.title && th.textContent !== 'elements').map((th) => th.textContent));
  expect(untitled).toEqual([]);

  const csv = (await page.inputValue('#export-text')).trim().split('\n');
  expect(csv[0]).toMatch(/^label,shape,elements,variant,copy_ms,copy_min_ms,copy_gbps,gpu_forward_ms/);
  expect(csv.slice(1)).toHaveLength(SHORT_SWEEP_SIZES);
  expect(csv.slice(1).every((line) => line.endsWith(',true'))).toBe(true);

  await page.check('input[name="export-format"][value="json"]');
  const report = JSON.parse(await page.inputValue('#export-text')) as {
    rows: unknown[];
    environment: { adapter: { label: string } };
    method: { gpuTiming: string };
  };
  expect(report.rows).toHaveLength(SHORT_SWEEP_SIZES);
  expect(report.environment.adapter.label).not.toBe('');
  // The page names the clock the report used (GPU timestamps where the device has timestamp-query).
  expect(await page.textContent('#bench-method')).toContain(`GPU time: ${report.method.gpuTiming}`);

  await expectFitsViewports(page, 'after a benchmark');
  // At 390 px the result table is wider than its box and scrolls inside it.
  await page.setViewportSize(VIEWPORTS[0]);
  const wrap = await page.$eval('#bench-table', (table) => {
    const box = table.parentElement!;
    return { scroll: box.scrollWidth, client: box.clientWidth, overflow: getComputedStyle(box).overflowX };
  });
  expect(wrap.overflow).toBe('auto');
  expect(wrap.scroll).toBeGreaterThan(wrap.client);
  await page.setViewportSize(VIEWPORTS[1]);
  expect(consoleErrors).toEqual([]);
}, 270_000);

it('compares with TensorFlow.js and ONNX Runtime Web on one size: every peer checked, a ratio per case; and the model row at batch 2', async () => {
  const smallest = await page.$eval('#bench-max', (select) => (select as HTMLSelectElement).options[0]!.value);
  await page.selectOption('#bench-max', smallest);
  await page.fill('#bench-trials', '1');
  await page.check('#bench-peers');
  await page.check('#bench-model');
  await page.fill('#bench-model-batches', String(MODEL_BATCH));
  expect(await page.isHidden('#bench-model-result')).toBe(true);
  await page.click('#bench-run');
  // ORT's wasm (from the build's assets) takes seconds to load and compile on this machine, and the model
  // row's CNN a minute.
  await expect.poll(() => page.textContent('#bench-status'), { timeout: 270_000, interval: 500 }).toMatch(/^(done|failed|cancelled)/);
  expect(await page.textContent('#bench-status')).toBe('done: 1 sizes');

  // Six series (three modes, two layouts), one point each; the 1x line.
  expect(await page.getAttribute('#chart-peers', 'data-points')).toBe('1,1,1,1,1,1');
  expect(await page.getAttribute('#chart-peers', 'data-reference')).toBe('1');
  expect(await page.$$eval('#bench-panel figure.chart-box', (list) => list.some((f) => f.classList.contains('empty')))).toBe(false);
  expect(await page.textContent('#charts-key')).toMatch(/Relative to the best peer/);

  await page.check('input[name="export-format"][value="csv"]');
  const [head, line] = (await page.inputValue('#export-text')).trim().split('\n');
  const ratios = head!.split(',').flatMap((name, i) => (name.startsWith('peer_ratio_') ? [Number(line!.split(',')[i])] : []));
  expect(ratios).toHaveLength(6);
  for (const ratio of ratios) expect(ratio).toBeGreaterThan(0);

  await page.check('input[name="export-format"][value="json"]');
  const report = JSON.parse(await page.inputValue('#export-text')) as BenchmarkReport;
  expect(report.schema).toBe(REPORT_SCHEMA);
  expect(report.peers!.libraries.map((l) => l.split(' ')[0])).toEqual(['webgpu-batchnorm', 'TensorFlow.js', 'ONNX']);
  const comparisons = report.rows[0]!.peers!;
  expect(comparisons).toHaveLength(6);
  // TensorFlow.js in all six cases, ONNX Runtime Web in inference NCHW; every output passed its check.
  expect(comparisons.flatMap((c) => c.peers).map((p) => p.library.split(' ')[0]).sort()).toEqual([...Array(6).fill('TensorFlow.js'), 'ONNX'].sort());
  expect(comparisons.flatMap((c) => [c.ours, ...c.peers]).filter((t) => !t.passed)).toEqual([]);

  // The model row: in the JSON, and its table under the results.
  expect(report.model!.rows.map((r) => [r.batch, r.passed, r.error])).toEqual([[MODEL_BATCH, true, undefined]]);
  expect(await page.isVisible('#bench-model-result')).toBe(true);
  expect(await page.textContent('#bench-model-method')).toMatch(/^The network: the seed article's CNN/);
  const modelRows = await page.$$eval('#bench-model-table tbody tr', (list) => list.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
  expect(modelRows).toHaveLength(1);
  const [batch, tfjsStep, oursStep, ratio, tfjsBatchNorm, tfjsShare, oursBatchNorm, oursShare, , check] = modelRows[0]!;
  expect(batch).toBe(String(MODEL_BATCH));
  for (const cell of [tfjsStep, oursStep, ratio, tfjsBatchNorm, oursBatchNorm]) expect(Number(cell)).toBeGreaterThan(0);
  for (const cell of [tfjsShare, oursShare]) expect(cell).toMatch(/^[\d.]+%$/);
  expect(check).toBe('pass');
  await expectFitsViewports(page, 'after a benchmark with peers and the model row');
  expect(consoleErrors).toEqual([]);
}, 300_000);

it('opens a saved report (the committed H200 run) and draws it, captioned with the adapter it was measured on', async () => {
  const saved = join(import.meta.dirname, '..', '..', 'bench-results', 'nvidia-nvidia-h200.json');
  const report = JSON.parse(readFileSync(saved, 'utf8')) as { rows: unknown[]; environment: { adapter: { label: string } } };
  await page.setInputFiles('#bench-open', saved);
  await expect.poll(() => page.textContent('#bench-status'), { timeout: 10_000 }).toMatch(/^opened nvidia-nvidia-h200\.json/);
  const points = (await page.getAttribute('#chart-time', 'data-points'))!.split(',').map(Number);
  expect(points.every((n) => n === report.rows.length)).toBe(true);
  expect(await page.textContent('#charts-caption')).toContain(report.environment.adapter.label);
  expect(await page.$$eval('#bench-table tbody tr', (list) => list.length)).toBe(report.rows.length);
  await expectFitsViewports(page, 'after opening a report');
  expect(consoleErrors).toEqual([]);
});

it('works from a sub-path of a static host without cross-origin isolation (as on GitHub Pages)', async () => {
  const host = await serveStatic(DEMO_DIST, SUB_PATH);
  const context = await page.context().browser()!.newContext({ viewport: { ...VIEWPORTS[0] } });
  const errors: string[] = [];
  try {
    const subPage = await context.newPage();
    subPage.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    subPage.on('pageerror', (error) => errors.push(error.message));
    // "/webgpu-batchnorm" redirects to "/webgpu-batchnorm/", as GitHub Pages does.
    await subPage.goto(`${host.origin}${SUB_PATH.slice(0, -1)}`);
    expect(subPage.url()).toBe(host.url);
    await subPage.waitForSelector('#run-button:not([disabled])', { timeout: 30_000 });
    expect(await subPage.evaluate(() => crossOriginIsolated)).toBe(false);
    expect(await subPage.getAttribute('#clock-note', 'data-cross-origin-isolated')).toBe('false');
    expect(await subPage.textContent('#clock-note')).toMatch(/not cross-origin isolated .* coarsens performance\.now\(\)/);
    expect(await subPage.textContent('#bench-method')).toMatch(/coarsened to steps of .* not cross-origin isolated/);

    await subPage.selectOption('#preset', { label: 'tiny 2x4x4x4' });
    await subPage.click('#run-button');
    await expect.poll(() => subPage.getAttribute('#check-badge', 'class'), { timeout: 30_000 }).toMatch(/\b(pass|fail)\b/);
    expect(await subPage.textContent('#check-badge')).toBe('PASS');
    expect(await subPage.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(VIEWPORTS[0].width);
    // Every request stayed under the sub-path and found its file.
    expect(host.requests.filter((r) => !r.startsWith('200 ') && !r.startsWith('301 '))).toEqual([]);
    expect(host.requests.every((r) => r.includes(SUB_PATH.slice(0, -1)))).toBe(true);
    expect(errors).toEqual([]);
  } finally {
    await context.close();
    await host.close();
  }
});
