// webgpu-batchnorm/tfjs's Keras 3 features that tf.layers.batchNormalization lacks (issue 29): the mask tfjs
// passes to `call` (training statistics over the positions it keeps) and batch renormalization (renorm,
// renorm_clipping, renorm_momentum, its three weights), on TensorFlow.js's webgpu backend (this library's
// kernels) and on its cpu backend (the layer's tfjs ops), against the float64 references with their
// tolerances (src/reference/tolerances.ts): y, the moving weights and dx/dgamma/dbeta of training steps,
// inference, masked sequence models trained by fit, getConfig, and a renorm model saved and loaded.
// As in tfjs-layer.test.ts, the backward's reference is fed the float64 batch statistics.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu'; // the fallback's backend
import '@tensorflow/tfjs-backend-webgpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BatchNormalization, batchNormalization, type BatchNormalizationLayerArgs } from '../../src/tfjs.js';
import {
  batchNormBackwardReference,
  batchNormReference,
  kerasRenormBackwardReference,
  kerasRenormReference,
  type KerasRenormState,
  type RenormClipping,
} from '../../src/reference.js';
import { withoutChannelAxis } from '../../src/runtime/shape.js';
import {
  backwardTolerances,
  blendedTolerance,
  relativeTolerance,
  renormBackwardTolerances,
  renormTolerances,
  runningMeanTolerance,
  yTolerance,
} from '../../src/reference/tolerances.js';
import { compareElements } from '../support/compare.js';
import { gaussian, seededRandom, uniform } from '../support/random.js';

type Layer = ReturnType<typeof tfl.layers.batchNormalization>;
const BACKENDS = ['webgpu', 'cpu'] as const;

const uncaptured: string[] = [];
beforeAll(async () => {
  if (!(await tf.setBackend('webgpu'))) throw new Error('TensorFlow.js could not start its webgpu backend (no WebGPU adapter?)');
  await tf.ready();
  (tf.backend() as unknown as { device: GPUDevice }).device.addEventListener('uncapturederror', (event) =>
    uncaptured.push((event as GPUUncapturedErrorEvent).error.message),
  );
});
afterAll(() => expect(uncaptured).toEqual([]));

/** Runs `body` on `backend` (webgpu afterwards), with console.warn recorded; returns what this package warned. */
async function onBackend(backend: (typeof BACKENDS)[number], body: () => Promise<void>): Promise<string[]> {
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
  try {
    await tf.setBackend(backend);
    await body();
    return warn.mock.calls.map(([message]) => String(message)).filter((m) => m.startsWith('webgpu-batchnorm/tfjs'));
  } finally {
    warn.mockRestore();
    await tf.setBackend('webgpu');
  }
}

const read = async (t: tf.Tensor): Promise<Float32Array> => (await t.data()) as Float32Array;
const weightsOf = (layer: Layer): Promise<Float32Array[]> => Promise.all(layer.getWeights().map((w) => read(w)));
const weightNames = (layer: Layer) => layer.weights.map((w) => w.name.slice(layer.name.length + 1));
const variableOf = (layer: Layer, name: string): tf.Variable => layer.weights.find((w) => w.name.endsWith(`/${name}`))!.read() as tf.Variable;

/** A layer built for `shape` (its weights named '<layer>/gamma', ...) with the given weights, in its weights' order. */
function built(config: BatchNormalizationLayerArgs, shape: number[], weights: Float32Array[]): BatchNormalization {
  const layer = batchNormalization(config);
  layer.apply(tfl.input({ batchShape: shape }));
  const tensors = weights.map((w) => tf.tensor1d(w));
  layer.setWeights(tensors);
  tf.dispose(tensors);
  return layer;
}

/**
 * One training step through apply under tf.variableGrads with sum(y*dy): y and the gradients of x, gamma
 * and beta (those the layer has).
 */
