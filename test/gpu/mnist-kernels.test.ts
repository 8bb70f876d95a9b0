// The training demo's own kernels (demo/mnist/*.wgsl: dense forward and backward, sigmoid forward and
// backward, softmax cross-entropy, SGD, the column gather into a slot) against their float64 references
// (demo/mnist/reference.ts), under the bounds stated in demo/mnist/tolerances.ts, at the network's sizes
// and at sizes that straddle a workgroup (64 invocations) or degenerate to one.
import { afterAll, describe, it } from 'vitest';
import { Tensor, type Gpu } from '../../src/index.js';
import { PassRecorder, prepareDispatch, storageBuffer, uniformBuffer, type KernelName, type Resources } from '../../demo/mnist/kernels.js';
import {
  columnReference,
  denseBackwardReference,
  denseForwardReference,
  sgdReference,
  sigmoidBackwardReference,
  sigmoidReference,
  softmaxCrossEntropyReference,
  type DenseDims,
} from '../../demo/mnist/reference.js';
import {
  denseBiasGradientTolerance,
  denseForwardTolerance,
  denseInputGradientTolerance,
  denseWeightGradientTolerance,
  dlogitsTolerance,
  rowLossTolerance,
  sgdTolerance,
  sigmoidBackwardTolerance,
  sigmoidTolerance,
} from '../../demo/mnist/tolerances.js';
import { compareElements } from '../support/compare.js';
import { gaussian, randomInt, seededRandom, uniform } from '../support/random.js';
import { inErrorScopes, testGpu } from './gpu-context.js';

/** The worst |error| / tolerance seen per kernel output, printed at the end. */
const worst = new Map<string, number>();

function check(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: (i: number) => number): void {
  const { worstRatio } = compareElements(what, actual, expected, tolerance);
  const kernel = what.split(' (')[0]!;
  worst.set(kernel, Math.max(worst.get(kernel) ?? 0, worstRatio));
}

/** Runs one launch of `name` over `invocations` invocations inside error scopes, then reads back `outputs`. */
async function launch<K extends KernelName>(gpu: Gpu, name: K, resources: Resources<K>, invocations: number, outputs: Record<string, GPUBuffer>) {
  return inErrorScopes(gpu, async () => {
    const encoder = gpu.device.createCommandEncoder({ label: `test ${name}` });
    const recorder = new PassRecorder(encoder, `test ${name}`);
    recorder.dispatch(prepareDispatch(gpu.device, name, resources, invocations));
    recorder.end();
    gpu.device.queue.submit([encoder.finish()]);
    const read = await Promise.all(
      Object.entries(outputs).map(async ([key, buffer]) => [key, await Tensor.fromBuffer(gpu, buffer, [buffer.size / 4]).toArray()] as const),
    );
    for (const buffer of Object.values(resources) as GPUBuffer[]) buffer.destroy();
    return Object.fromEntries(read);
  });
}

const input = (gpu: Gpu, data: Float32Array | Uint32Array) => storageBuffer(gpu.device, 'test input', data);
const output = (gpu: Gpu, length: number) => storageBuffer(gpu.device, 'test output', length * 4);

