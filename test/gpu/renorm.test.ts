// Batch renormalization on the GPU (BatchNorm's and BatchNorm.keras's `renorm`) against Keras 3's float64
// reference (src/reference/renorm.ts), over several training steps: y, the seven weights after each step,
// dx/dgamma/dbeta, then inference. Each step's reference starts from the weights the GPU holds (read back),
// so the bounds are one step's (src/reference/tolerances.ts, renormTolerances). The data of a step is drawn
// around the layer's renorm statistics before it, far off them (r and d clipped) or near them (not), so
// that clipping is active in some steps and not in others by construction.
import { describe, expect, it } from 'vitest';
import { BatchNorm, Tensor, type Gpu } from '../../src/index.js';
import { batchNormReference, kerasRenormBackwardReference, kerasRenormReference, type KerasRenormState, type RenormClipping } from '../../src/reference.js';
import { renormBackwardTolerances, renormTolerances, withHalfRounding } from '../../src/reference/tolerances.js';
import { compareElements } from '../support/compare.js';
import { compareY } from '../support/tolerances.js';
import { gaussian, seededRandom, uniform } from '../support/random.js';
import { inErrorScopes, testGpu } from './gpu-context.js';

const STEPS = 4;
const LEARNING_RATE = 0.1;

interface Case {
  readonly name: string;
  readonly shape: readonly number[];
  readonly axis: number;
  readonly dtype: 'f32' | 'f16';
  readonly make: (gpu: Gpu) => BatchNorm<boolean, boolean>;
  readonly epsilon: number;
  /** Keras's convention (the weight of the old value); for a cumulative average, of batch n (1-based). */
  readonly momentum: (n: number) => number;
  readonly renormMomentum: number;
  readonly clipping: RenormClipping | null;
  readonly relu?: boolean;
  /** Steps whose data lie far off the renorm statistics. */
  readonly far: readonly boolean[];
  /** Their spread, in units of renorm_stddev; default 3 (r above rmax). */
  readonly farSpread?: number;
  /** Keras's mask of a sequence batch (N, T, C): each sample keeps a prefix of random length. */
  readonly masked?: boolean;
  /** The device: without subgroups, or with windows of this many bytes (x chunked); default subgroups, whole. */
  readonly device?: { readonly subgroups: boolean; readonly maxBindingBytes?: number };
}

const CLIPPING = { rmin: 0.5, rmax: 2, dmax: 1.5 };
const CASES: Case[] = [
  {
    name: 'keras NHWC f32, clipped',
    shape: [4, 3, 4, 3],
    axis: -1,
    dtype: 'f32',
    make: (gpu) => BatchNorm.keras(gpu, 3, { renorm: true, renormClipping: CLIPPING, momentum: 0.9, renormMomentum: 0.8 }),
    epsilon: 1e-3,
    momentum: () => 0.9,
    renormMomentum: 0.8,
    clipping: CLIPPING,
    far: [true, false, true, false],
  },
  {
    name: 'keras (N, T, C) f32 sequences with a mask, clipped',
    shape: [5, 8, 3],
    axis: -1,
    dtype: 'f32',
    make: (gpu) => BatchNorm.keras(gpu, 3, { renorm: true, renormClipping: CLIPPING, renormMomentum: 0.7 }),
    epsilon: 1e-3,
    momentum: () => 0.99,
    renormMomentum: 0.7,
    clipping: CLIPPING,
    masked: true,
    far: [true, false, true, false],
  },
  {
    name: 'keras NHWC f16, center: false, rmax and dmax only',
    shape: [8, 5, 4],
    axis: -1,
    dtype: 'f16',
    make: (gpu) => BatchNorm.keras(gpu, 4, { renorm: true, center: false, renormClipping: { rmax: 1.5, dmax: 1 } }),
    epsilon: 1e-3,
    momentum: () => 0.99,
    renormMomentum: 0.99,
    clipping: { rmax: 1.5, dmax: 1 },
    far: [false, true, true, false],
  },
  {
    name: 'keras (N, C) f32, scale: false, no clipping',
    shape: [32, 3],
    axis: -1,
    dtype: 'f32',
    make: (gpu) => BatchNorm.keras(gpu, 3, { renorm: true, scale: false, renormMomentum: 0.5 }),
    epsilon: 1e-3,
    momentum: () => 0.99,
    renormMomentum: 0.5,
    clipping: null,
    far: [true, false, true, false],
  },
  {
    name: 'new BatchNorm NCHW f32, relu, clipped',
    shape: [4, 3, 5, 5],
    axis: 1,
    dtype: 'f32',
    make: (gpu) => new BatchNorm(gpu, 3, { renorm: true, renormClipping: CLIPPING, momentum: 0.1, renormMomentum: 0.3, activation: 'relu' }),
    epsilon: 1e-5,
    momentum: () => 0.9,
    renormMomentum: 0.7,
    clipping: CLIPPING,
    relu: true,
    far: [true, true, false, true],
  },
  {
    name: 'new BatchNorm NCHW f16, affine: false, cumulative average, rmin only',
    shape: [6, 2, 3, 3],
    axis: 1,
    dtype: 'f16',
    make: (gpu) => new BatchNorm(gpu, 2, { renorm: true, affine: false, momentum: null, renormClipping: { rmin: 0.9 } }),
    epsilon: 1e-5,
    momentum: (n) => 1 - 1 / n,
    renormMomentum: 0.99,
    clipping: { rmin: 0.9 },
    far: [false, true, false, true],
    farSpread: 0.3,
  },
  {
    name: 'new BatchNorm NCHW f32 in windows of 1024 bytes, workgroup memory',
    shape: [2, 3, 15, 15],
    axis: 1,
    dtype: 'f32',
    make: (gpu) => new BatchNorm(gpu, 3, { renorm: true, renormClipping: CLIPPING }),
    epsilon: 1e-5,
    momentum: () => 0.9,
    renormMomentum: 0.99,
    clipping: CLIPPING,
    far: [true, false, false, true],
    device: { subgroups: false, maxBindingBytes: 1024 },
  },
  {
    name: 'keras channels-last f16 in windows of 1024 bytes, 24 channels',
    shape: [3, 40, 24],
    axis: -1,
    dtype: 'f16',
    make: (gpu) => BatchNorm.keras(gpu, 24, { renorm: true, renormClipping: CLIPPING, renormMomentum: 0.6 }),
    epsilon: 1e-3,
    momentum: () => 0.99,
    renormMomentum: 0.6,
    clipping: CLIPPING,
    far: [false, true, false, true],
    device: { subgroups: true, maxBindingBytes: 1024 },
  },
];