function trainingStep(layer: Layer, x: Float32Array, shape: number[], dy: Float32Array, mask: tf.Tensor | null) {
  const xVar = tf.variable(tf.tensor(x, shape));
  const dyT = tf.tensor(dy, shape);
  const params = ['gamma', 'beta'].filter((n) => layer.weights.some((w) => w.name.endsWith(`/${n}`))).map((n) => variableOf(layer, n));
  let y: tf.Tensor | undefined;
  const { value, grads } = tf.variableGrads(() => {
    y = tf.keep(layer.apply(xVar, { training: true, ...(mask ? { mask } : {}) }) as tf.Tensor);
    return tf.sum(tf.mul(y, dyT));
  }, [xVar, ...params]);
  const result = { y: y!, dx: grads[xVar.name]!, dparams: params.map((p) => grads[p.name]!) };
  tf.dispose([xVar, dyT, value]);
  return result;
}

/** A sequence mask (N, T): each sample keeps a prefix of random length, at least 2. */
function prefixMask(rnd: () => number, n: number, t: number): Float32Array {
  const mask = new Float32Array(n * t);
  for (let i = 0; i < n; i++) mask.fill(1, i * t, i * t + 2 + Math.floor(rnd() * (t - 1)));
  return mask;
}

describe('the mask tfjs passes to call', () => {
  const CASES = [
    { what: 'sequences (N, T, C), a bool mask', shape: [5, 7, 6], axis: -1, bool: true },
    { what: 'NHWC, a bool mask (N, H, W)', shape: [3, 4, 5, 8], axis: -1, bool: true },
    { what: 'NCHW, a float32 mask (N, H, W)', shape: [3, 4, 5, 5], axis: 1, bool: false },
  ];
  for (const backend of BACKENDS) {
    for (const c of CASES) {
      it(`${backend}: ${c.what}: y, the moving statistics and dx/dgamma/dbeta over the kept positions`, async () => {
        const { shape, axis } = c;
        const channels = shape.at(axis)!;
        const rnd = seededRandom(shape.length * 10 + channels);
        const size = shape.reduce((a, b) => a * b, 1);
        const x = gaussian(rnd, size, 0.5, 2);
        const dy = gaussian(rnd, size);
        const maskShape = withoutChannelAxis(shape, axis);
        const mask = maskShape.length === 2 ? prefixMask(rnd, maskShape[0]!, maskShape[1]!) : Float32Array.from({ length: maskShape.reduce((a, b) => a * b, 1) }, () => (rnd() < 0.6 ? 1 : 0));
        const params = { gamma: uniform(rnd, channels, 0.5, 1.5), beta: gaussian(rnd, channels, 0, 0.5), mean: gaussian(rnd, channels, 0, 0.5), variance: uniform(rnd, channels, 0.5, 2) };
        const warnings = await onBackend(backend, async () => {
          const layer = built({ axis, momentum: 0.9 }, shape, [params.gamma, params.beta, params.mean, params.variance]);
          const maskT = tf.tensor(mask, maskShape, c.bool ? 'bool' : 'float32');
          const { y, dx, dparams } = trainingStep(layer, x, shape, dy, maskT);
          const ref = batchNormReference(x, shape, {
            training: true, weight: params.gamma, bias: params.beta, runningMean: params.mean, runningVar: params.variance,
            momentum: 0.1, runningVarEstimator: 'biased', eps: 1e-3, axis, mask,
          });
          compareElements(`${c.what} y`, await read(y), ref.y, yTolerance(x, shape, ref, params.gamma, params.beta, axis));
          const weights = await weightsOf(layer);
          compareElements(`${c.what} moving_mean`, weights[2]!, ref.runningMean!, runningMeanTolerance(ref.runningMean!, ref.saveMean, ref.saveInvstd));
          compareElements(`${c.what} moving_variance`, weights[3]!, ref.runningVar!, relativeTolerance(ref.runningVar!));
          const back = batchNormBackwardReference(dy, x, shape, { training: true, saveMean: ref.saveMean, saveInvstd: ref.saveInvstd, weight: params.gamma, axis, mask });
          const tol = backwardTolerances({ dy, x, shape, weight: params.gamma, training: true, axis, mask }, back);
          compareElements(`${c.what} dx`, await read(dx), back.dx, tol.dx);
          compareElements(`${c.what} dgamma`, await read(dparams[0]!), back.dweight!, tol.dweight);
          compareElements(`${c.what} dbeta`, await read(dparams[1]!), back.dbias!, tol.dbias);

          // Inference ignores the mask, as Keras does.
          const xT = tf.tensor(x, shape);
          const [withMask, without] = [layer.apply(xT, { mask: maskT }) as tf.Tensor, layer.apply(xT) as tf.Tensor];
          expect(await read(withMask)).toEqual(await read(without));
          tf.dispose([y, dx, ...dparams, maskT, xT, withMask, without]);
          layer.dispose();
        });
        // Each warning once per page: the first cpu case's.
        const expected = ["backend is 'cpu', not its webgpu backend; BatchNormalization runs Keras's masked training step in TensorFlow.js ops", "backend is 'cpu', not its webgpu backend; BatchNormalization runs TensorFlow.js's own batch norm"];
        for (const warning of warnings) expect(expected.some((e) => warning.includes(e)), warning).toBe(backend === 'cpu');
      });
    }
  }

  for (const backend of BACKENDS) {
    it(`${backend}: NaN and Inf padding stays out of the moving statistics, as in the kernels and the reference`, async () => {
      const shape = [3, 6, 2];
      const x = gaussian(seededRandom(12), 36, 1, 2);
      const mask = Float32Array.from({ length: 18 }, (_, p) => (p % 6 < 4 ? 1 : 0));
      mask.forEach((kept, p) => kept || x.fill(p % 2 ? Number.NaN : Number.POSITIVE_INFINITY, 2 * p, 2 * p + 2));
      await onBackend(backend, async () => {
        const layer = built({ momentum: 0.9 }, shape, [new Float32Array([1, 1]), new Float32Array(2), new Float32Array(2), new Float32Array([1, 1])]);
        const maskT = tf.tensor(mask, [3, 6], 'bool');
        const y = layer.apply(tf.tensor(x, shape), { training: true, mask: maskT }) as tf.Tensor;
        const ref = batchNormReference(x, shape, {
          training: true, runningMean: [0, 0], runningVar: [1, 1], momentum: 0.1, runningVarEstimator: 'biased', eps: 1e-3, axis: -1, mask,
        });
        const weights = await weightsOf(layer);
        compareElements(`${backend} moving_mean`, weights[2]!, ref.runningMean!, runningMeanTolerance(ref.runningMean!, ref.saveMean, ref.saveInvstd));
        compareElements(`${backend} moving_variance`, weights[3]!, ref.runningVar!, relativeTolerance(ref.runningVar!));
        tf.dispose([y, maskT]);
        layer.dispose();
      });
    });
  }

  it('passes the mask on to the next layer (computeMask), as Keras does', () => {
    const layer = batchNormalization();
    const [x, mask] = [tf.zeros([2, 3, 4]), tf.tensor([[1, 1, 0], [1, 0, 0]], [2, 3], 'bool')];
    expect(layer.computeMask(x, mask)).toBe(mask);
    tf.dispose([x, mask]);
  });

  it("ignores a mask of another shape than x's without the channel axis, with one warning", async () => {
    const shape = [6, 5];
    const x = gaussian(seededRandom(3), 30, 1, 2);
    const warnings = await onBackend('webgpu', async () => {
      const layer = built({ momentum: 0.9 }, shape, [new Float32Array(5).fill(1), new Float32Array(5), new Float32Array(5), new Float32Array(5).fill(1)]);
      const [xT, mask] = [tf.tensor(x, shape), tf.ones([6, 4], 'bool')];
      for (let i = 0; i < 2; i++) {
        const y = layer.apply(xT, { training: true, mask }) as tf.Tensor;
        const ref = batchNormReference(x, shape, { training: true, eps: 1e-3, axis: -1 });
        compareElements('y (the mask ignored)', await read(y), ref.y, yTolerance(x, shape, ref, null, null, -1));
        y.dispose();
      }
      tf.dispose([xT, mask]);
      layer.dispose();
    });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('a mask of shape [6,4] for an input of shape [6,5]');
  });
});

