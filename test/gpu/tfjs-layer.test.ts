// webgpu-batchnorm/tfjs against tf.layers.batchNormalization on the same inputs, on TensorFlow.js's webgpu
// backend (SwiftShader here): outputs, gradients with respect to x, gamma and beta, moving statistics
// after fit steps, training and inference, rank 2 and 4, axis -1 and 1, save/load, memory over 100
// training steps, recording into tfjs's own command encoder, and the fallback to tfjs's own batch norm.
//
// Every result is checked against the float64 reference under the bounds of src/reference/tolerances.ts; so is
// tfjs's own layer (the premise of comparing the two), and then the two against each other within
// agreementTolerance (each within the bound of the exact value, so within twice it of each other).
// The backward's reference is fed the float64 batch statistics: the data's mean is within its spread, so
// rounding the statistics to float32 moves xhat by ~6e-8, far inside DX_RTOL (see src/reference/tolerances.ts).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu'; // the fallback test's other backend
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BatchNormalization, batchNormalization, type BatchNormalizationLayerArgs } from '../../src/tfjs.js';
import { INFERENCE_FORWARD, registerKernelsFor, runKernel } from '../../src/platforms/tfjs/kernels.js';
import { asWebGpuBackend, gpuOfBackend, type WebGpuBackend } from '../../src/platforms/tfjs/webgpu-backend.js';
import { batchNormBackwardReference, batchNormReference } from '../../src/reference.js';
import {
  agreementTolerance,
  backwardTolerances,
  blendedTolerance,
  movingStatisticsGradientTolerances,
  relativeTolerance,
  runningMeanTolerance,
  yTolerance,
} from '../../src/reference/tolerances.js';
import { compareElements } from '../support/compare.js';
import { gaussian, seededRandom, uniform } from '../support/random.js';

type Values = ArrayLike<number>;
type Layer = ReturnType<typeof tfl.layers.batchNormalization>;

let backend: WebGpuBackend;
const uncaptured: string[] = [];
/** The worst layer-vs-tfjs difference, as a fraction of agreementTolerance and in absolute terms, per quantity. */
const agreement = new Map<string, { ratio: number; abs: number }>();

beforeAll(async () => {
  if (!(await tf.setBackend('webgpu'))) throw new Error('TensorFlow.js could not start its webgpu backend (no WebGPU adapter?)');
  await tf.ready();
  const b = asWebGpuBackend(tf.backend(), tf.getBackend());
  if (typeof b === 'string') throw new Error(b);
  backend = b;
  backend.device.addEventListener('uncapturederror', (event) => uncaptured.push((event as GPUUncapturedErrorEvent).error.message));
});

afterAll(() => {
  const rows = [...agreement].map(([what, { ratio, abs }]) => `${what}: ${ratio.toFixed(3)} of the bound, max |diff| ${abs.toExponential(2)}`);
  console.log(`webgpu-batchnorm/tfjs vs TensorFlow.js (tf.layers.batchNormalization; tf.batchNorm for dmoving_*), worst difference:\n  ${rows.join('\n  ')}`);
  expect(uncaptured).toEqual([]);
});

/**
 * Checks ours and tfjs's against the float64 `expected` under `tolerance`, and each other under twice it;
 * records the worst agreement under `what`'s first word.
 */
function compareBoth(what: string, ours: Values, theirs: Values | null, expected: Values, tolerance: (i: number) => number): void {
  compareElements(`${what} (webgpu-batchnorm)`, ours, expected, tolerance);
  if (!theirs) return;
  compareElements(`${what} (tf.layers.batchNormalization)`, theirs, expected, tolerance);
  const { worstRatio, maxAbsError } = compareElements(`${what}: webgpu-batchnorm vs tf.layers`, ours, theirs, agreementTolerance(tolerance));
  const key = what.split(' ')[0]!;
  const seen = agreement.get(key) ?? { ratio: 0, abs: 0 };
  agreement.set(key, { ratio: Math.max(seen.ratio, worstRatio), abs: Math.max(seen.abs, maxAbsError) });
}

