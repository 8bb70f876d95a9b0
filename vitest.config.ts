import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './scripts/chromium.mjs';
import { LAVAPIPE_ICD } from './scripts/lavapipe.mjs';

// GPU tests run in headless Chromium with WebGPU (SwiftShader on machines without a GPU), and the native
// f16 ones in Node.js on Dawn over lavapipe (scripts/lavapipe.mjs), the one adapter here with shader-f16.

export default defineConfig({
  test: {
    projects: [
      {
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node' },
      },
      {
        // Dawn's Vulkan loader reads VK_ICD_FILENAMES when the first device is requested: lavapipe only.
        test: {
          name: 'dawn',
          include: ['test/dawn/**/*.test.ts'],
          environment: 'node',
          env: { VK_ICD_FILENAMES: LAVAPIPE_ICD },
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        // The built demo page driven by Playwright from Node (scripts/demo-browser.mjs launches Chromium),
        // built once for all files by the global set-up.
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/e2e/build-demo.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        // Pre-bundled at start-up: found only when a test imports them, Vite would re-bundle and reload the page mid-run.
        optimizeDeps: {
          include: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-core/dist/register_all_gradients', '@tensorflow/tfjs-backend-webgpu', '@tensorflow/tfjs-layers', 'onnxruntime-web/webgpu'],
        },
        test: {
          name: 'gpu',
          include: ['test/gpu/**/*.test.ts'],
          // The fuzz test's size and first seed; `npm run fuzz` raises them (scripts/fuzz.mjs).
          provide: { fuzzCases: Number(process.env.FUZZ_CASES ?? 500), fuzzSeed: Number(process.env.FUZZ_SEED ?? 1) },
          testTimeout: 300_000,
          hookTimeout: 120_000,
          browser: {
            enabled: true,
            headless: true,
            screenshotFailures: false,
            provider: playwright({
              launchOptions: {
                executablePath: CHROMIUM_PATH,
                args: [...CHROMIUM_ARGS],
              },
            }),
            instances: [{ browser: 'chromium' }],
          },
        },
      },
    ],
  },
});
