// The benchmark's model row (bench/model-step-run.ts) at a tiny batch in headless Chromium: the seed
// CNN in TensorFlow.js on our device, once with tfjs's BatchNormalization and once with
// webgpu-batchnorm/tfjs's; both steps and both models' batch norm timed (no assertion on times:
// SwiftShader's say nothing about a GPU), the first losses agree within LOSS_AGREEMENT_RTOL, no tensor is
// left behind. And where batch norm sits in the network, which its measurement on its own reproduces.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../../bench/benchmark.js';
import { measureModelSteps } from '../../bench/model-step-run.js';
import { BATCH_NORM_TIMING, MODEL_STEP_TIMING } from '../../bench/model-step.js';
import { disposeSeedCnn, LOSS_AGREEMENT_RTOL, SEED_CNN_TEXT } from '../../bench/seed-cnn.js';
import { seedCnn } from '../../bench/seed-cnn-training.js';
import { requestGpu, type Gpu } from '../../src/index.js';

/** The smallest batch the row takes: SwiftShader runs a step of it in seconds. */
const BATCH = 2;
// One short trial of one step: the test checks that the row runs, not what it measures.
const SETTINGS = { ...DEFAULT_SETTINGS, trials: 1, warmupTrials: 0, maxWarmupTrials: 0, targetTrialMs: 1, maxIterations: 1 };
/** SwiftShader: compiling both models' shaders, then seconds a step. */
const TIMEOUT = 600_000;

let gpu: Gpu;
const uncaptured: string[] = [];

beforeAll(async () => {
  // tfjs's own backend, which the row must make current again when it is done.
  expect(await tf.setBackend('webgpu')).toBe(true);
  gpu = await requestGpu();
  gpu.device.addEventListener('uncapturederror', (event) => uncaptured.push((event as GPUUncapturedErrorEvent).error.message));
});

afterAll(() => {
  gpu?.destroy();
  expect(uncaptured).toEqual([]);
});

it(
  `times a training step of both models at batch ${BATCH}, and each one's batch norm on its own`,
  async () => {
    const tensorsBefore = tf.memory().numTensors;
    const begun: number[] = [];
    const report = await measureModelSteps(gpu, SETTINGS, [BATCH], async (batch) => void begun.push(batch));
    expect(begun).toEqual([BATCH]);
    expect(report).toMatchObject({ network: SEED_CNN_TEXT, stepTiming: MODEL_STEP_TIMING, batchNormTiming: BATCH_NORM_TIMING });
    expect(report.libraries.tfjs).toMatch(/^tf\.layers\.batchNormalization \(tfjs-layers 4\.22\.0, TensorFlow\.js 4\.22\.0 \(webgpu backend\)\)$/);
    const [row] = report.rows;
    expect(report.rows).toHaveLength(1);
    expect(row!.error).toBeUndefined();
    expect(row!.batch).toBe(BATCH);
    expect(row!.lossDifference!).toBeLessThanOrEqual(LOSS_AGREEMENT_RTOL);
    expect(row!.passed).toBe(true);
    for (const timing of [row!.tfjs!, row!.ours!]) {
      for (const ms of [timing.stepMs, timing.stepMinMs, timing.batchNormMs, timing.batchNormMinMs]) expect(ms).toBeGreaterThan(0);
      expect(timing.batchNormShare).toBe(timing.batchNormMs / timing.stepMs);
      expect([timing.stepsPerTrial, timing.batchNormCallsPerTrial]).toEqual([1, 1]);
      expect(Number.isFinite(timing.firstLoss)).toBe(true);
      expect(timing.warmup.trials).toBe(0);
    }
    expect(row!.stepRatio).toBe(row!.ours!.stepMs / row!.tfjs!.stepMs);
    // The models, their batch norm's layers and the batch are all freed, and tfjs's own backend is back.
    expect(tf.getBackend()).toBe('webgpu');
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  },
  TIMEOUT,
);

it("finds the network's four batch norms, their input shapes, and which need dx (all but the first, whose input is the data)", () => {
  for (const key of ['tfjs', 'ours'] as const) {
    const { model, batchNormSites } = seedCnn(key);
    try {
      expect(batchNormSites, key).toEqual([
        { inputShape: [28, 28, 1], needsDx: false },
        { inputShape: [26, 26, 32], needsDx: true },
        { inputShape: [11, 11, 64], needsDx: true },
        { inputShape: [128], needsDx: true },
      ]);
    } finally {
      disposeSeedCnn(model);
    }
  }
});
