// Builds the demo page (demo/ -> demo-dist/), serves it on 127.0.0.1 and opens it in headless Chromium
// with WebGPU: shared by `npm run bench` and the end-to-end test.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright';
import { build, preview } from 'vite';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const configFile = join(root, 'vite.config.ts');

export async function buildDemo() {
  await build({ configFile, mode: 'demo', logLevel: 'warn' });
}

export async function serveDemo() {
  const server = await preview({ configFile, mode: 'demo', logLevel: 'warn', preview: { host: '127.0.0.1', port: 0 } });
  const url = server.resolvedUrls?.local[0];
  if (!url) throw new Error('vite preview did not report a local URL');
  return { url, close: () => server.close() };
}

export function launchChromium() {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}