/** The module's weights under the reference's names, read back through its state dict (PyTorch's keys). */
async function readState(
  bn: BatchNorm<boolean, boolean>,
): Promise<KerasRenormState & { gamma: Float32Array | null; beta: Float32Array | null; movingVariance: Float32Array }> {
  const s = await bn.stateDict();
  return {
    gamma: s.weight ?? null,
    beta: s.bias ?? null,
    movingMean: s.running_mean!,
    movingVariance: s.running_var!,
    movingStddev: s.running_stddev!,
    renormMean: s.renorm_mean!,
    renormStddev: s.renorm_stddev!,
  };
}

/** x in (N, C, *) or channels-last order: channel c drawn as N(mean[c], std[c]). */
function batch(rnd: () => number, shape: readonly number[], axis: number, mean: readonly number[], std: readonly number[]): Float32Array {
  const channels = shape.at(axis)!;
  const after = axis === -1 ? 1 : shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  return Float32Array.from(gaussian(rnd, shape.reduce((a, b) => a * b, 1)), (v, i) => {
    const c = Math.floor(i / after) % channels;
    return mean[c]! + std[c]! * v;
  });
}

const clipped = (value: number, bound: number | undefined, side: 'min' | 'max') => bound !== undefined && (side === 'min' ? value <= bound : value >= bound);

