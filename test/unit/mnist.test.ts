// The training demo's host-side parts, in Node: its WGSL modules validate (naga) and declare exactly the
// bindings their records name; the float64 references' gradients agree with finite differences of their
// forwards; the digits split as the page says; the epoch order is a seeded permutation; the readback
// statistics match hand-computed values.
import { describe, expect, it } from 'vitest';
import { epochOrder, loadMnist, PIXELS, reorder, TEST_DIGITS_PER_CLASS } from '../../demo/mnist/data.js';
import { accuracy, mean, meanCrossEntropy, percentiles } from '../../demo/mnist/evaluation.js';
import { BATCH_SIZE, CLASSES, initialParameters, INITIAL_WEIGHT_STD, LAYER_SIZES } from '../../demo/mnist/experiment.js';
import { KERNELS, moduleCode, MODULES } from '../../demo/mnist/kernels.js';
import {
  denseBackwardReference,
  denseForwardReference,
  sigmoidBackwardReference,
  sigmoidReference,
  softmaxCrossEntropyReference,
} from '../../demo/mnist/reference.js';
import { validateWgsl } from '../support/naga.js';
import { gaussian, seededRandom, uniform } from '../support/random.js';

describe('WGSL modules', () => {
  for (const name of Object.keys(MODULES) as (keyof typeof MODULES)[]) {
    it(`${name}: parses and validates (naga)`, () => validateWgsl(moduleCode(name), name));
  }

  it('each kernel names bindings of its module, and each binding is used by some kernel', () => {
    for (const [name, { module, bindings }] of Object.entries(KERNELS)) {
      const declared = Object.keys(MODULES[module].bindings);
      for (const binding of bindings) expect(declared, `${name}.${binding}`).toContain(binding);
    }
    for (const [module, { bindings }] of Object.entries(MODULES)) {
      const used = new Set(Object.values(KERNELS).filter((k) => k.module === module).flatMap((k) => [...k.bindings]));
      expect([...used].sort(), module).toEqual(Object.keys(bindings).sort());
    }
  });
});

/** Central differences of a scalar function of `values` at every index (float64). */
function numericGradient(values: Float64Array, loss: (v: Float64Array) => number, h = 1e-6): Float64Array {
  return Float64Array.from(values, (_, i) => {
    const up = values.slice();
    const down = values.slice();
    up[i] = values[i]! + h;
    down[i] = values[i]! - h;
    return (loss(up) - loss(down)) / (2 * h);
  });
}

function expectClose(what: string, actual: Float64Array, expected: Float64Array, tolerance: number): void {
  for (let i = 0; i < actual.length; i++) expect(Math.abs(actual[i]! - expected[i]!), `${what}[${i}]`).toBeLessThan(tolerance);
}

describe('float64 references: gradients against finite differences', () => {
  const random = seededRandom(7);
  const f64 = (values: Float32Array) => Float64Array.from(values);
  // Central differences with h = 1e-6 on these O(1) functions are good to about 1e-8.
  const FD_TOLERANCE = 1e-7;

  it('dense: dx, dweight and dbias of sum(y * g)', () => {
    const dims = { batch: 3, inFeatures: 4, outFeatures: 5 };
    const x = f64(gaussian(random, 12));
    const weight = f64(gaussian(random, 20));
    const bias = f64(gaussian(random, 5));
    const g = f64(gaussian(random, 15));
    const loss = (xv: Float64Array, wv: Float64Array, bv: Float64Array) => denseForwardReference(xv, wv, bv, dims).reduce((s, y, i) => s + y * g[i]!, 0);
    const { dx, dweight, dbias } = denseBackwardReference(g, x, weight, dims);
    expectClose('dx', dx, numericGradient(x, (v) => loss(v, weight, bias)), FD_TOLERANCE);
    expectClose('dweight', dweight, numericGradient(weight, (v) => loss(x, v, bias)), FD_TOLERANCE);
    expectClose('dbias', dbias, numericGradient(bias, (v) => loss(x, weight, v)), FD_TOLERANCE);
  });

  it('sigmoid: the backward from the output is the derivative of the forward', () => {
    const z = f64(uniform(random, 9, -6, 6));
    const g = f64(gaussian(random, 9));
    const analytic = sigmoidBackwardReference(sigmoidReference(z), g);
    expectClose('dz', analytic, numericGradient(z, (v) => sigmoidReference(v).reduce((s, a, i) => s + a * g[i]!, 0)), FD_TOLERANCE);
    expect(Array.from(sigmoidReference(Float64Array.of(0, 1000, -1000)))).toEqual([0.5, 1, 0]);
  });

  it('softmax cross-entropy: dlogits is the gradient of the mean row loss', () => {
    const batch = 4;
    const logits = f64(gaussian(random, batch * CLASSES, 0, 2));
    const labels = Uint32Array.of(0, 9, 3, 3);
    const meanLoss = (v: Float64Array) => softmaxCrossEntropyReference(v, labels, batch, CLASSES).rowLoss.reduce((s, l) => s + l, 0) / batch;
    expectClose('dlogits', softmaxCrossEntropyReference(logits, labels, batch, CLASSES).dlogits, numericGradient(logits, meanLoss), FD_TOLERANCE);
    // Equal logits: the loss is log(classes).
    const uniformRow = softmaxCrossEntropyReference(new Float64Array(CLASSES).fill(5), [2], 1, CLASSES);
    expect(uniformRow.rowLoss[0]).toBeCloseTo(Math.log(CLASSES), 12);
  });
});

