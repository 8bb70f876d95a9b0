// The built demo page (demo-dist/, built once by the e2e project's global set-up, build-demo.ts) served
// and opened in headless Chromium, with every console error and page error collected: the e2e tests'
// common start.
import type { Browser, Page } from 'playwright';
import { expect } from 'vitest';
import { launchChromium, serveDemo } from '../../scripts/demo-browser.mjs';

/** A phone and a desktop: the page must fit both. */
export const VIEWPORTS = [
  { width: 390, height: 844 },
  { width: 1280, height: 800 },
] as const;

export interface DemoPage {
  readonly page: Page;
  /** Console errors and uncaught page errors, in order. */
  readonly consoleErrors: string[];
  close(): Promise<void>;
}

/** Opens the demo at the desktop viewport and waits until `readySelector` appears (the page set itself up). */
export async function openDemo(readySelector: string): Promise<DemoPage> {
  const server = await serveDemo();
  let browser: Browser | undefined;
  try {
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { ...VIEWPORTS[1] } });
    const consoleErrors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(error.message));
    await page.goto(server.url);
    await page.waitForSelector(readySelector, { timeout: 30_000 });
    const opened = browser;
    return {
      page,
      consoleErrors,
      close: async () => {
        await opened.close();
        await server.close();
      },
    };
  } catch (error) {
    await browser?.close();
    await server.close();
    throw error;
  }
}

/** The document's width at each viewport: never wider than the viewport (wide tables scroll in their own box). */
export async function expectFitsViewports(page: Page, when: string): Promise<void> {
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