describe('BatchNorm with renorm against the float64 reference of Keras 3', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const gpu = await testGpu(c.device?.subgroups ?? true, c.device?.maxBindingBytes);
      await inErrorScopes(gpu, async () => {
        const rnd = seededRandom(c.shape.length * 100 + c.shape[0]!);
        const bn = c.make(gpu);
        expect(bn.renorm).toBe(true);
        const channels = bn.numFeatures;
        const { shape, axis } = c;
        const options = {
          axis,
          epsilon: c.epsilon,
          renormMomentum: c.renormMomentum,
          renormClipping: c.clipping,
          center: bn.bias !== null,
          scale: bn.weight !== null,
        };
        const activity = { clipped: 0, free: 0 };
        let x = new Float32Array(0);
        for (let step = 0; step < STEPS; step++) {
          const what = `${c.name} step ${step + 1}`;
          const before = await readState(bn);
          const s = Array.from(before.renormStddev, (v) => Math.max(v, Math.sqrt(c.epsilon)));
          const far = c.far[step]!;
          const xT = Tensor.fromArray(
            gpu,
            batch(rnd, shape, axis, s.map((v, ch) => before.renormMean[ch]! + (far ? 3 : 0.3) * v * (ch % 2 ? -1 : 1)), s.map((v) => (far ? (c.farSpread ?? 3) : 1.1) * v)),
            shape,
            { dtype: c.dtype },
          );
          x = await xT.toArray(); // the values the GPU holds (rounded to f16 for an f16 x)
          const [N, T] = shape as [number, number];
          const mask = c.masked ? Float32Array.from({ length: N * T }, (_, i) => (i % T <= (Math.floor(i / T) * 3) % T ? 1 : 0)) : null;
          const maskT = mask ? Tensor.fromArray(gpu, mask, [N, T]) : null;
          const yT = bn.forward(xT, { mask: maskT });
          const y = await yT.toArray();
          const ref = kerasRenormReference(x, shape, before, { ...options, momentum: c.momentum(step + 1), mask });
          const expectedY = c.relu ? ref.y.map((v) => Math.max(v, 0)) : ref.y;
          const tolerances = renormTolerances({ x, shape, axis, epsilon: c.epsilon, ...before }, ref);
          compareElements(`${what} y`, y, expectedY, c.dtype === 'f16' ? withHalfRounding(tolerances.y, expectedY) : tolerances.y);
          const after = await readState(bn);
          for (const key of ['movingMean', 'movingVariance', 'movingStddev', 'renormMean', 'renormStddev'] as const) {
            compareElements(`${what} ${key}`, after[key], ref.weights[key], tolerances[key]);
          }
          expect(after.gamma, what).toEqual(before.gamma);
          expect(after.beta, what).toEqual(before.beta);
          if (c.clipping) {
            const sigma = Array.from(ref.saveInvstd, (v) => 1 / v);
            const any = Array.from({ length: channels }, (_, ch) => {
              const r = sigma[ch]! / s[ch]!;
              const d = Math.abs(ref.saveMean[ch]! - before.renormMean[ch]!) / s[ch]!;
              return clipped(r, c.clipping!.rmin, 'min') || clipped(r, c.clipping!.rmax, 'max') || clipped(d, c.clipping!.dmax, 'max');
            }).some(Boolean);
            activity[any ? 'clipped' : 'free']++;
            expect(any, `${what}: clipping active`).toBe(far);
          }

          // Backward, r and d constants; the reference fed the statistics, r and d rounded to float32.
          const dy = uniform(rnd, x.length, -1, 1);
          const dyT = Tensor.fromArray(gpu, dy, shape, { dtype: c.dtype });
          const dyValues = await dyT.toArray();
          const grads = bn.backward(dyT);
          const masked = c.relu ? dyValues.map((v, i) => (y[i]! > 0 ? v : 0)) : dyValues;
          const f32 = (v: ArrayLike<number>) => Float32Array.from(v);
          const refGrads = kerasRenormBackwardReference(masked, x, shape, {
            gamma: before.gamma, center: options.center, saveMean: f32(ref.saveMean), saveInvstd: f32(ref.saveInvstd), r: f32(ref.r), d: f32(ref.d), axis, mask,
          });
          const stats = { saveMean: f32(ref.saveMean), saveInvstd: f32(ref.saveInvstd) };
          const weight = Array.from(ref.r, (r, ch) => r * (before.gamma ? before.gamma[ch]! : 1));
          const bt = renormBackwardTolerances(
            { dy: dyValues, x, shape, weight, training: true, axis, mask, ...(c.relu ? { reluOutput: y } : {}) },
            stats,
            ref,
            tolerances,
          );
          compareElements(`${what} dx`, await grads.dx.toArray(), refGrads.dx, c.dtype === 'f16' ? withHalfRounding(bt.dx, refGrads.dx) : bt.dx);
          expect(grads.dweight === null, what).toBe(bn.weight === null);
          expect(grads.dbias === null, what).toBe(bn.bias === null);
          if (grads.dweight) compareElements(`${what} dgamma`, await grads.dweight.toArray(), refGrads.dgamma!, bt.dgamma);
          if (grads.dbias) compareElements(`${what} dbeta`, await grads.dbias.toArray(), refGrads.dbeta!, bt.dbeta);

          // An optimizer's step, so that gamma and beta differ from step to step.
          if (bn.weight && grads.dweight) {
            const dg = await grads.dweight.toArray();
            bn.weight.write(before.gamma!.map((g, ch) => g - LEARNING_RATE * dg[ch]!));
          }
          if (bn.bias && grads.dbias) {
            const db = await grads.dbias.toArray();
            bn.bias.write(before.beta!.map((b, ch) => b - LEARNING_RATE * db[ch]!));
          }
          for (const t of [xT, yT, dyT, maskT, grads.dx, grads.dweight, grads.dbias]) t?.destroy();
        }
        if (c.clipping) expect(activity.clipped > 0 && activity.free > 0, c.name).toBe(true);

        // Inference: plain batch norm with moving_mean and moving_variance.
        bn.eval();
        const w = await readState(bn);
        const xT = Tensor.fromArray(gpu, x, shape, { dtype: c.dtype });
        const yT = bn.forward(xT);
        const ref = batchNormReference(x, shape, {
          training: false, runningMean: w.movingMean, runningVar: w.movingVariance, weight: w.gamma, bias: w.beta, eps: c.epsilon, axis, ...(c.relu ? { activation: 'relu' as const } : {}),
        });
        compareY(`${c.name} inference`, await yT.toArray(), x, shape, ref, w.gamma, w.beta, axis, c.dtype);
        for (const t of [xT, yT]) t.destroy();
        bn.destroy();
      });
    });
  }
});