const read = async (t: tf.Tensor | tf.Tensor[]): Promise<Float32Array> => (await (t as tf.Tensor).data()) as Float32Array;
const weightsOf = (layer: Layer): Promise<Float32Array[]> => Promise.all(layer.getWeights().map((w) => read(w)));
/** The tf.Variable behind a layer weight (LayerVariable.read() returns it). */
const variableOf = (layer: Layer, name: string): tf.Variable => {
  const weight = layer.weights.find((w) => w.name.endsWith(`/${name}`));
  if (!weight) throw new Error(`no weight ${name}`);
  return weight.read() as tf.Variable;
};

interface Params {
  gamma: Float32Array;
  beta: Float32Array;
  movingMean: Float32Array;
  movingVariance: Float32Array;
}

function randomParams(seed: number, channels: number): Params {
  const rnd = seededRandom(seed);
  return {
    gamma: uniform(rnd, channels, 0.5, 1.5),
    beta: gaussian(rnd, channels, 0, 0.5),
    movingMean: gaussian(rnd, channels, 0, 0.5),
    movingVariance: uniform(rnd, channels, 0.5, 2),
  };
}

/** Our layer and tfjs's, built for `shape` with the same config and the same weights. */
function pair(config: BatchNormalizationLayerArgs, shape: number[], params: Params): { ours: Layer; theirs: Layer } {
  const build = (layer: Layer) => {
    layer.apply(tfl.input({ batchShape: shape })); // builds it as a model does, its weights named '<layer>/gamma' ...
    const weights = [params.gamma, params.beta, params.movingMean, params.movingVariance].map((w) => tf.tensor1d(w));
    layer.setWeights(weights); // the variables take the tensors' data (and a reference to it)
    tf.dispose(weights);
    return layer;
  };
  return { ours: build(batchNormalization(config)), theirs: build(tfl.layers.batchNormalization(config)) };
}

const channelsOf = (shape: number[], axis: number) => shape[axis < 0 ? axis + shape.length : axis]!;

/**
 * Whether tfjs's layer reshapes its parameters to [1, C, 1, 1] (the channel is not the last axis), for
 * which tfjs's gradient of batchNorm throws (it reshapes a full-size gradient to the parameter's shape).
 */
const tfjsBroadcasts = (shape: number[], axis: number) => (axis < 0 ? axis + shape.length : axis) !== shape.length - 1;

const CASES = [
  { shape: [16, 12], axis: -1 }, // dense activations
  { shape: [16, 12], axis: 1 },
  { shape: [4, 6, 5, 8], axis: -1 }, // NHWC, Keras's layout
  { shape: [4, 8, 6, 5], axis: 1 }, // NCHW
];

describe('the layer is tf.layers.batchNormalization to a tfjs user', () => {
  it("has tfjs's config, defaults and weights in Keras's order, under its own registered class name", () => {
    const ours = batchNormalization();
    const theirs = tfl.layers.batchNormalization();
    expect(ours).toBeInstanceOf(BatchNormalization);
    expect(ours).toBeInstanceOf(theirs.constructor);
    const { name: _a, ...oursConfig } = ours.getConfig();
    const { name: _b, ...theirsConfig } = theirs.getConfig();
    expect(oursConfig).toEqual({ ...theirsConfig, renorm: false, renormClipping: null, renormMomentum: 0.99 }); // Keras 3's renorm keys added
    expect(oursConfig).toMatchObject({ axis: -1, momentum: 0.99, epsilon: 1e-3, center: true, scale: true });
    const names = (layer: Layer, weights: tfl.LayerVariable[]) => weights.map((w) => w.name.slice(layer.name.length + 1));
    for (const config of [{}, { center: false }, { scale: false }, { center: false, scale: false }]) {
      const [o, t] = [batchNormalization(config), tfl.layers.batchNormalization(config)];
      for (const layer of [o, t]) layer.apply(tfl.input({ shape: [3] }));
      expect(names(o, o.weights)).toEqual(names(t, t.weights));
      expect(names(o, o.trainableWeights)).toEqual(names(t, t.trainableWeights));
      if (Object.keys(config).length === 0) expect(names(o, o.weights)).toEqual(['gamma', 'beta', 'moving_mean', 'moving_variance']);
      o.dispose();
      t.dispose();
    }
    expect(ours.getClassName()).toBe('WebGPUBatchNormalization');
    expect(tf.serialization.SerializationMap.getMap().classNameMap['WebGPUBatchNormalization']?.[0]).toBe(BatchNormalization);
  });
});

