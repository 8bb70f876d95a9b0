// The model row's measurement (./model-step.ts says what it is): at each batch, the seed CNN twice on
// TensorFlow.js's webgpu backend constructed on the benchmark's device, with tfjs's BatchNormalization and
// with webgpu-batchnorm/tfjs's, the second from the first one's weights; one first step of each (shader
// compilation, and the losses' check), one more to size the trials, then four series interleaved trial by
// trial by the benchmark's one trial scheme (./statistics.ts): each model's training step, and each
// model's batch norm on its own.
// Imports TensorFlow.js: loaded dynamically by ./benchmark.ts when a run reaches the row.
import * as tf from '@tensorflow/tfjs-core';
import { version_layers as tfjsLayersVersion } from '@tensorflow/tfjs-layers';
import type { Gpu } from '../src/index.js';
import { inErrorScopes } from './error-scopes.js';
import { BATCH_NORM_TIMING, failedModelRow, MODEL_STEP_TIMING, modelRow, type ModelStepReport, type ModelStepRow, type ModelStepTiming } from './model-step.js';
import { startTfjsOnDevice } from './peer-tfjs.js';
import { disposeSeedCnn, LOSS_AGREEMENT_RTOL, MODELS, SEED_CNN_TEXT, type ModelKey } from './seed-cnn.js';
import { BatchNormWork, seedCnn, settle, syntheticBatch, type SeedCnn } from './seed-cnn-training.js';
import { interleavedTrials, iterationsFor, type BenchmarkSettings, type SeriesResult, type TrialResult } from './statistics.js';

/** The seed of the synthetic batch and of the BN layers' inputs. */
const DATA_SEED = 18;

/**
 * The row at each of `batches`, in order; `beginBatch` is called before each. A batch that fails (out of
 * memory, a GPU error, a leak) is recorded with its reason and the next one runs.
 */
export async function measureModelSteps(
  gpu: Gpu,
  settings: BenchmarkSettings,
  batches: readonly number[],
  beginBatch: (batch: number) => Promise<void>,
): Promise<ModelStepReport> {
  const tfjs = await startTfjsOnDevice(gpu);
  const rows: ModelStepRow[] = [];
  try {
    for (const batch of batches) {
      await beginBatch(batch);
      rows.push(await inErrorScopes(gpu, () => measureBatch(settings, batch)).catch((error: unknown) => failedModelRow(batch, error)));
    }
  } finally {
    await tfjs.dispose();
  }
  return {
    network: SEED_CNN_TEXT,
    libraries: { tfjs: `tf.layers.batchNormalization (tfjs-layers ${tfjsLayersVersion}, ${tfjs.name})`, ours: 'webgpu-batchnorm/tfjs batchNormalization' },
    stepTiming: MODEL_STEP_TIMING,
    batchNormTiming: BATCH_NORM_TIMING,
    statistic:
      `median (and minimum) of ${settings.trials} trials after the warm-up (${settings.warmupTrials} or more, as the GPU's), the four series ` +
      '(each model\'s step and batch norm) interleaved trial by trial, steps or calls per trial sized to about ' +
      `${settings.targetTrialMs} ms from one call timed after the first (which compiles the shaders)`,
    check: `the first step's loss of the two models, from the same weights on the same batch, within ${LOSS_AGREEMENT_RTOL} relative (LOSS_AGREEMENT_RTOL)`,
    rows,
  };
}

async function measureBatch(settings: BenchmarkSettings, batch: number): Promise<ModelStepRow> {
  const made: Partial<Record<ModelKey, SeedCnn>> = {};
  const work: Partial<Record<ModelKey, BatchNormWork>> = {};
  const data = syntheticBatch(batch, DATA_SEED);
  try {
    for (const key of MODELS) made[key] = seedCnn(key);
    const models = made as Record<ModelKey, SeedCnn>;
    models.ours.model.setWeights(models.tfjs.model.getWeights()); // the same start, whatever the initializers drew
    const firstLoss = { tfjs: NaN, ours: NaN };
    for (const key of MODELS) {
      firstLoss[key] = (await models[key].model.trainOnBatch(data.x, data.y)) as number;
      work[key] = new BatchNormWork(key, models[key].batchNormSites, batch, DATA_SEED + 1);
      work[key].run();
      await settle();
    }
    const tensorsReady = tf.memory().numTensors;
    const step =
      (key: ModelKey) =>
      async (steps: number): Promise<TrialResult> => {
        const start = performance.now();
        for (let i = 0; i < steps; i++) await models[key].model.trainOnBatch(data.x, data.y);
        return { ms: (performance.now() - start) / steps };
      };
    const batchNorm =
      (key: ModelKey) =>
      async (calls: number): Promise<TrialResult> => {
        const start = performance.now();
        for (let i = 0; i < calls; i++) work[key]!.run();
        await settle();
        return { ms: (performance.now() - start) / calls };
      };
    const series = [step('tfjs'), step('ours'), batchNorm('tfjs'), batchNorm('ours')];
    // One timed call of each after its first (which compiled) sizes its trials: on a CPU-emulated adapter a
    // step takes seconds, and interleavedTrials would size from two more.
    const sized: number[] = [];
    for (const trial of series) sized.push(iterationsFor((await trial(1)).ms, settings));
    const [tfjsStep, oursStep, tfjsBatchNorm, oursBatchNorm] = await interleavedTrials(settings, series, 'until-stable', sized);
    const leaked = tf.memory().numTensors - tensorsReady;
    if (leaked !== 0) throw new Error(`${leaked} tensor(s) left alive by the timed steps`);
    const timing = (stepSeries: SeriesResult<TrialResult>, batchNormSeries: SeriesResult<TrialResult>, loss: number): ModelStepTiming => ({
      stepMs: stepSeries.summary.medianMs,
      stepMinMs: stepSeries.summary.minMs,
      stepsPerTrial: stepSeries.iterations,
      batchNormMs: batchNormSeries.summary.medianMs,
      batchNormMinMs: batchNormSeries.summary.minMs,
      batchNormCallsPerTrial: batchNormSeries.iterations,
      batchNormShare: batchNormSeries.summary.medianMs / stepSeries.summary.medianMs,
      firstLoss: loss,
      warmup: { trials: stepSeries.warmupMs.length, stable: stepSeries.stable },
    });
    return modelRow(batch, timing(tfjsStep!, tfjsBatchNorm!, firstLoss.tfjs), timing(oursStep!, oursBatchNorm!, firstLoss.ours), LOSS_AGREEMENT_RTOL);
  } finally {
    for (const key of MODELS) {
      work[key]?.dispose();
      const model = made[key]?.model;
      if (model) disposeSeedCnn(model);
    }
    tf.dispose([data.x, data.y]);
  }
}
