// End-to-end: the training panel of the built demo page in headless Chromium (WebGPU on SwiftShader where
// there is no GPU). A short run of both networks from the seeded start: the evaluations arrive in step
// order, both networks' test loss falls, the one with batch norm is already ahead, every chart gets its
// points, the page fits a phone and a desktop; then Start resumes the run and Stop ends it. The page must
// log no errors. Nothing here asserts a time: on SwiftShader a step takes about half a second.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Page } from 'playwright';
import { EVALUATE_EVERY } from '../../demo/mnist/experiment.js';
import type { Readout } from '../../demo/mnist/trainer.js';
import { expectFitsViewports, openDemo, VIEWPORTS, type DemoPage } from './demo-page.js';

const STEPS = 2 * EVALUATE_EVERY;
/** SwiftShader: about half a second a step, and loading the digits. */
const RUN_TIMEOUT = 240_000;

let demo: DemoPage;
let page: Page;
let consoleErrors: string[];

beforeAll(async () => {
  demo = await openDemo('#training-start:not([disabled])');
  ({ page, consoleErrors } = demo);
  // Every evaluation the page announces, in order.
  await page.evaluate(() => {
    const readouts: unknown[] = [];
    (window as unknown as { trainingReadouts: unknown[] }).trainingReadouts = readouts;
    window.addEventListener('training-readout', (event) => readouts.push((event as CustomEvent).detail));
  });
});

afterAll(async () => {
  await demo?.close();
});

const readouts = () => page.evaluate(() => (window as unknown as { trainingReadouts: Readout[] }).trainingReadouts);
const state = () => page.getAttribute('#training-status', 'data-state');
const points = async (id: string) => ((await page.getAttribute(`#${id}`, 'data-points')) ?? '').split(',').map(Number);

async function waitUntilIdle(): Promise<void> {
  await expect.poll(state, { timeout: RUN_TIMEOUT, interval: 500 }).toMatch(/^(done|stopped|error)$/);
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
  await expectFitsViewports(page, 'after training');
  // On a desktop the three charts stand side by side, as the paper's Figure 1 does; on a phone, one above another.
  const chartTops = () => page.$$eval('#training-panel .grid.three figure', (list) => list.map((f) => Math.round(f.getBoundingClientRect().top)));
  expect(new Set(await chartTops()).size).toBe(1);
  await page.setViewportSize(VIEWPORTS[0]);
  expect(new Set(await chartTops()).size).toBe(3);
  await page.setViewportSize(VIEWPORTS[1]);
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