describe.each(CASES)('shape $shape, axis $axis', ({ shape, axis }) => {
  const channels = channelsOf(shape, axis);
  const size = shape.reduce((a, b) => a * b, 1);
  const config = { axis, momentum: 0.9, epsilon: 1e-3 };

  it('training forward: y and the moving statistics, as tfjs computes them', async () => {
    const params = randomParams(10 + shape.length + axis, channels);
    const x = gaussian(seededRandom(20 + axis), size, 0.5, 2);
    const { ours, theirs } = pair(config, shape, params);
    const xT = tf.tensor(x, shape);
    const [yOurs, yTheirs] = [ours, theirs].map((layer) => layer.apply(xT, { training: true }) as tf.Tensor);
    const ref = batchNormReference(x, shape, {
      training: true,
      weight: params.gamma,
      bias: params.beta,
      runningMean: params.movingMean,
      runningVar: params.movingVariance,
      momentum: 1 - config.momentum, // Keras's momentum is the share of the old value
      runningVarEstimator: 'biased',
      eps: config.epsilon,
      axis,
    });
    compareBoth('y (training)', await read(yOurs!), await read(yTheirs!), ref.y, yTolerance(x, shape, ref, params.gamma, params.beta, axis));
    const [wOurs, wTheirs] = [await weightsOf(ours), await weightsOf(theirs)];
    expect(wOurs[0]).toEqual(params.gamma);
    expect(wOurs[1]).toEqual(params.beta);
    compareBoth('moving_mean (one step)', wOurs[2]!, wTheirs[2]!, ref.runningMean!, runningMeanTolerance(ref.runningMean!, ref.saveMean, ref.saveInvstd));
    compareBoth('moving_variance (one step)', wOurs[3]!, wTheirs[3]!, ref.runningVar!, relativeTolerance(ref.runningVar!));
    tf.dispose([xT, yOurs!, yTheirs!]);
  });

  it('inference forward (the default): y from the moving statistics, which stay as they were', async () => {
    const params = randomParams(30 + shape.length + axis, channels);
    const x = gaussian(seededRandom(40 + axis), size, 0.5, 2);
    const { ours, theirs } = pair(config, shape, params);
    const xT = tf.tensor(x, shape);
    const [yOurs, yTheirs] = [ours, theirs].map((layer) => layer.apply(xT) as tf.Tensor);
    const ref = batchNormReference(x, shape, {
      training: false,
      weight: params.gamma,
      bias: params.beta,
      runningMean: params.movingMean,
      runningVar: params.movingVariance,
      eps: config.epsilon,
      axis,
    });
    compareBoth('y (inference)', await read(yOurs!), await read(yTheirs!), ref.y, yTolerance(x, shape, ref, params.gamma, params.beta, axis));
    expect(await weightsOf(ours)).toEqual([params.gamma, params.beta, params.movingMean, params.movingVariance]);
    tf.dispose([xT, yOurs!, yTheirs!]);
  });

  for (const training of [true, false]) {
    it(`gradients with respect to x, gamma and beta (${training ? 'training' : 'inference'})`, async () => {
      const params = randomParams(50 + shape.length + axis, channels);
      const rnd = seededRandom(60 + axis + (training ? 1 : 0));
      const x = gaussian(rnd, size, 0.5, 2);
      const dy = gaussian(rnd, size);
      const { ours, theirs } = pair(config, shape, params);
      const xVar = tf.variable(tf.tensor(x, shape), true, `x_${shape.join('x')}_${axis}_${training}`);
      const dyT = tf.tensor(dy, shape);
      const grads = (layer: Layer) => {
        const gamma = variableOf(layer, 'gamma');
        const beta = variableOf(layer, 'beta');
        // sum(y * dy) has gradient dy with respect to y, exactly.
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(xVar, { training }) as tf.Tensor, dyT)), [xVar, gamma, beta]);
        value.dispose();
        return [grads[xVar.name]!, grads[gamma.name]!, grads[beta.name]!];
      };
      const gOurs = grads(ours);
      let gTheirs: tf.Tensor[] | null = null;
      if (!tfjsBroadcasts(shape, axis)) gTheirs = grads(theirs);
      else expect(() => grads(theirs)).toThrow(); // tfjs's own limitation: ours is checked against the reference alone

      const fwd = batchNormReference(x, shape, {
        training,
        runningMean: params.movingMean,
        runningVar: params.movingVariance,
        eps: config.epsilon,
        axis,
      });
      const ref = training
        ? batchNormBackwardReference(dy, x, shape, { training: true, saveMean: fwd.saveMean, saveInvstd: fwd.saveInvstd, weight: params.gamma, axis })
        : batchNormBackwardReference(dy, x, shape, { training: false, runningMean: params.movingMean, runningVar: params.movingVariance, eps: config.epsilon, weight: params.gamma, axis });
      const tol = backwardTolerances({ dy, x, shape, weight: params.gamma, training, axis }, ref);
      const mode = training ? 'training' : 'inference';
      const theirsOf = async (i: number) => (gTheirs ? read(gTheirs[i]!) : null);
      compareBoth(`dx (${mode})`, await read(gOurs[0]!), await theirsOf(0), ref.dx, tol.dx);
      compareBoth(`dgamma (${mode})`, await read(gOurs[1]!), await theirsOf(1), ref.dweight!, tol.dweight);
      compareBoth(`dbeta (${mode})`, await read(gOurs[2]!), await theirsOf(2), ref.dbias!, tol.dbias);
      tf.dispose([xVar, dyT, ...gOurs, ...(gTheirs ?? [])]);
    });
  }
});