describe('dense layer', () => {
  const CASES: readonly (DenseDims & { what: string })[] = [
    { what: 'first hidden layer, a mini-batch', batch: 60, inFeatures: 784, outFeatures: 100 },
    { what: 'hidden to hidden', batch: 60, inFeatures: 100, outFeatures: 100 },
    { what: 'hidden to logits', batch: 60, inFeatures: 100, outFeatures: 10 },
    { what: 'first hidden layer, the test digits', batch: 1000, inFeatures: 784, outFeatures: 100 },
    { what: 'one of everything', batch: 1, inFeatures: 1, outFeatures: 1 },
    { what: 'grids just past a workgroup', batch: 5, inFeatures: 13, outFeatures: 13 },
    { what: 'one output, many inputs', batch: 3, inFeatures: 65, outFeatures: 1 },
  ];

  for (const [index, dims] of CASES.entries()) {
    const { batch, inFeatures, outFeatures } = dims;
    const label = `(${dims.what}: batch ${batch}, ${inFeatures} -> ${outFeatures})`;
    const random = seededRandom(100 + index);
    // Inputs like the network's: pixels in [0, 1] for the first layer, sigmoid outputs after; N(0, 0.1^2) weights.
    const x = uniform(random, batch * inFeatures, 0, 1);
    const weight = gaussian(random, outFeatures * inFeatures, 0, 0.1);
    const bias = gaussian(random, outFeatures, 0, 0.5);
    const dy = gaussian(random, batch * outFeatures, 0, 0.02);

    it(`forward ${label}`, async () => {
      const gpu = await testGpu(true);
      const y = output(gpu, batch * outFeatures);
      const dimsUniform = uniformBuffer(gpu.device, 'test dims', Uint32Array.of(batch, inFeatures, outFeatures));
      const result = await launch(gpu, 'denseForward', { dims: dimsUniform, x: input(gpu, x), weight: input(gpu, weight), bias: input(gpu, bias), y }, batch * outFeatures, { y });
      check(`dense forward ${label}`, result.y!, denseForwardReference(x, weight, bias, dims), denseForwardTolerance(x, weight, bias, dims));
    });

    it(`backward ${label}`, async () => {
      const gpu = await testGpu(true);
      const expected = denseBackwardReference(dy, x, weight, dims);
      const dx = output(gpu, batch * inFeatures);
      const inputDims = uniformBuffer(gpu.device, 'test dims', Uint32Array.of(batch, inFeatures, outFeatures));
      const inputResult = await launch(gpu, 'denseBackwardInput', { dims: inputDims, dy: input(gpu, dy), weight: input(gpu, weight), dx }, batch * inFeatures, { dx });
      check(`dense dx ${label}`, inputResult.dx!, expected.dx, denseInputGradientTolerance(dy, weight, dims));

      const dweight = output(gpu, outFeatures * inFeatures);
      const dbias = output(gpu, outFeatures);
      const weightDims = uniformBuffer(gpu.device, 'test dims', Uint32Array.of(batch, inFeatures, outFeatures));
      const weightResult = await launch(
        gpu,
        'denseBackwardWeight',
        { dims: weightDims, dy: input(gpu, dy), x: input(gpu, x), dweight, dbias },
        outFeatures * inFeatures,
        { dweight, dbias },
      );
      check(`dense dweight ${label}`, weightResult.dweight!, expected.dweight, denseWeightGradientTolerance(dy, x, dims));
      check(`dense dbias ${label}`, weightResult.dbias!, expected.dbias, denseBiasGradientTolerance(dy, dims));
    });
  }
});

describe('sigmoid', () => {
  const random = seededRandom(200);
  // Both branches of the stable form, zero and values either side of it, saturation, and the sizes of a
  // hidden layer's mini-batch (6000), a workgroup plus one (65) and one value.
  const special = Float32Array.of(0, -0, 1e-30, -1e-30, 1e-7, -1e-7, 0.5, -0.5, 5, -5, 15, -15, 30, -30, 80, -80);
  const CASES = [
    { what: 'a hidden layer of a mini-batch', z: gaussian(random, 6000, 0, 3) },
    { what: 'special values', z: special },
    { what: '65 values', z: uniform(random, 65, -12, 12) },
    { what: 'one value', z: Float32Array.of(-2.5) },
  ];
  for (const { what, z } of CASES) {
    it(`forward and backward (${what})`, async () => {
      const gpu = await testGpu(true);
      const activation = output(gpu, z.length);
      const forward = await launch(gpu, 'sigmoidForward', { preActivation: input(gpu, z), activation }, z.length, { activation });
      const expectedActivation = sigmoidReference(z);
      check(`sigmoid forward (${what})`, forward.activation!, expectedActivation, sigmoidTolerance(z, expectedActivation));

      const a = forward.activation!;
      const dActivation = gaussian(random, z.length);
      const dPreActivation = output(gpu, z.length);
      const backward = await launch(
        gpu,
        'sigmoidBackward',
        { savedActivation: input(gpu, a), dActivation: input(gpu, dActivation), dPreActivation },
        z.length,
        { dPreActivation },
      );
      const expectedGradient = sigmoidBackwardReference(a, dActivation);
      check(`sigmoid backward (${what})`, backward.dPreActivation!, expectedGradient, sigmoidBackwardTolerance(expectedGradient));
    });
  }
});

