// The training demo's networks as wired together (demo/mnist/network.ts): a few SGD steps of each, without
// and with the library's batch norm, each recorded into one encoder, against the float64 reference step
// (demo/mnist/reference.ts: the demo's kernels' references and the library's batch norm references), then
// an evaluation (batch norm with its running statistics) against the reference's. Each step starts the
// reference from the GPU's state, so float32 rounding does not pile up over the steps. The kernels are checked
// one by one in mnist-kernels.test.ts; this test catches wiring: a wrong buffer, a missing or misordered
// launch, a batch norm output released too early. Tolerance: STEP_RTOL (demo/mnist/tolerances.ts).
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor, type Gpu } from '../../src/index.js';
import { BATCH_SIZE, CLASSES, initialParameters, LAYER_SIZES, LEARNING_RATE } from '../../demo/mnist/experiment.js';
import { storageBuffer } from '../../demo/mnist/kernels.js';
import { Network } from '../../demo/mnist/network.js';
import { evaluationReference, referenceNetwork, trainingStepReference, type ReferenceNetwork } from '../../demo/mnist/reference.js';
import { evaluationTolerance, STEP_RTOL, stepTolerance } from '../../demo/mnist/tolerances.js';
import { compareElements } from '../support/compare.js';
import { randomInt, seededRandom, uniform } from '../support/random.js';
import { inErrorScopes, testGpu } from './gpu-context.js';

const STEPS = 3;
/** Fewer slots than steps: the third step wraps around to the first slot. */
const WATCHED_STEPS = 2;
const TEST_COUNT = 50;
const PIXELS = LAYER_SIZES[0];

let worstRatio = 0;

function check(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: (i: number) => number): void {
  worstRatio = Math.max(worstRatio, compareElements(what, actual, expected, tolerance).worstRatio);
}

const read = (gpu: Gpu, buffer: GPUBuffer) => Tensor.fromBuffer(gpu, buffer, [buffer.size / 4]).toArray();

/** The network's state read back from the GPU, as a float64 reference network: each step is checked from the same start. */
async function stateOf(gpu: Gpu, network: Network): Promise<ReferenceNetwork> {
  const states = await Promise.all(network.norms.map((norm) => norm.stateDict()));
  const f64 = (values: ArrayLike<number>) => Float64Array.from(values);
  return {
    weights: await Promise.all(network.layers.map(async (layer) => f64(await read(gpu, layer.weight)))),
    biases: await Promise.all(network.layers.map(async (layer) => f64(await read(gpu, layer.bias)))),
    gamma: states.map((state) => f64(state.weight!)),
    beta: states.map((state) => f64(state.bias!)),
    runningMean: states.map((state) => f64(state.running_mean!)),
    runningVar: states.map((state) => f64(state.running_var!)),
  };
}

function write(gpu: Gpu, buffer: GPUBuffer, data: Float32Array | Uint32Array): void {
  gpu.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
}