describe('masked sequence models trained by fit', () => {
  const [batch, steps, T, C] = [6, 3, 7, 4];
  const rnd = seededRandom(41);

  /** Moving statistics after `steps` batches of x (per step: values and mask), by the float64 reference. */
  function movingReference(xs: Float32Array[], masks: Float32Array[], shape: number[], momentum = 0.9) {
    let mean: Float64Array = new Float64Array(C);
    let variance: Float64Array = new Float64Array(C).fill(1);
    let meanTol = (_c: number) => 0;
    let varTol = (_c: number) => 0;
    const ys: Float64Array[] = [];
    for (let s = 0; s < xs.length; s++) {
      const ref = batchNormReference(xs[s]!, shape, { training: true, runningMean: mean, runningVar: variance, momentum: 1 - momentum, runningVarEstimator: 'biased', eps: 1e-3, axis: -1, mask: masks[s]! });
      meanTol = blendedTolerance(meanTol, momentum, runningMeanTolerance(ref.runningMean!, ref.saveMean, ref.saveInvstd));
      varTol = blendedTolerance(varTol, momentum, relativeTolerance(ref.runningVar!));
      mean = ref.runningMean!;
      variance = ref.runningVar!;
      ys.push(ref.y);
    }
    return { mean, variance, meanTol, varTol, ys };
  }

  it('masking({maskValue: 0}) -> ours -> ours (the mask passed on) -> dense: both layers\' moving statistics over the kept steps', async () => {
    const shape = [batch, T, C];
    const masks = Array.from({ length: steps }, () => prefixMask(rnd, batch, T));
    // Padding: every feature of a left-out step is the mask value.
    const xs = masks.map((mask) => Float32Array.from(gaussian(rnd, batch * T * C, 0.5, 2), (v, i) => (mask[Math.floor(i / C)] ? v : 0)));
    // The first layer keeps gamma 1 and beta 0 (not trainable), so the second's input is the reference's y.
    const first = batchNormalization({ momentum: 0.9, trainable: false });
    const second = batchNormalization({ momentum: 0.9 });
    const model = tfl.sequential({ layers: [tfl.layers.masking({ maskValue: 0, inputShape: [T, C] }), first, second, tfl.layers.dense({ units: 2 })] });
    model.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
    const [xT, yT] = [tf.tensor(xs.flatMap((x) => Array.from(x)), [batch * steps, T, C]), tf.tensor(gaussian(rnd, batch * steps * T * 2), [batch * steps, T, 2])];
    const history = await model.fit(xT, yT, { batchSize: batch, epochs: 1, shuffle: false, verbose: 0 });
    expect(history.history['loss']!.every((l) => Number.isFinite(l as number))).toBe(true);
    const one = movingReference(xs, masks, shape);
    const two = movingReference(one.ys.map((y) => Float32Array.from(y)), masks, shape);
    for (const [name, layer, ref] of [['first', first, one], ['second', second, two]] as const) {
      const w = await weightsOf(layer);
      compareElements(`${name} moving_mean after ${steps} fit steps`, w[2]!, ref.mean, ref.meanTol);
      compareElements(`${name} moving_variance after ${steps} fit steps`, w[3]!, ref.variance, ref.varTol);
    }
    // predict: the moving statistics, every position normalized (the mask does not enter inference).
    const x0 = tf.tensor(xs[0]!, shape);
    const y = first.apply(x0) as tf.Tensor;
    const [, , mm, mv] = await weightsOf(first);
    const ref = batchNormReference(xs[0]!, shape, { training: false, runningMean: mm!, runningVar: mv!, eps: 1e-3, axis: -1 });
    compareElements('inference after fit', await read(y), ref.y, yTolerance(xs[0]!, shape, ref, null, null, -1));
    tf.dispose([xT, yT, x0, y]);
    model.dispose();
  });

  it('embedding({maskZero: true}) -> ours -> globalAveragePooling1d -> dense: the moving statistics over the non-zero ids', async () => {
    const ids = masksToIds(Array.from({ length: steps }, () => prefixMask(rnd, batch, T)));
    const embedding = tfl.layers.embedding({ inputDim: 10, outputDim: C, maskZero: true, inputLength: T, trainable: false });
    const bn = batchNormalization({ momentum: 0.9 });
    const model = tfl.sequential({ layers: [embedding, bn, tfl.layers.globalAveragePooling1d(), tfl.layers.dense({ units: 1 })] });
    model.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
    const [idsT, yT] = [tf.tensor(ids.flat, [batch * steps, T]), tf.tensor(gaussian(rnd, batch * steps), [batch * steps, 1])];
    await model.fit(idsT, yT, { batchSize: batch, epochs: 1, shuffle: false, verbose: 0 });
    const table = await read(embedding.getWeights()[0]!);
    const xs = ids.perStep.map((step) => Float32Array.from({ length: step.length * C }, (_, i) => table[step[Math.floor(i / C)]! * C + (i % C)]!));
    const masks = ids.perStep.map((step) => Float32Array.from(step, (id) => (id === 0 ? 0 : 1)));
    const ref = movingReference(xs, masks, [batch, T, C]);
    const w = await weightsOf(bn);
    compareElements('moving_mean after fit', w[2]!, ref.mean, ref.meanTol);
    compareElements('moving_variance after fit', w[3]!, ref.variance, ref.varTol);
    tf.dispose([idsT, yT]);
    model.dispose();

    /** Ids 1..9 where the masks keep a step, 0 (padding) elsewhere. */
    function masksToIds(masks: Float32Array[]) {
      const perStep = masks.map((mask) => Int32Array.from(mask, (m) => (m ? 1 + Math.floor(rnd() * 9) : 0)));
      return { perStep, flat: perStep.flatMap((s) => Array.from(s)) };
    }
  });

  it("masking -> globalAveragePooling1d (no mask out) -> ours: tfjs's executor passes the masking layer's mask on, which ours ignores once warned", async () => {
    const model = tfl.sequential({
      layers: [tfl.layers.masking({ maskValue: 0, inputShape: [T, C] }), tfl.layers.globalAveragePooling1d(), batchNormalization(), tfl.layers.dense({ units: 1 })],
    });
    model.compile({ optimizer: tf.train.sgd(0.05), loss: 'meanSquaredError' });
    const x = gaussian(rnd, batch * T * C);
    const [xT, yT] = [tf.tensor(x, [batch, T, C]), tf.tensor(gaussian(rnd, batch), [batch, 1])];
    const warnings = await onBackend('webgpu', async () => {
      for (let i = 0; i < 2; i++) expect(Number.isFinite((await model.trainOnBatch(xT, yT)) as number)).toBe(true);
    });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`a mask of shape [${batch},${T}] for an input of shape [${batch},${C}]`);
    // Its statistics are every sample's: those of the pooled features (the mask keeps every step here).
    const pooled = Float32Array.from({ length: batch * C }, (_, i) => {
      const [n, c] = [Math.floor(i / C), i % C];
      let sum = 0;
      for (let t = 0; t < T; t++) sum += x[(n * T + t) * C + c]!;
      return sum / T;
    });
    const ref = movingReference([pooled, pooled], [new Float32Array(batch).fill(1), new Float32Array(batch).fill(1)], [batch, C], 0.99);
    const w = await weightsOf(model.layers[2] as Layer);
    compareElements('moving_mean (the mask ignored)', w[2]!, ref.mean, ref.meanTol);
    compareElements('moving_variance (the mask ignored)', w[3]!, ref.variance, ref.varTol);
    tf.dispose([xT, yT]);
    model.dispose();
  });

});