describe('softmax cross-entropy', () => {
  const CLASSES = 10;
  const random = seededRandom(300);
  const labelsFor = (batch: number) => Uint32Array.from({ length: batch }, () => randomInt(random, 0, CLASSES - 1));
  // A row of equal logits, a confident right answer, a confident wrong one, and large offsets (the shift by the row's max).
  const special = Float32Array.from([
    ...new Array(CLASSES).fill(0.3),
    ...[20, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ...[0, 0, 0, 0, 0, 0, 0, 0, 0, 25],
    ...[1000, 999, 998, 1000, 990, 1001, 1000, 997, 1000, 995],
    ...[-1000, -999, -1001, -1000, -990, -1000, -1000, -997, -1000, -995],
  ]);
  const CASES = [
    { what: 'a mini-batch', logits: gaussian(random, 60 * CLASSES, 0, 3) },
    { what: 'a workgroup plus one', logits: gaussian(random, 65 * CLASSES, 0, 1) },
    { what: 'one row', logits: gaussian(random, CLASSES, 0, 2) },
    { what: 'special rows', logits: special, labels: Uint32Array.of(4, 0, 0, 5, 4) },
  ];
  for (const { what, logits, labels: given } of CASES) {
    it(`loss and dlogits (${what})`, async () => {
      const gpu = await testGpu(true);
      const batch = logits.length / CLASSES;
      const labels = given ?? labelsFor(batch);
      const rowLoss = output(gpu, batch);
      const dlogits = output(gpu, batch * CLASSES);
      const dims = uniformBuffer(gpu.device, 'test dims', Uint32Array.of(batch, CLASSES));
      const result = await launch(gpu, 'softmaxCrossEntropy', { dims, logits: input(gpu, logits), labels: input(gpu, labels), rowLoss, dlogits }, batch, { rowLoss, dlogits });
      const expected = softmaxCrossEntropyReference(logits, labels, batch, CLASSES);
      check(`softmax cross-entropy rowLoss (${what})`, result.rowLoss!, expected.rowLoss, rowLossTolerance(logits, CLASSES, expected.rowLoss));
      check(`softmax cross-entropy dlogits (${what})`, result.dlogits!, expected.dlogits, dlogitsTolerance(logits, labels, batch, CLASSES));
    });
  }
});

describe('sgd', () => {
  const random = seededRandom(400);
  const CASES = [
    { what: "the first layer's weight", length: 78400, learningRate: 0.5 },
    { what: 'a batch norm scale', length: 100, learningRate: 0.5 },
    { what: 'one parameter', length: 1, learningRate: 0.1 },
  ];
  for (const { what, length, learningRate } of CASES) {
    it(`parameter -= learning rate * gradient (${what}, learning rate ${learningRate})`, async () => {
      const gpu = await testGpu(true);
      const parameter = gaussian(random, length, 0, 0.1);
      const gradient = gaussian(random, length, 0, 0.01);
      const parameterBuffer = input(gpu, parameter);
      const hyperparameters = uniformBuffer(gpu.device, 'test learning rate', Float32Array.of(learningRate));
      const result = await launch(gpu, 'sgd', { hyperparameters, gradient: input(gpu, gradient), parameter: parameterBuffer }, length, { parameter: parameterBuffer });
      check(`sgd (${what})`, result.parameter!, sgdReference(parameter, gradient, learningRate), sgdTolerance(parameter, gradient, learningRate));
    });
  }
});

describe('column gather', () => {
  const random = seededRandom(500);
  const CASES = [
    { what: "a mini-batch's first unit, into the first slot", rows: 60, columns: 100, column: 0, slot: 0 },
    { what: "a mini-batch's last unit, into the last of 20 slots", rows: 60, columns: 100, column: 99, slot: 19 },
    { what: 'a workgroup plus one row', rows: 65, columns: 3, column: 1, slot: 1 },
    { what: 'one row', rows: 1, columns: 1, column: 0, slot: 0 },
  ];
  for (const { what, rows, columns, column, slot } of CASES) {
    it(`copies one column exactly into its slot (${what})`, async () => {
      const gpu = await testGpu(true);
      const matrix = gaussian(random, rows * columns);
      // Slots before and after the written one keep their sentinel.
      const slots = slot + 2;
      const sentinel = -7;
      const columnValues = input(gpu, new Float32Array(slots * rows).fill(sentinel));
      const dims = uniformBuffer(gpu.device, 'test dims', Uint32Array.of(rows, columns, column, slot * rows));
      const result = await launch(gpu, 'column', { dims, matrixValues: input(gpu, matrix), columnValues }, rows, { columnValues });
      const expected = new Float64Array(slots * rows).fill(sentinel);
      expected.set(columnReference(matrix, rows, columns, column), slot * rows);
      // A copy: exact (tolerance 0).
      check(`column (${what})`, result.columnValues!, expected, () => 0);
    });
  }
});

afterAll(() => {
  const lines = [...worst].map(([kernel, ratio]) => `  ${kernel}: ${ratio.toFixed(3)}`);
  console.log(`mnist kernels: worst |error| / tolerance\n${lines.join('\n')}`);
});
