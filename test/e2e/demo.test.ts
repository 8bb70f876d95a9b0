// End-to-end: the built demo page in headless Chromium (WebGPU on SwiftShader where there is no GPU).
// One small interactive run and a short benchmark sweep; the page must log no errors, pass its check
// against the CPU reference, draw a point per size in every chart series, and export one CSV row per size.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright';
import { buildDemo, launchChromium, serveDemo } from '../../scripts/demo-browser.mjs';

// Sizes up to this many elements: the first three of the sweep, seconds on SwiftShader.
const SHORT_SWEEP_MAX_ELEMENTS = '100352';
const SHORT_SWEEP_SIZES = 3;

let server: Awaited<ReturnType<typeof serveDemo>>;
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];

beforeAll(async () => {
  await buildDemo();
  server = await serveDemo();
  browser = await launchChromium();
  page = await browser.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(error.message));
  await page.goto(server.url);
  await page.waitForSelector('#run-button:not([disabled])', { timeout: 30_000 });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

it('runs a small interactive case and passes the check against the CPU reference', async () => {
  await page.selectOption('#preset', { label: 'tiny 2x4x4x4' });
  await page.click('#run-button');
  const badge = page.locator('#check-badge');
  await expect.poll(() => badge.getAttribute('class'), { timeout: 30_000 }).toMatch(/\b(pass|fail)\b/);
  expect(await badge.textContent(), (await page.textContent('#run-summary')) ?? '').toBe('PASS');
  expect(Number(await badge.getAttribute('data-worst-error'))).toBeLessThan(1e-5);
  // Four channels in each histogram chart, 48 bins each.
  expect(await page.getAttribute('#hist-y', 'data-points')).toBe('48,48,48,48');
  expect(consoleErrors).toEqual([]);
});

it('runs a short sweep: a chart point per size in every series, one CSV row per size', async () => {
  await page.selectOption('#bench-max', SHORT_SWEEP_MAX_ELEMENTS);
  await page.fill('#bench-trials', '2');
  await page.click('#bench-run');
  await expect.poll(() => page.textContent('#bench-status'), { timeout: 90_000, interval: 500 }).toMatch(/^(done|failed|cancelled)/);
  expect(await page.textContent('#bench-status')).toBe(`done: ${SHORT_SWEEP_SIZES} sizes`);

  for (const id of ['chart-time', 'chart-speedup', 'chart-bandwidth']) {
    const points = (await page.getAttribute(`#${id}`, 'data-points'))!.split(',').map(Number);
    expect(points.length, id).toBeGreaterThan(0);
    expect(points, id).toEqual(points.map(() => SHORT_SWEEP_SIZES));
  }
  const csv = (await page.inputValue('#export-text')).trim().split('\n');
  expect(csv[0]).toMatch(/^label,shape,elements,gpu_forward_ms/);
  expect(csv.slice(1)).toHaveLength(SHORT_SWEEP_SIZES);
  expect(csv.slice(1).every((line) => line.endsWith(',true'))).toBe(true);

  await page.check('input[name="export-format"][value="json"]');
  const report = JSON.parse(await page.inputValue('#export-text')) as { rows: unknown[]; environment: { adapter: { label: string } } };
  expect(report.rows).toHaveLength(SHORT_SWEEP_SIZES);
  expect(report.environment.adapter.label).not.toBe('');
  expect(consoleErrors).toEqual([]);
});