describe('batch renormalization: config and weights', () => {
  it("adds Keras 3's renorm keys to tfjs's config, and its three weights in Keras's order", async () => {
    const { name: _a, ...ours } = batchNormalization().getConfig();
    const { name: _b, ...theirs } = tfl.layers.batchNormalization().getConfig();
    expect(ours).toEqual({ ...theirs, renorm: false, renormClipping: null, renormMomentum: 0.99 });
    expect(batchNormalization({ renorm: true }).getConfig()).toMatchObject({ renorm: true, renormClipping: {}, renormMomentum: 0.99 });

    const config = { renorm: true, renormClipping: { rmax: 3, dmax: 5 }, renormMomentum: 0.9, movingMeanInitializer: 'ones', movingVarianceInitializer: tfl.initializers.constant({ value: 4 }) } as const;
    const layer = batchNormalization(config);
    layer.apply(tfl.input({ shape: [3] }));
    expect(weightNames(layer)).toEqual(['gamma', 'beta', 'moving_mean', 'moving_variance', 'moving_stddev', 'renorm_mean', 'renorm_stddev']);
    expect(layer.trainableWeights.map((w) => w.name.slice(layer.name.length + 1))).toEqual(['gamma', 'beta']);
    // moving_stddev and renorm_stddev start at sqrt(moving_variance's), renorm_mean at moving_mean's.
    expect((await weightsOf(layer)).map((w) => Array.from(w))).toEqual([[1, 1, 1], [0, 0, 0], [1, 1, 1], [4, 4, 4], [2, 2, 2], [1, 1, 1], [2, 2, 2]]);
    expect(layer.getConfig()).toMatchObject({ renorm: true, renormClipping: { rmax: 3, dmax: 5 }, renormMomentum: 0.9 });
    const scaleless = batchNormalization({ renorm: true, scale: false, center: false });
    scaleless.apply(tfl.input({ shape: [3] }));
    expect(weightNames(scaleless)).toEqual(['moving_mean', 'moving_variance', 'moving_stddev', 'renorm_mean', 'renorm_stddev']);
    for (const l of [layer, scaleless]) l.dispose();
  });

  it('refuses the renorm settings Keras refuses', () => {
    expect(() => batchNormalization({ renorm: true, renormClipping: { rmin: 2, rmax: 1 } })).toThrow(/rmax \(1\) is below rmin \(2\)/);
    expect(() => batchNormalization({ renorm: true, renormClipping: { dmax: -1 } })).toThrow(/dmax must be >= 0/);
    expect(() => batchNormalization({ renorm: true, renormClipping: { rmaxx: 1 } as RenormClipping })).toThrow(/rmaxx/);
    expect(() => batchNormalization({ renorm: true, renormMomentum: 1.5 })).toThrow(/renormMomentum must be in \[0, 1\]/);
  });
});