describe('the digits', () => {
  it(`split into 9,000 training and 1,000 test digits (the last ${TEST_DIGITS_PER_CLASS} of each class), values in [0, 1]`, async () => {
    const { training, test } = await loadMnist();
    expect(training.count).toBe(9000);
    expect(test.count).toBe(10 * TEST_DIGITS_PER_CLASS);
    expect(training.count % BATCH_SIZE).toBe(0);
    for (const digits of [training, test]) {
      expect(digits.images.length).toBe(digits.count * PIXELS);
      expect(digits.labels.length).toBe(digits.count);
      expect(digits.images.reduce((a, b) => Math.min(a, b))).toBe(0);
      expect(digits.images.reduce((a, b) => Math.max(a, b))).toBe(1);
    }
    const perClass = (labels: Uint32Array) => Array.from({ length: CLASSES }, (_, d) => labels.filter((l) => l === d).length);
    expect(perClass(test.labels)).toEqual(new Array(CLASSES).fill(TEST_DIGITS_PER_CLASS));
    expect(perClass(training.labels).every((count) => count > 700)).toBe(true);
    // No test image is also a training image (compared by their bytes).
    const key = (images: Float32Array, n: number) => Buffer.from(images.buffer, images.byteOffset + n * PIXELS * 4, PIXELS * 4).toString('base64');
    const trainingImages = new Set(Array.from({ length: training.count }, (_, n) => key(training.images, n)));
    const shared = Array.from({ length: test.count }, (_, n) => key(test.images, n)).filter((k) => trainingImages.has(k));
    expect(shared).toEqual([]);
  }, 30_000); // parses the package's 21 MB of JSON: seconds on a loaded machine

  it('come in a seeded order per epoch: a permutation, the same every run, different per epoch', () => {
    const first = epochOrder(9000, 0);
    expect(Array.from(first).sort((a, b) => a - b)).toEqual(Array.from({ length: 9000 }, (_, i) => i));
    expect(Array.from(epochOrder(9000, 0))).toEqual(Array.from(first));
    expect(Array.from(epochOrder(9000, 1))).not.toEqual(Array.from(first));
    // reorder moves whole images with their labels.
    const digits = { count: 3, images: Float32Array.from({ length: 3 * PIXELS }, (_, i) => Math.floor(i / PIXELS)), labels: Uint32Array.of(0, 1, 2) };
    const moved = reorder(digits, Uint32Array.of(2, 0, 1));
    expect(Array.from(moved.labels)).toEqual([2, 0, 1]);
    expect([moved.images[0], moved.images[PIXELS], moved.images[2 * PIXELS + PIXELS - 1]]).toEqual([2, 0, 1]);
  });
});

describe('the seeded start', () => {
  it('is the same every time, N(0, 0.1^2) weights and zero biases in nn.Linear shapes', () => {
    const { weights, biases } = initialParameters();
    expect(weights.map((w) => w.length)).toEqual(LAYER_SIZES.slice(1).map((out, k) => out * LAYER_SIZES[k]!));
    expect(Array.from(initialParameters().weights[2]!)).toEqual(Array.from(weights[2]!));
    const first = weights[0]!;
    const std = Math.sqrt(first.reduce((s, w) => s + w * w, 0) / first.length);
    expect(Math.abs(std - INITIAL_WEIGHT_STD)).toBeLessThan(0.002);
    expect(biases.every((b) => b.every((v) => v === 0))).toBe(true);
  });
});

describe('readback statistics', () => {
  it('accuracy, mean cross-entropy, mean and percentiles', () => {
    const logits = Float32Array.of(
      3, 1, 0, // argmax 0
      0, 0, 5, // argmax 2
      1, 1, 0, // a tie: the first
    );
    expect(accuracy(logits, Uint32Array.of(0, 1, 0), 3)).toBeCloseTo(2 / 3, 15);
    const xent = (row: number[], label: number) => Math.log(row.reduce((s, v) => s + Math.exp(v), 0)) - row[label]!;
    expect(meanCrossEntropy(logits, Uint32Array.of(0, 1, 0), 3)).toBeCloseTo((xent([3, 1, 0], 0) + xent([0, 0, 5], 1) + xent([1, 1, 0], 0)) / 3, 12);
    expect(mean([1, 2, 6])).toBe(3);
    // numpy.percentile([1, 2, 3, 4, 10], [15, 50, 85]) = [1.6, 3, 6.4]
    const [p15, p50, p85] = percentiles([10, 3, 1, 4, 2], [0.15, 0.5, 0.85]);
    expect(p15).toBeCloseTo(1.6, 12);
    expect(p50).toBe(3);
    expect(p85).toBeCloseTo(6.4, 12);
    expect(percentiles([7], [0.15, 0.85])).toEqual([7, 7]);
  });
});
