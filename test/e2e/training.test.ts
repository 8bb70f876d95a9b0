// End-to-end: the training panel of the built demo page in headless Chromium (WebGPU on SwiftShader where
// there is no GPU). A short run of both networks from the seeded start: the evaluations arrive in step
// order, both networks' test loss falls, the one with batch norm is already ahead, every chart gets its
// points, the page fits a phone and a desktop; then Start resumes the run and Stop ends it. The page must
// log no errors. Nothing here asserts a time: on SwiftShader a step takes about half a second.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright';
import { EVALUATE_EVERY } from '../../demo/mnist/experiment.js';
import type { Readout } from '../../demo/mnist/trainer.js';
import { launchChromium, serveDemo } from '../../scripts/demo-browser.mjs';

const STEPS = 2 * EVALUATE_EVERY;
const VIEWPORTS = [
  { width: 390, height: 844 },
  { width: 1280, height: 800 },
] as const;
/** SwiftShader: about half a second a step, and loading the digits. */
const RUN_TIMEOUT = 240_000;

let server: Awaited<ReturnType<typeof serveDemo>>;
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];

beforeAll(async () => {
  server = await serveDemo(); // demo-dist/, built by the project's global set-up (build-demo.ts)
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { ...VIEWPORTS[1] } });
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(error.message));
  await page.goto(server.url);
  await page.waitForSelector('#training-start:not([disabled])', { timeout: 30_000 });
  // Every evaluation the page announces, in order.
  await page.evaluate(() => {
    const readouts: unknown[] = [];
    (window as unknown as { trainingReadouts: unknown[] }).trainingReadouts = readouts;
    window.addEventListener('training-readout', (event) => readouts.push((event as CustomEvent).detail));
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const readouts = () => page.evaluate(() => (window as unknown as { trainingReadouts: Readout[] }).trainingReadouts);
const state = () => page.getAttribute('#training-status', 'data-state');
const points = async (id: string) => ((await page.getAttribute(`#${id}`, 'data-points')) ?? '').split(',').map(Number);

async function waitUntilIdle(): Promise<void> {
  await expect.poll(state, { timeout: RUN_TIMEOUT, interval: 500 }).toMatch(/^(done|stopped|error)$/);
}

async function expectFitsViewports(when: string): Promise<void> {
  for (const viewport of VIEWPORTS) {
    await page.setViewportSize(viewport);
    // Chart.js resizes its canvases on a ResizeObserver callback: give the layout a few frames to settle.
    await expect
      .poll(() => page.evaluate(() => document.documentElement.scrollWidth), { timeout: 3_000, interval: 100 })
      .toBeLessThanOrEqual(viewport.width);
    expect(await page.evaluate(() => document.body.scrollWidth), `${when} at ${viewport.width} px`).toBeLessThanOrEqual(viewport.width);
  }
  await page.setViewportSize(VIEWPORTS[1]);
}

it(`trains both networks ${STEPS} steps: the loss falls, batch norm is ahead, every chart gets its points`, async () => {
  expect(await state()).toBe('idle');
  expect(await page.$$eval('#training-panel figure.chart-box', (list) => list.map((f) => f.classList.contains('empty')))).toEqual([true, true, true]);
  await page.fill('#training-steps', String(STEPS));
  await page.click('#training-start');
  await waitUntilIdle();
  expect(await page.textContent('#training-status')).toBe(`done at step ${STEPS} of ${STEPS}`);

  const run = await readouts();
  expect(run.map((r) => r.step)).toEqual([0, EVALUATE_EVERY, STEPS]);
  const [first, last] = [run[0]!, run[run.length - 1]!];
  for (const network of ['plain', 'batchNorm'] as const) {
    expect(last[network].testLoss, network).toBeLessThan(first[network].testLoss);
    expect(first[network].batchLoss, network).toBeNull();
    expect(first[network].percentiles, network).toBeNull();
    for (const readout of run.slice(1)) {
      expect(Number.isFinite(readout[network].batchLoss), network).toBe(true);
      const [p15, p50, p85] = readout[network].percentiles!;
      expect(p15!, network).toBeLessThanOrEqual(p50!);
      expect(p50!, network).toBeLessThanOrEqual(p85!);
    }
  }
  // The same seeded start: the same predictions before the first step (batch norm's initial running
  // statistics, mean 0 and variance 1, pass the dense outputs through but for eps).
  expect(first.batchNorm.testAccuracy).toBe(first.plain.testAccuracy);
  expect(first.batchNorm.testLoss).toBeCloseTo(first.plain.testLoss, 4);
  // The paper's Figure 1(a) in miniature: the network with batch norm is well ahead already.
  expect(last.batchNorm.testAccuracy).toBeGreaterThan(last.plain.testAccuracy + 0.2);

  // A point per evaluation in the accuracy chart; the percentile bands start at the first step.
  expect(await points('chart-accuracy')).toEqual([3, 3]);
  expect(await points('chart-percentiles-plain')).toEqual([2, 2, 2]);
  expect(await points('chart-percentiles-batch-norm')).toEqual([2, 2, 2]);
  expect(await page.$$eval('#training-panel figure.chart-box', (list) => list.some((f) => f.classList.contains('empty')))).toBe(false);
  const rows = await page.$$eval('#training-table tbody tr', (list) => list.map((row) => row.firstElementChild?.textContent));
  expect(rows).toEqual(['without batch norm', 'with batch norm']);
  expect(Number(await page.getAttribute('#training-rate', 'data-steps-per-second'))).toBeGreaterThan(0);
  expect(await page.textContent('#training-rate')).toMatch(/steps per second .* on .+\.$/);
  await expectFitsViewports('after training');
  expect(consoleErrors).toEqual([]);
});

it('resumes from where it stopped with Start, and Stop ends the run once the queued steps are done', async () => {
  const before = (await readouts()).length;
  await page.fill('#training-steps', '1000');
  await page.click('#training-start');
  // The run resumes at step STEPS: its first evaluation is the next one, not a new start at step 0.
  await expect.poll(async () => (await readouts()).length, { timeout: RUN_TIMEOUT, interval: 250 }).toBeGreaterThan(before);
  await page.click('#training-start'); // now the Stop button
  await waitUntilIdle();
  expect(await state()).toBe('stopped');
  const resumed = (await readouts()).slice(before).map((r) => r.step);
  expect(resumed[0]).toBe(STEPS + EVALUATE_EVERY);
  expect(resumed.every((step, i) => step === STEPS + (i + 1) * EVALUATE_EVERY)).toBe(true);
  const stoppedAt = resumed[resumed.length - 1]!;
  expect(stoppedAt).toBeLessThan(1000);
  expect(await page.textContent('#training-status')).toBe(`stopped at step ${stoppedAt} of 1,000`);
  expect(await page.textContent('#training-start')).toBe('Start');
  expect(await page.isEnabled('#training-steps')).toBe(true);
  expect(consoleErrors).toEqual([]);
});