describe('without center or scale', () => {
  for (const config of [{ center: false }, { scale: false }]) {
    it(`trains with ${JSON.stringify(config)} (which tfjs's own layer cannot: it reads the missing weight)`, async () => {
      const shape = [10, 6];
      const rnd = seededRandom(80);
      const x = gaussian(rnd, 60, 0.5, 2);
      const dy = gaussian(rnd, 60);
      const params = randomParams(81, 6);
      const layer = batchNormalization({ ...config, momentum: 0.9 });
      layer.apply(tfl.input({ batchShape: shape }));
      const kept = config.center === false ? [params.gamma] : [params.beta];
      layer.setWeights([...kept, params.movingMean, params.movingVariance].map((v) => tf.tensor1d(v)));
      const theirs = tfl.layers.batchNormalization(config);
      expect(() => theirs.apply(tf.zeros(shape), { training: true })).toThrow();

      const xVar = tf.variable(tf.tensor(x, shape));
      const dyT = tf.tensor(dy, shape);
      const trainable = layer.trainableWeights[0]!.read() as tf.Variable;
      let y: tf.Tensor | undefined;
      const { value, grads } = tf.variableGrads(() => {
        y = tf.keep(layer.apply(xVar, { training: true }) as tf.Tensor);
        return tf.sum(tf.mul(y, dyT));
      }, [xVar, trainable]);
      const weight = config.scale === false ? null : params.gamma;
      const bias = config.center === false ? null : params.beta;
      const ref = batchNormReference(x, shape, { training: true, weight, bias, runningMean: params.movingMean, runningVar: params.movingVariance, momentum: 0.1, runningVarEstimator: 'biased', eps: 1e-3, axis: -1 });
      compareElements('y', await read(y!), ref.y, yTolerance(x, shape, ref, weight, bias, -1));
      const [movingMean, movingVariance] = (await weightsOf(layer)).slice(-2); // Keras's order: the moving statistics last
      compareElements('moving_mean', movingMean!, ref.runningMean!, runningMeanTolerance(ref.runningMean!, ref.saveMean, ref.saveInvstd));
      compareElements('moving_variance', movingVariance!, ref.runningVar!, relativeTolerance(ref.runningVar!));
      const back = batchNormBackwardReference(dy, x, shape, { training: true, saveMean: ref.saveMean, saveInvstd: ref.saveInvstd, weight: weight ?? new Float32Array(6).fill(1), axis: -1 });
      const tol = backwardTolerances({ dy, x, shape, weight, training: true, axis: -1 }, back);
      compareElements('dx', await read(grads[xVar.name]!), back.dx, tol.dx);
      compareElements(config.center === false ? 'dgamma' : 'dbeta', await read(grads[trainable.name]!), config.center === false ? back.dweight! : back.dbias!, config.center === false ? tol.dweight : tol.dbias);
      tf.dispose([xVar, dyT, value, y!, ...Object.values(grads)]);
    });
  }
});