for (const [batchNorm, name] of [[false, 'without batch norm'], [true, 'with batch norm']] as const) describe(`the network ${name}`, () => {
  it(`takes ${STEPS} SGD steps and evaluates as the float64 reference does`, async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const random = seededRandom(batchNorm ? 61 : 62);
      const initial = initialParameters();
      const inputs = {
        batchImages: storageBuffer(gpu.device, 'test batch images', BATCH_SIZE * PIXELS * 4),
        batchLabels: storageBuffer(gpu.device, 'test batch labels', BATCH_SIZE * 4),
        testImages: storageBuffer(gpu.device, 'test images', uniform(random, TEST_COUNT * PIXELS, 0, 1)),
        testCount: TEST_COUNT,
      };
      const network = new Network(gpu, { batchNorm, watchedSteps: WATCHED_STEPS, initial, learningRate: LEARNING_RATE, inputs, label: 'test network' });
      // The start, as PyTorch's modules start: gamma 1, beta 0, running mean 0, running var 1.
      const start = await stateOf(gpu, network);
      const fresh = referenceNetwork(initial.weights, initial.biases, batchNorm);
      for (const key of ['weights', 'biases', 'gamma', 'beta', 'runningMean', 'runningVar'] as const) {
        expect(start[key].map((values) => Array.from(values)), key).toEqual(fresh[key].map((values) => Array.from(values)));
      }

      for (let step = 1; step <= STEPS; step++) {
        const images = uniform(random, BATCH_SIZE * PIXELS, 0, 1);
        const labels = Uint32Array.from({ length: BATCH_SIZE }, () => randomInt(random, 0, CLASSES - 1));
        write(gpu, inputs.batchImages, images);
        write(gpu, inputs.batchLabels, labels);
        const reference = await stateOf(gpu, network);
        const before = structuredClone(reference);
        const expected = trainingStepReference(reference, images, labels, BATCH_SIZE, LEARNING_RATE);
        const encoder = gpu.device.createCommandEncoder({ label: `test step ${step}` });
        const liveBuffers = gpu.liveBuffers;
        network.recordTrainingStep(encoder);
        gpu.device.queue.submit([encoder.finish()]);
        // After the first step (the library's parameter and scratch buffers), a step allocates nothing: the
        // batch norms write their out tensors.
        if (step > 1) expect(gpu.liveBuffers, `step ${step} allocated`).toBe(liveBuffers);

        const rowLoss = await read(gpu, network.rowLoss);
        const loss = rowLoss.reduce((a, b) => a + b, 0) / BATCH_SIZE;
        expect(Math.abs(loss - expected.loss), `step ${step} loss ${loss} vs ${expected.loss}`).toBeLessThan(STEP_RTOL * expected.loss);
        // This step's slot of the watched sigmoid inputs (a ring of WATCHED_STEPS slots).
        const slot = (step - 1) % WATCHED_STEPS;
        const watched = (await read(gpu, network.watchedInputs)).subarray(slot * BATCH_SIZE, (slot + 1) * BATCH_SIZE);
        check(`step ${step} watched sigmoid inputs`, watched, expected.watched, evaluationTolerance(expected.watched));
        for (const [k, layer] of network.layers.entries()) {
          check(`step ${step} layer ${k + 1} weight`, await read(gpu, layer.weight), reference.weights[k]!, stepTolerance(before.weights[k]!, reference.weights[k]!));
          check(`step ${step} layer ${k + 1} bias`, await read(gpu, layer.bias), reference.biases[k]!, stepTolerance(before.biases[k]!, reference.biases[k]!));
        }
        for (const [k, norm] of network.norms.entries()) {
          const state = await norm.stateDict();
          check(`step ${step} batch norm ${k + 1} weight`, state.weight!, reference.gamma[k]!, stepTolerance(before.gamma[k]!, reference.gamma[k]!));
          check(`step ${step} batch norm ${k + 1} bias`, state.bias!, reference.beta[k]!, stepTolerance(before.beta[k]!, reference.beta[k]!));
          check(`step ${step} batch norm ${k + 1} running mean`, state.running_mean!, reference.runningMean[k]!, evaluationTolerance(reference.runningMean[k]!));
          check(`step ${step} batch norm ${k + 1} running var`, state.running_var!, reference.runningVar[k]!, evaluationTolerance(reference.runningVar[k]!));
          expect(state.num_batches_tracked).toBe(step);
        }
      }

      const encoder = gpu.device.createCommandEncoder({ label: 'test evaluation' });
      network.recordEvaluation(encoder);
      gpu.device.queue.submit([encoder.finish()]);
      const testImages = await read(gpu, inputs.testImages);
      const expected = evaluationReference(await stateOf(gpu, network), testImages, TEST_COUNT);
      check('evaluation logits', await read(gpu, network.testLogits), expected, evaluationTolerance(expected));
      // Evaluation leaves the running statistics alone.
      for (const norm of network.norms) expect((await norm.stateDict()).num_batches_tracked).toBe(STEPS);

      network.destroy();
      for (const buffer of [inputs.batchImages, inputs.batchLabels, inputs.testImages]) buffer.destroy();
    });
  });
});

afterAll(() => {
  console.log(`mnist network: worst |error| / tolerance over ${STEPS} steps and an evaluation: ${worstRatio.toFixed(3)}`);
});
