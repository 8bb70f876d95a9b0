// The residual kernels with native f16 storage (`enable f16;`), on Dawn over lavapipe, the one adapter
// here with 'shader-f16' (vitest.config.ts points VK_ICD_FILENAMES at it): every case of
// test/support/residual-case.ts, as a GPU plans it, training and inference, with and without the ReLU,
// and recorded into one encoder. The browser tests run the same cases in f32 and packed f16.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAVAPIPE_ICD, LAVAPIPE_MISSING } from '../../scripts/lavapipe.mjs';
import { requestDawnGpu } from '../../scripts/dawn.js';
import { GPU_PLANS } from '../support/gpu-plans.js';
import { inErrorScopes } from '../../bench/error-scopes.js';
import { storageFor } from '../../src/engine/element-storage.js';
import { Gpu } from '../../src/index.js';
import { planOperation } from '../../src/engine/runner.js';
import { channelLayout } from '../../src/runtime/shape.js';
import { checkResidualCase, RESIDUAL_CASES } from '../support/residual-case.js';

let dawn: Gpu;

beforeAll(async () => {
  if (!existsSync(LAVAPIPE_ICD)) throw new Error(LAVAPIPE_MISSING);
  dawn = await requestDawnGpu();
  if (!dawn.features.shaderF16) throw new Error(`${dawn.device.adapterInfo.description} does not offer 'shader-f16': the native f16 kernels cannot run`);
});

afterAll(() => dawn?.destroy());

describe('residual with native f16 storage', () => {
  for (const [k, c] of RESIDUAL_CASES.entries()) {
    it(`${c.what} [${c.shape}] axis ${c.axis}`, async () => {
      const gpu = Gpu.fromDevice(dawn.device, { ...GPU_PLANS, ...(c.maxBindingBytes ? { maxBindingBytes: c.maxBindingBytes } : {}) });
      expect(storageFor('f16', gpu.features)).toBe('f16');
      expect(planOperation(gpu, channelLayout(c.shape, c.axis), true, 'f16').singlePass).toBe(c.singlePass);
      await inErrorScopes(gpu, async () => {
        for (const training of [true, false]) {
          for (const relu of [true, false]) await checkResidualCase(gpu, c, { dtype: 'f16', training, relu, seed: 200 + k });
        }
        await checkResidualCase(gpu, c, { dtype: 'f16', training: true, relu: true, seed: 300 + k, encoder: true });
      });
      gpu.destroy();
    });
  }
});