describe('the inference kernel is differentiable in all five inputs, as tfjs\'s batchNorm', () => {
  it('gradients with respect to the moving mean and variance match tf.batchNorm\'s', async () => {
    registerKernelsFor(tf.getBackend()); // the layer does this on its first call
    const [shape, channels, epsilon] = [[12, 7], 7, 1e-3];
    const rnd = seededRandom(70);
    const params = randomParams(71, channels);
    const x = gaussian(rnd, 84, 0.5, 2);
    const dy = gaussian(rnd, 84);
    const inputs = [tf.tensor(x, shape), ...[params.gamma, params.beta, params.movingMean, params.movingVariance].map((v) => tf.tensor1d(v))];
    const dyT = tf.tensor(dy, shape);
    type Five = [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const ours = tf.grads((...[xT, gamma, beta, movingMean, movingVariance]: Five) =>
      tf.sum(tf.mul(runKernel(INFERENCE_FORWARD, { x: xT, gamma, beta, movingMean, movingVariance }, { axis: 1, epsilon, momentum: 0.99 }) as tf.Tensor, dyT)),
    )(inputs);
    const theirs = tf.grads((...[xT, gamma, beta, movingMean, movingVariance]: Five) => tf.sum(tf.mul(tf.batchNorm(xT, movingMean, movingVariance, beta, gamma, epsilon), dyT)))(inputs);
    const invstd = params.movingVariance.map((v) => 1 / Math.sqrt(v + epsilon));
    const sums = batchNormBackwardReference(dy, x, shape, { training: false, runningMean: params.movingMean, runningVar: params.movingVariance, eps: epsilon, weight: params.gamma });
    const expectedMean = params.gamma.map((g, c) => -g * invstd[c]! * sums.dbias![c]!);
    const expectedVariance = params.gamma.map((g, c) => (-g / 2) * invstd[c]! ** 2 * sums.dweight![c]!);
    const tol = movingStatisticsGradientTolerances(dy, x, shape, params.gamma, { saveMean: params.movingMean, saveInvstd: invstd });
    compareBoth('dmoving_mean (inference)', await read(ours[3]!), await read(theirs[3]!), Float64Array.from(expectedMean), tol.dmean);
    compareBoth('dmoving_variance (inference)', await read(ours[4]!), await read(theirs[4]!), Float64Array.from(expectedVariance), tol.dvariance);
    tf.dispose([...inputs, dyT, ...ours, ...theirs]);
  });
});

describe('in a model: fit, predict, save and load', () => {
  const [batch, steps, features] = [8, 4, [6, 6, 4]] as const;
  const shape = [batch, ...features];
  const perBatch = shape.reduce((a, b) => a * b, 1);
  const channels = features[2];
  const config = { inputShape: [...features], momentum: 0.9 };
  const rnd = seededRandom(77);
  const x = gaussian(rnd, perBatch * steps, 0.5, 2);
  const target = gaussian(rnd, perBatch * steps);
  const model = (bn: Layer) => {
    const m = tfl.sequential({ layers: [bn] });
    m.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
    return m;
  };
  let ours: tfl.Sequential;
  let theirs: tfl.Sequential;

  it(`moving statistics after ${steps} fit steps follow Keras's recurrence, as tfjs's`, async () => {
    ours = model(batchNormalization(config));
    theirs = model(tfl.layers.batchNormalization(config));
    const xs = tf.tensor(x, [batch * steps, ...features]);
    const ys = tf.tensor(target, [batch * steps, ...features]);
    for (const m of [ours, theirs]) await m.fit(xs, ys, { batchSize: batch, epochs: 1, shuffle: false, verbose: 0 });
    tf.dispose([xs, ys]);

    let mean: Float64Array = new Float64Array(channels);
    let variance: Float64Array = new Float64Array(channels).fill(1);
    let meanTol = (_c: number) => 0;
    let varTol = (_c: number) => 0;
    for (let s = 0; s < steps; s++) {
      const ref = batchNormReference(x.subarray(s * perBatch, (s + 1) * perBatch), shape, {
        training: true,
        runningMean: mean,
        runningVar: variance,
        momentum: 1 - config.momentum,
        runningVarEstimator: 'biased',
        eps: 1e-3,
        axis: -1,
      });
      meanTol = blendedTolerance(meanTol, config.momentum, runningMeanTolerance(ref.runningMean!, ref.saveMean, ref.saveInvstd));
      varTol = blendedTolerance(varTol, config.momentum, relativeTolerance(ref.runningVar!));
      mean = ref.runningMean!;
      variance = ref.runningVar!;
    }
    const [wOurs, wTheirs] = [await weightsOf(ours.layers[0]! as Layer), await weightsOf(theirs.layers[0]! as Layer)];
    compareBoth(`moving_mean (after ${steps} fit steps)`, wOurs[2]!, wTheirs[2]!, mean, meanTol);
    compareBoth(`moving_variance (after ${steps} fit steps)`, wOurs[3]!, wTheirs[3]!, variance, varTol);
    // fit trained gamma and beta (SGD moved them off 1 and 0).
    expect(wOurs[0]!.some((g) => g !== 1)).toBe(true);
    expect(wOurs[1]!.some((b) => b !== 0)).toBe(true);
  });

  it('predict normalizes with the moving statistics and the trained gamma and beta', async () => {
    const xT = tf.tensor(x.subarray(0, perBatch), shape);
    const y = ours.predict(xT) as tf.Tensor;
    const [gamma, beta, movingMean, movingVariance] = (await weightsOf(ours.layers[0]! as Layer)) as [Float32Array, Float32Array, Float32Array, Float32Array];
    const ref = batchNormReference(x.subarray(0, perBatch), shape, { training: false, weight: gamma, bias: beta, runningMean: movingMean, runningVar: movingVariance, eps: 1e-3, axis: -1 });
    compareElements('predict', await read(y), ref.y, yTolerance(x.subarray(0, perBatch), shape, ref, gamma, beta, -1));
    tf.dispose([xT, y]);
  });

  it('model.save and tf.loadLayersModel round-trip the layer, its config and weights', async () => {
    let artifacts: tf.io.ModelArtifacts | undefined;
    await ours.save(
      tf.io.withSaveHandler(async (saved) => {
        artifacts = saved;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    expect(JSON.stringify(artifacts!.modelTopology)).toContain('"class_name":"WebGPUBatchNormalization"');
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts!));
    const [before, after] = [ours.layers[0]! as Layer, loaded.layers[0]! as Layer];
    expect(after).toBeInstanceOf(BatchNormalization);
    expect(after.getConfig()).toEqual(before.getConfig());
    expect(await weightsOf(after)).toEqual(await weightsOf(before));
    const xT = tf.tensor(x.subarray(0, perBatch), shape);
    const [y0, y1] = [ours.predict(xT) as tf.Tensor, loaded.predict(xT) as tf.Tensor];
    expect(await read(y1)).toEqual(await read(y0)); // the same kernels on the same inputs
    tf.dispose([xT, y0, y1]);
    loaded.dispose();
  });
});

describe('inside tfjs: no copies, its encoder, no leaks', () => {
  it("records into tfjs's command encoder: no submit of its own, no copy but the two [C] moving statistics", async () => {
    const shape = [8, 5, 5, 16];
    const channels = 16;
    const x = gaussian(seededRandom(90), 8 * 5 * 5 * 16, 0.5, 2);
    const { ours } = pair({ momentum: 0.9 }, shape, randomParams(91, channels));
    tf.env().set('WEBGPU_CPU_FORWARD', false);
    const batchSize = tf.env().getNumber('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE');
    tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', 1000); // tfjs submits only when it reads
    const xT = tf.tidy(() => tf.mul(tf.tensor(x, shape), 1)); // on the GPU (an op's output; x*1 is exact)
    await xT.data(); // everything so far submitted
    const { device } = backend;
    const counts = { submits: 0, copiedBytes: [] as number[], passes: [] as string[] };
    const submit = device.queue.submit.bind(device.queue);
    const createCommandEncoder = device.createCommandEncoder.bind(device);
    device.queue.submit = (buffers) => {
      counts.submits++;
      submit(buffers);
    };
    device.createCommandEncoder = (descriptor) => {
      const encoder = createCommandEncoder(descriptor);
      const copy = encoder.copyBufferToBuffer.bind(encoder) as (...args: unknown[]) => void;
      const begin = encoder.beginComputePass.bind(encoder);
      encoder.copyBufferToBuffer = ((...args: unknown[]) => {
        counts.copiedBytes.push(args[4] as number);
        copy(...args);
      }) as GPUCommandEncoder['copyBufferToBuffer'];
      encoder.beginComputePass = (pass) => {
        counts.passes.push(pass?.label ?? '(tfjs)');
        return begin(pass);
      };
      return encoder;
    };
    let y: tf.Tensor;
    try {
      y = ours.apply(xT, { training: true }) as tf.Tensor;
      expect(counts.submits).toBe(0);
      expect(counts.copiedBytes).toEqual([4 * channels, 4 * channels]);
      expect(counts.passes).toContain('batchNorm forward');
    } finally {
      device.queue.submit = submit;
      device.createCommandEncoder = createCommandEncoder;
      tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', batchSize);
      tf.env().set('WEBGPU_CPU_FORWARD', true);
    }
    const values = await read(y); // tfjs submits its encoder, our pass included
    expect(values.every(Number.isFinite)).toBe(true);
    tf.dispose([xT, y]);
  });

  it('100 training steps leave tf.memory().numTensors and gpu.liveBuffers where they were', async () => {
    const rnd = seededRandom(95);
    const m = tfl.sequential({ layers: [batchNormalization({ inputShape: [10], momentum: 0.9 }), tfl.layers.dense({ units: 3 })] });
    m.compile({ optimizer: tf.train.sgd(0.05), loss: 'meanSquaredError' });
    const xs = tf.tensor(gaussian(rnd, 16 * 10, 0.5, 2), [16, 10]);
    const ys = tf.tensor(gaussian(rnd, 16 * 3), [16, 3]);
    await m.trainOnBatch(xs, ys); // compiles pipelines and fills caches and pools
    const gpu = gpuOfBackend(backend);
    const [tensors, buffers] = [tf.memory().numTensors, gpu.liveBuffers];
    const losses: number[] = [];
    for (let step = 0; step < 100; step++) losses.push((await m.trainOnBatch(xs, ys)) as number);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(gpu.liveBuffers).toBe(buffers);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
    tf.dispose([xs, ys]);
    m.dispose();
  });
});

describe('a webgpu backend under another name', () => {
  it("gets the kernels too: a WebGPUBackend on tfjs's device registered as 'webgpu-elsewhere'", async () => {
    const name = 'webgpu-elsewhere';
    // As tfjs-backend-webgpu registers its kernels for 'webgpu' only, a user copies them to the new name.
    for (const kernel of tf.getKernelsForBackend('webgpu')) if (!tf.getKernel(kernel.kernelName, name)) tf.registerKernel({ ...kernel, backendName: name });
    tf.registerBackend(name, () => new WebGPUBackend(backend.device));
    const warn = vi.spyOn(console, 'warn');
    try {
      expect(await tf.setBackend(name)).toBe(true);
      const shape = [12, 5];
      const params = randomParams(85, 5);
      const x = gaussian(seededRandom(86), 60, 0.5, 2);
      const { ours } = pair({ momentum: 0.9 }, shape, params);
      const xT = tf.tensor(x, shape);
      const y = ours.apply(xT, { training: true }) as tf.Tensor;
      const ref = batchNormReference(x, shape, { training: true, weight: params.gamma, bias: params.beta, eps: 1e-3, axis: -1 });
      compareElements('y', await read(y), ref.y, yTolerance(x, shape, ref, params.gamma, params.beta, -1));
      expect(warn.mock.calls.filter(([message]) => String(message).startsWith('webgpu-batchnorm/tfjs'))).toEqual([]);
      tf.dispose([xT, y]);
    } finally {
      warn.mockRestore();
      await tf.setBackend('webgpu');
      tf.removeBackend(name); // disposes that backend's buffer pool; the device stays tfjs's
    }
  });
});

describe("tfjs's own batch norm where our kernels do not run", () => {
  it('on the cpu backend: falls back, warns once, and computes what tf.layers.batchNormalization does', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      await tf.setBackend('cpu');
      const params = randomParams(97, 6);
      const { ours, theirs } = pair({ momentum: 0.9 }, [10, 6], params);
      const xT = tf.tensor(gaussian(seededRandom(98), 60), [10, 6]);
      for (let i = 0; i < 2; i++) {
        const [yOurs, yTheirs] = [ours, theirs].map((layer) => layer.apply(xT, { training: true }) as tf.Tensor);
        expect(await read(yOurs!)).toEqual(await read(yTheirs!));
        tf.dispose([yOurs!, yTheirs!]);
      }
      expect(await weightsOf(ours)).toEqual(await weightsOf(theirs));
      const ourWarnings = warn.mock.calls.filter(([message]) => String(message).startsWith('webgpu-batchnorm/tfjs'));
      expect(ourWarnings).toHaveLength(1);
      expect(String(ourWarnings[0]![0])).toContain("backend is 'cpu'");
      xT.dispose();
    } finally {
      warn.mockRestore();
      await tf.setBackend('webgpu');
    }
  });

  it('one value per channel in training (which the kernels refuse, as PyTorch does): tfjs computes it', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const { ours, theirs } = pair({}, [1, 5], randomParams(99, 5));
      const xT = tf.tensor(gaussian(seededRandom(100), 5), [1, 5]);
      const [yOurs, yTheirs] = [ours, theirs].map((layer) => layer.apply(xT, { training: true }) as tf.Tensor);
      expect(await read(yOurs!)).toEqual(await read(yTheirs!));
      expect(warn.mock.calls.some(([message]) => String(message).includes('one value per channel'))).toBe(true);
      tf.dispose([xT, yOurs!, yTheirs!]);
    } finally {
      warn.mockRestore();
    }
  });
});