describe('batch renormalization: training steps against Keras 3\'s float64 reference', () => {
  const CLIPPING = { rmin: 0.5, rmax: 2, dmax: 1.5 };
  const CASES = [
    { what: 'NHWC, clipped', shape: [4, 3, 4, 3], axis: -1, config: { renormClipping: CLIPPING, momentum: 0.9, renormMomentum: 0.8 } },
    { what: 'NCHW, rmax and dmax only', shape: [4, 3, 5, 5], axis: 1, config: { renormClipping: { rmax: 1.5, dmax: 1 }, renormMomentum: 0.7 } },
    { what: '(N, T, C) sequences with a mask, clipped', shape: [5, 8, 3], axis: -1, config: { renormClipping: CLIPPING, renormMomentum: 0.7 }, masked: true },
    { what: '(N, C), scale: false, no clipping', shape: [32, 3], axis: -1, config: { scale: false, renormMomentum: 0.5 } },
  ];
  const STEPS = 3;
  for (const backend of BACKENDS) {
    for (const c of CASES) {
      it(`${backend}: ${c.what}: y, the seven weights, dx/dgamma/dbeta over ${STEPS} steps, then inference`, async () => {
        const { shape, axis } = c;
        const channels = shape.at(axis)!;
        const config = { axis, momentum: 0.99, renorm: true, ...c.config };
        const scale = !('scale' in config && config.scale === false);
        const options = { axis, epsilon: 1e-3, momentum: config.momentum, renormMomentum: config.renormMomentum, renormClipping: config.renormClipping ?? null, scale };
        const rnd = seededRandom(shape.length * 100 + shape[0]!);
        const size = shape.reduce((a, b) => a * b, 1);
        const after = axis === -1 ? 1 : shape.slice(axis + 1).reduce((a, b) => a * b, 1);
        await onBackend(backend, async () => {
          const layer = batchNormalization(config);
          layer.apply(tfl.input({ batchShape: shape }));
          let x = new Float32Array(0);
          for (let step = 0; step < STEPS; step++) {
            const what = `${c.what} step ${step + 1}`;
            const w = await weightsOf(layer);
            const [gamma, beta] = scale ? [w[0]!, w[1]!] : [null, w[0]!];
            const [movingMean, movingVariance, movingStddev, renormMean, renormStddev] = w.slice(-5) as Float32Array[];
            const before: KerasRenormState = { gamma, beta, movingMean: movingMean!, movingVariance: movingVariance!, movingStddev: movingStddev!, renormMean: renormMean!, renormStddev: renormStddev! };
            // Odd steps far off the renorm statistics (r and d clipped where bounded), even ones near them.
            const far = step % 2 === 0;
            x = Float32Array.from(gaussian(rnd, size), (v, i) => {
              const ch = Math.floor(i / after) % channels;
              return renormMean![ch]! + (far ? 3 : 0.3) * (ch % 2 ? -1 : 1) + (far ? 3 : 1.1) * Math.max(renormStddev![ch]!, 0.03) * v;
            });
            const dy = uniform(rnd, size, -1, 1);
            const [N, T] = shape as [number, number];
            const mask = c.masked ? prefixMask(rnd, N, T) : null;
            const maskT = mask ? tf.tensor(mask, [N, T], 'bool') : null;
            const { y, dx, dparams } = trainingStep(layer, x, shape, dy, maskT);
            const ref = kerasRenormReference(x, shape, before, { ...options, mask });
            const tol = renormTolerances({ x, shape, axis, epsilon: 1e-3, gamma, beta, renormMean: renormMean!, renormStddev: renormStddev! }, ref);
            compareElements(`${what} y`, await read(y), ref.y, tol.y);
            const moved = (await weightsOf(layer)).slice(-5);
            (['movingMean', 'movingVariance', 'movingStddev', 'renormMean', 'renormStddev'] as const).forEach((key, i) =>
              compareElements(`${what} ${key}`, moved[i]!, ref.weights[key], tol[key]),
            );
            const f32 = (v: ArrayLike<number>) => Float32Array.from(v);
            const back = kerasRenormBackwardReference(dy, x, shape, { gamma, saveMean: f32(ref.saveMean), saveInvstd: f32(ref.saveInvstd), r: f32(ref.r), d: f32(ref.d), axis, mask });
            const weight = Array.from(ref.r, (r, ch) => r * (gamma ? gamma[ch]! : 1));
            const bt = renormBackwardTolerances({ dy, x, shape, weight, training: true, axis, mask }, { saveMean: f32(ref.saveMean), saveInvstd: f32(ref.saveInvstd) }, ref, tol);
            compareElements(`${what} dx`, await read(dx), back.dx, bt.dx);
            if (scale) compareElements(`${what} dgamma`, await read(dparams[0]!), back.dgamma!, bt.dgamma);
            compareElements(`${what} dbeta`, await read(dparams.at(-1)!), back.dbeta!, bt.dbeta);
            // An optimizer's step, so that gamma and beta differ from step to step.
            const params = [scale ? 'gamma' : null, 'beta'].filter((n) => n !== null).map((n) => variableOf(layer, n));
            params.forEach((p, i) => p.assign(tf.sub(p, tf.mul(dparams[i]!, 0.1))));
            tf.dispose([y, dx, ...dparams, ...(maskT ? [maskT] : [])]);
          }
          // Inference: plain batch norm with moving_mean and moving_variance.
          const w = await weightsOf(layer);
          const [gamma, beta] = scale ? [w[0]!, w[1]!] : [null, w[0]!];
          const xT = tf.tensor(x, shape);
          const y = layer.apply(xT) as tf.Tensor;
          const ref = batchNormReference(x, shape, { training: false, runningMean: w.at(-5)!, runningVar: w.at(-4)!, weight: gamma, bias: beta, eps: 1e-3, axis });
          // On the cpu backend inference is tfjs's own batch norm, whose cpu kernel takes the channel to be the
          // last axis (it cycles through the [1, C, 1, 1] parameters as through [C]).
          if (backend === 'webgpu' || axis === -1) compareElements(`${c.what} inference`, await read(y), ref.y, yTolerance(x, shape, ref, gamma, beta, axis));
          tf.dispose([xT, y]);
          layer.dispose();
        });
      });
    }
  }
});