describe('BatchNorm with renorm: recording, state, options', () => {
  it("records forward and backward into the caller's encoder with the results of submitting at once", async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const shape = [6, 4, 3];
      const rnd = seededRandom(91);
      const [x, dy] = [gaussian(rnd, 72, 1, 2), gaussian(rnd, 72)];
      for (const options of [{}, { scale: false }, { scale: false, center: false }]) {
        const what = `keras ${JSON.stringify(options)}`;
        const [direct, recorded] = [0, 1].map(() => BatchNorm.keras(gpu, 3, { renorm: true, renormClipping: { rmax: 1.2, dmax: 0.5 }, ...options }));
        const [xT, dyT] = [Tensor.fromArray(gpu, x, shape), Tensor.fromArray(gpu, dy, shape)];
        const results = [];
        for (const bn of [direct!, recorded!]) {
          const encoder = bn === recorded ? gpu.device.createCommandEncoder() : undefined;
          const y = bn.forward(xT, encoder ? { encoder } : {});
          const grads = bn.backward(dyT, encoder ? { encoder } : {});
          if (encoder) gpu.device.queue.submit([encoder.finish()]);
          const read = async (t: Tensor | null) => (t ? Array.from(await t.toArray()) : null);
          results.push({ y: await read(y), dx: await read(grads.dx), dweight: await read(grads.dweight), dbias: await read(grads.dbias), weights: await bn.getWeights() });
          for (const t of [y, grads.dx, grads.dweight, grads.dbias]) t?.destroy();
          bn.destroy();
        }
        expect(results[1], what).toEqual(results[0]);
        xT.destroy();
        dyT.destroy();
      }
    });
  });

  it("moves its seven weights in Keras's order and its state under running_stddev, renorm_mean and renorm_stddev, through JSON", async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const shape = [8, 3];
      const rnd = seededRandom(5);
      const xT = Tensor.fromArray(gpu, gaussian(rnd, 24, 2, 3), shape);
      const options = { renorm: true, renormClipping: { rmin: 0.5, rmax: 1.5 }, renormMomentum: 0.5 } as const;
      const bn = BatchNorm.keras(gpu, 3, options);
      expect(bn.renormMomentum).toBe(0.5);
      expect(bn.renormClipping).toEqual({ rmin: 0.5, rmax: 1.5, dmax: null });
      expect(await bn.getWeights()).toEqual([[1, 1, 1], [0, 0, 0], [0, 0, 0], [1, 1, 1], [1, 1, 1], [0, 0, 0], [1, 1, 1]].map((w) => Float32Array.from(w)));
      for (let step = 0; step < 2; step++) bn.forward(xT).destroy();

      const state = await bn.stateDict();
      expect(Object.keys(state)).toEqual(['weight', 'bias', 'running_mean', 'running_var', 'running_stddev', 'renorm_mean', 'renorm_stddev', 'num_batches_tracked']);
      const weights = await bn.getWeights();
      expect(weights).toEqual([state.weight, state.bias, state.running_mean, state.running_var, state.running_stddev, state.renorm_mean, state.renorm_stddev]);
      const loaded = BatchNorm.keras(gpu, 3, options);
      loaded.loadStateDict(JSON.parse(JSON.stringify(state)));
      expect(await loaded.stateDict()).toEqual(state);
      const set = BatchNorm.keras(gpu, 3, options);
      set.setWeights(weights);
      expect(await set.getWeights()).toEqual(weights);
      expect(() => set.setWeights(weights.slice(0, 4))).toThrow(
        'BatchNorm.setWeights got a list of 4 weights, but this layer has 7: [gamma, beta, moving_mean, moving_variance, moving_stddev, renorm_mean, renorm_stddev]',
      );
      // The same state makes the same next step, and the same inference.
      const next = await Promise.all([bn, loaded, set].map(async (m) => Array.from(await m.forward(xT).toArray())));
      expect(next[1]).toEqual(next[0]);
      expect(next[2]).toEqual(next[0]);
      const inferred = await Promise.all([bn, loaded, set].map(async (m) => Array.from(await m.eval().forward(xT).toArray())));
      expect(inferred[1]).toEqual(inferred[0]);
      expect(inferred[2]).toEqual(inferred[0]);

      // A module without renorm keeps its keys, and refuses renorm's (and the other way round).
      const plain = BatchNorm.keras(gpu, 3);
      expect(Object.keys(await plain.stateDict())).toEqual(['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
      expect((await plain.getWeights()).length).toBe(4);
      expect(plain.renorm).toBe(false);
      expect([plain.runningStddev, plain.renormMean, plain.renormStddev, plain.renormClipping, plain.renormMomentum]).toEqual([null, null, null, null, null]);
      expect(() => plain.loadStateDict(state)).toThrow(
        "BatchNorm.loadStateDict: unexpected key(s) 'running_stddev' (this module has no batch renormalization: renorm: false), 'renorm_mean' " +
          "(this module has no batch renormalization: renorm: false), 'renorm_stddev' (this module has no batch renormalization: renorm: false)",
      );
      const plainState = await plain.stateDict();
      expect(() => loaded.loadStateDict(plainState)).toThrow("missing key(s) 'running_stddev', 'renorm_mean', 'renorm_stddev'");
      for (const m of [bn, loaded, set, plain]) m.destroy();
      expect(bn.renormMean!.isDestroyed).toBe(true);
      xT.destroy();
    });
  });

  it('refuses bad renorm options with messages that name them', async () => {
    const gpu = await testGpu(true);
    const make = (options: object) => () => new BatchNorm(gpu, 3, options);
    const keras = (options: object) => () => BatchNorm.keras(gpu, 3, options);
    expect(make({ renorm: 'yes' })).toThrow("BatchNorm options.renorm must be true or false, got 'yes'");
    expect(make({ renorm: true, trackRunningStats: false })).toThrow('BatchNorm options.renorm needs running statistics (trackRunningStats: true)');
    expect(make({ renormClipping: { rmax: 2 } })).toThrow('BatchNorm options.renormClipping is read only with renorm: true');
    expect(make({ renormMomentum: 0.1 })).toThrow('BatchNorm options.renormMomentum is read only with renorm: true');
    expect(make({ renorm: true, renormMomentum: 1.5 })).toThrow(
      'BatchNorm options.renormMomentum must be in [0, 1] (the weight of the batch statistics in renormMean and renormStddev), got 1.5',
    );
    expect(make({ renorm: true, renormMomentum: null })).toThrow('BatchNorm options.renormMomentum must be in [0, 1]');
    expect(make({ renorm: true, renormClipping: { rmin: 2, rmax: 1 } })).toThrow('BatchNorm options.renormClipping.rmax (1) is below rmin (2); r would have no value');
    expect(make({ renorm: true, renormClipping: { dmax: -1 } })).toThrow('BatchNorm options.renormClipping.dmax must be >= 0');
    expect(make({ renorm: true, renormClipping: { rmax: '2' } })).toThrow("BatchNorm options.renormClipping.rmax must be a number, got '2'");
    expect(make({ renorm: true, renormClipping: { r_max: 2 } })).toThrow("BatchNorm options.renormClipping has an unknown key 'r_max'");
    expect(keras({ renorm: 1 })).toThrow('BatchNorm.keras options.renorm must be true or false, got 1');
    expect(keras({ renorm: true, renormMomentum: 2 })).toThrow(
      "BatchNorm.keras options.renormMomentum must be in [0, 1] (Keras's convention: moving = momentum*moving + (1 - momentum)*batch), got 2",
    );
    expect(keras({ renorm: true, renormClipping: { dmax: Number.NaN } })).toThrow('BatchNorm.keras options.renormClipping.dmax must be a number, got NaN');
    expect(keras({ renormClipping: { dmax: 1 } })).toThrow('BatchNorm.keras options.renormClipping is read only with renorm: true');
    expect(keras({ renorm: false, renormMomentum: 0.9 })).toThrow('BatchNorm.keras options.renormMomentum is read only with renorm: true');
  });
});
