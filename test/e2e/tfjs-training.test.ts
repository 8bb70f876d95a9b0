// End-to-end: the TensorFlow.js panel of the built demo page in headless Chromium (tfjs's webgpu backend on
// SwiftShader where there is no GPU). A few steps of the seed article's CNN, with tfjs's BatchNormalization
// and with webgpu-batchnorm/tfjs's, from the same weights on the same mini-batches: each step's losses agree
// within LOSS_AGREEMENT_RTOL over the first LOSS_AGREEMENT_STEPS, the page reports both models' step times,
// the speed-up and batch norm's share of each model's step, and both accuracy curves get their points.
// Nothing here asserts a time: on SwiftShader a step takes seconds, and the first one about a minute of
// shader compilation.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Page } from 'playwright';
import { LOSS_AGREEMENT_STEPS } from '../../demo/tfjs/experiment.js';
import { LOSS_AGREEMENT_RTOL } from '../../bench/seed-cnn.js';
import type { Evaluation, StepRecord } from '../../demo/tfjs/trainer.js';
import { openDemo, type DemoPage } from './demo-page.js';

/** The steps over which the losses must agree within LOSS_AGREEMENT_RTOL. */
const STEPS = LOSS_AGREEMENT_STEPS;
const BATCH = 8;
const TEST_DIGITS = 20;
/** SwiftShader: loading TensorFlow.js and the digits, compiling both models' shaders, then seconds a step. */
const RUN_TIMEOUT = 600_000;

let demo: DemoPage;
let page: Page;
let consoleErrors: string[];

beforeAll(async () => {
  demo = await openDemo('#tfjs-start:not([disabled])');
  ({ page, consoleErrors } = demo);
  await page.evaluate(() => {
    const events = { steps: [] as unknown[], evaluations: [] as unknown[] };
    (window as unknown as { tfjsEvents: typeof events }).tfjsEvents = events;
    window.addEventListener('tfjs-training-step', (event) => events.steps.push((event as CustomEvent).detail));
    window.addEventListener('tfjs-training-readout', (event) => events.evaluations.push((event as CustomEvent).detail));
  });
});

afterAll(async () => {
  await demo?.close();
});

it(`trains both models ${STEPS} steps: the losses agree step by step, both step times, the speed-up and batch norm's share are reported`, async () => {
  await page.fill('#tfjs-steps', String(STEPS));
  await page.fill('#tfjs-batch', String(BATCH));
  await page.fill('#tfjs-test-digits', String(TEST_DIGITS));
  await page.click('#tfjs-start');
  await expect.poll(() => page.getAttribute('#tfjs-status', 'data-state'), { timeout: RUN_TIMEOUT, interval: 1000 }).toMatch(/^(done|stopped|error)$/);
  expect(await page.textContent('#tfjs-status')).toBe(`done at step ${STEPS} of ${STEPS}`);

  const { steps, evaluations } = await page.evaluate(() => (window as unknown as { tfjsEvents: { steps: StepRecord[]; evaluations: Evaluation[] } }).tfjsEvents);
  expect(steps.map((s) => s.step)).toEqual([1, 2, 3]);
  for (const { step, loss, ms, batchNormMs } of steps) {
    expect(Number.isFinite(loss.tfjs) && Number.isFinite(loss.ours), `step ${step}`).toBe(true);
    expect(Math.abs(loss.ours - loss.tfjs), `step ${step}: losses ${loss.ours} (ours) and ${loss.tfjs} (tfjs)`).toBeLessThanOrEqual(LOSS_AGREEMENT_RTOL * Math.abs(loss.tfjs));
    for (const value of [ms.tfjs, ms.ours, batchNormMs.tfjs, batchNormMs.ours]) expect(value, `step ${step}`).toBeGreaterThan(0);
  }
  expect(evaluations.map((e) => e.step)).toEqual([0, STEPS]);
  for (const { accuracy } of evaluations) for (const value of [accuracy.tfjs, accuracy.ours]) expect(value).toBeGreaterThanOrEqual(0);

  // The page: both step times, batch norm's time and share in the table, the speed-up, the share, the
  // agreement, and the charts' points.
  const rows = await page.$$eval('#tfjs-table tbody tr', (list) => list.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
  expect(rows.map((r) => r[0])).toEqual(["tfjs's BatchNormalization", 'webgpu-batchnorm/tfjs']);
  for (const [, medianStep, medianBatchNorm, share, lastStep] of rows) {
    for (const cell of [medianStep, medianBatchNorm, lastStep]) expect(cell).toMatch(/^\d+\.\d ms$/);
    expect(share).toMatch(/^\d+\.\d%$/);
  }
  expect(Number(await page.getAttribute('#tfjs-speedup', 'data-speedup'))).toBeGreaterThan(0);
  expect(await page.textContent('#tfjs-speedup')).toMatch(/^Speed-up: /);
  for (const model of ['tfjs', 'ours']) expect(Number(await page.getAttribute('#tfjs-batch-norm', `data-share-${model}`)), model).toBeGreaterThan(0);
  expect(await page.textContent('#tfjs-batch-norm')).toMatch(/^Batch norm's share of a step: \d+\.\d% with tfjs's BatchNormalization .*, \d+\.\d% with ours /);
  expect(Number(await page.getAttribute('#tfjs-agreement', 'data-worst'))).toBeLessThanOrEqual(LOSS_AGREEMENT_RTOL);
  expect(await page.getAttribute('#chart-tfjs-accuracy', 'data-points')).toBe('2,2');
  expect(await page.getAttribute('#chart-tfjs-step-time', 'data-points')).toBe(`${STEPS},${STEPS}`);
  expect(consoleErrors).toEqual([]);
  const relative = steps.map((s) => (Math.abs(s.loss.ours - s.loss.tfjs) / Math.abs(s.loss.tfjs)).toExponential(1));
  console.log(
    `TensorFlow.js panel: ${await page.textContent('#tfjs-speedup')} ${await page.textContent('#tfjs-batch-norm')} ` +
      `Loss differences by step, relative: ${relative.join(', ')}`,
  );
}, RUN_TIMEOUT + 60_000);