describe('batch renormalization in a model: fit, save and load', () => {
  it('saves renorm, renorm_clipping and renorm_momentum (snake_case) and its seven weights; the loaded model trains on alike', async () => {
    const rnd = seededRandom(61);
    const config = { inputShape: [6, 4], renorm: true, renormClipping: { rmax: 2, rmin: 0.5, dmax: 1 }, renormMomentum: 0.9, momentum: 0.9 };
    const model = tfl.sequential({ layers: [batchNormalization(config), tfl.layers.dense({ units: 2 })] });
    model.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
    const [xs, ys] = [tf.tensor(gaussian(rnd, 16 * 24, 2, 3), [16, 6, 4]), tf.tensor(gaussian(rnd, 16 * 12), [16, 6, 2])];
    await model.fit(xs, ys, { batchSize: 8, epochs: 1, shuffle: false, verbose: 0 });

    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save(tf.io.withSaveHandler(async (saved) => {
      artifacts = saved;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    const topology = JSON.stringify(artifacts!.modelTopology);
    expect(topology).toContain('"renorm":true,"renorm_clipping":{"rmax":2,"rmin":0.5,"dmax":1},"renorm_momentum":0.9');
    const bnName = model.layers[0]!.name;
    expect(artifacts!.weightSpecs!.filter((s) => s.name.startsWith(`${bnName}/`)).map((s) => s.name.slice(bnName.length + 1))).toEqual([
      'gamma', 'beta', 'moving_mean', 'moving_variance', 'moving_stddev', 'renorm_mean', 'renorm_stddev',
    ]);

    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts!));
    const [before, after] = [model.layers[0] as BatchNormalization, loaded.layers[0] as BatchNormalization];
    expect(after).toBeInstanceOf(BatchNormalization);
    expect(after.renorm).toBe(true);
    expect(after.getConfig()).toEqual(before.getConfig());
    expect(await weightsOf(after)).toEqual(await weightsOf(before));
    const x0 = tf.slice(xs, 0, 8);
    const [p0, p1] = [model.predict(x0) as tf.Tensor, loaded.predict(x0) as tf.Tensor];
    expect(await read(p1)).toEqual(await read(p0));
    // One more step of each from the same weights and renorm state: the same kernels, the same results.
    loaded.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
    const y0 = tf.slice(ys, 0, 8);
    for (const m of [model, loaded]) await m.trainOnBatch(x0, y0);
    expect(await weightsOf(after)).toEqual(await weightsOf(before));
    tf.dispose([xs, ys, x0, y0, p0, p1]);
    model.dispose();
    loaded.dispose();
  });
});
