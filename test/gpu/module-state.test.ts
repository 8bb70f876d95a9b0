// The BatchNorm module's state in and out: PyTorch's state_dict (stateDict/loadStateDict, strict, through
// JSON) and Keras's weights (getWeights/setWeights, BatchNorm.keras with Keras's defaults and conventions).
// Loading counts as a write of each tensor, so backward refuses a forward from before it.
import { describe, expect, it } from 'vitest';
import {
  BatchNorm,
  Tensor,
  requestGpu,
} from '../../src/index.js';
import { batchNormBackwardReference, batchNormReference, channelMoments } from '../../src/reference.js';
import { meanTolerance, relativeTolerance } from '../../src/reference/tolerances.js';
import { compareElements } from '../support/compare.js';
import { compareBackward, compareY } from '../support/tolerances.js';
import { gaussian, seededRandom } from '../support/random.js';
import { inErrorScopes, testGpu } from './gpu-context.js';

// ---- A state produced by PyTorch's formulas ----------------------------------------------------------------
// Origin: nn.BatchNorm2d(4) (momentum 0.1, eps 1e-5) after 3 training steps on the batches of
// `originBatch(seededRandom(2718), step)` for step = 1, 2, 3 (shape [8,4,3,3]), starting from PyTorch's
// initial running_mean 0 and running_var 1. The running statistics follow PyTorch's update rule
// running = (1 - momentum)*running + momentum*batch with the unbiased batch variance (N*H*W/(N*H*W - 1)),
// computed once in float64 with this repository's reference (batchNormReference) and pasted here with all
// their digits; PyTorch itself would store them in float32. weight and bias are arbitrary values standing for
// an optimizer's work (not trained here). As torch.save'd then exported with `.tolist()` / `.item()`.
const PYTORCH_STATE = {
  weight: [1.25, 0.5, -0.75, 2],
  bias: [0.1, -0.2, 0.3, 0],
  running_mean: [-0.40837891763158973, 0.29113665151787504, 0.9601827968545517, 2.838447535026405],
  running_var: [0.8298191300227531, 1.1749369183769638, 2.4899183335640025, 6.978030588765144],
  num_batches_tracked: 3,
};
const ORIGIN_SHAPE = [8, 4, 3, 3];
const ORIGIN_MEANS = [-2, 0.5, 3, 10];
const ORIGIN_STDS = [0.5, 1, 2, 4];

/** Batch `step` of the literal state's origin: each channel its own mean and spread, both moving with the step. */
function originBatch(rnd: () => number, step: number): Float32Array {
  const [n, c, h, w] = ORIGIN_SHAPE as [number, number, number, number];
  const base = gaussian(rnd, n * c * h * w);
  return Float32Array.from(base, (v, i) => {
    const ch = Math.floor(i / (h * w)) % c;
    return v * ORIGIN_STDS[ch]! * (1 + 0.1 * step) + ORIGIN_MEANS[ch]! + 0.25 * step;
  });
}

describe('BatchNorm.stateDict / loadStateDict (PyTorch)', () => {
  it('loads a state computed with PyTorch\'s update rule and infers with it as the reference does', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const bn = new BatchNorm(gpu, 4);
      bn.loadStateDict(JSON.parse(JSON.stringify(PYTORCH_STATE)));
      expect(bn.numBatchesTracked).toBe(3);
      const state = await bn.stateDict();
      expect(Object.keys(state)).toEqual(['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
      for (const key of ['weight', 'bias', 'running_mean', 'running_var'] as const) {
        expect(state[key]).toEqual(Float32Array.from(PYTORCH_STATE[key]));
      }
      expect(state.num_batches_tracked).toBe(3);

      bn.eval();
      const shape = ORIGIN_SHAPE;
      const xs = originBatch(seededRandom(99), 2);
      const xT = Tensor.fromArray(gpu, xs, shape);
      const y = bn.forward(xT);
      const { weight, bias, running_mean: runningMean, running_var: runningVar } = PYTORCH_STATE;
      const ref = batchNormReference(xs, shape, { training: false, runningMean, runningVar, weight, bias });
      compareY('eval with the loaded state', await y.toArray(), xs, shape, ref, weight, bias);

      // A training step continues from the loaded statistics (momentum 0.1, unbiased variance).
      bn.train();
      const y2 = bn.forward(xT);
      const ref2 = batchNormReference(xs, shape, { training: true, runningMean, runningVar, weight, bias });
      compareY('training step after loading', await y2.toArray(), xs, shape, ref2, weight, bias);
      compareElements('runningMean after a step', await bn.runningMean!.toArray(), ref2.runningMean!, meanTolerance(ref2.runningMean!, ref2.saveInvstd));
      compareElements('runningVar after a step', await bn.runningVar!.toArray(), ref2.runningVar!, relativeTolerance(ref2.runningVar!));
      expect(bn.numBatchesTracked).toBe(4);

      // The literals are what this module's own training on their origin batches gives.
      const trained = new BatchNorm(gpu, 4);
      const rnd = seededRandom(2718);
      let last: ReturnType<typeof batchNormReference> | null = null;
      let rm: Float64Array = new Float64Array(4);
      let rv: Float64Array = new Float64Array(4).fill(1);
      for (let step = 1; step <= 3; step++) {
        const xb = originBatch(rnd, step);
        const xbT = Tensor.fromArray(gpu, xb, ORIGIN_SHAPE);
        const yb = trained.forward(xbT);
        last = batchNormReference(xb, ORIGIN_SHAPE, { training: true, runningMean: rm, runningVar: rv });
        compareY(`origin step ${step}`, await yb.toArray(), xb, ORIGIN_SHAPE, last, null, null);
        rm = last.runningMean!;
        rv = last.runningVar!;
        for (const t of [xbT, yb]) t.destroy();
      }
      expect(Array.from(rm)).toEqual(PYTORCH_STATE.running_mean);
      expect(Array.from(rv)).toEqual(PYTORCH_STATE.running_var);
      const ours = await trained.stateDict();
      compareElements('trained running_mean vs literal', ours.running_mean!, PYTORCH_STATE.running_mean, meanTolerance(rm, last!.saveInvstd));
      compareElements('trained running_var vs literal', ours.running_var!, PYTORCH_STATE.running_var, relativeTolerance(rv));
      expect(ours.num_batches_tracked).toBe(3);
      for (const t of [xT, y, y2]) t.destroy();
      bn.destroy();
      trained.destroy();
    });
  });

  it('round-trips a trained module through JSON: identical state and identical eval output', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const rnd = seededRandom(31);
      const shape = [6, 3, 5];
      for (const options of [{}, { momentum: null }, { affine: false }, { trackRunningStats: false }, { affine: false, trackRunningStats: false }]) {
        const a = new BatchNorm(gpu, 3, options);
        for (let step = 1; step <= 2; step++) {
          const x = gaussian(rnd, 6 * 3 * 5, step, 1 + step);
          const xT = Tensor.fromArray(gpu, x, shape);
          const y = a.forward(xT);
          for (const t of [xT, y]) t.destroy();
        }
        if (a.weight) {
          // Parameters an optimizer would have moved.
          a.loadStateDict({ ...(await a.stateDict()), weight: [0.5, -1.5, 2.25], bias: new Float64Array([0.125, 1, -3]) });
        }
        const stateA = await a.stateDict();
        const keys = [...(a.weight ? ['weight', 'bias'] : []), ...(a.runningMean ? ['running_mean', 'running_var', 'num_batches_tracked'] : [])];
        expect(Object.keys(stateA), JSON.stringify(options)).toEqual(keys);
        if (a.runningMean) expect(stateA.num_batches_tracked).toBe(2);

        const json = JSON.stringify(stateA); // as it is: the dict writes its typed arrays as plain arrays
        const b = new BatchNorm(gpu, 3, options);
        b.loadStateDict(JSON.parse(json));
        expect(await b.stateDict()).toEqual(stateA);
        expect(b.numBatchesTracked).toBe(a.numBatchesTracked);

        a.eval();
        b.eval();
        const x = gaussian(rnd, 6 * 3 * 5, 1, 2);
        const xT = Tensor.fromArray(gpu, x, shape);
        const [ya, yb] = [a.forward(xT), b.forward(xT)];
        const yaValues = await ya.toArray();
        expect(await yb.toArray()).toEqual(yaValues);
        const weight = stateA.weight ?? null;
        const bias = stateA.bias ?? null;
        const ref = stateA.running_mean
          ? batchNormReference(x, shape, { training: false, runningMean: stateA.running_mean, runningVar: stateA.running_var!, weight, bias })
          : batchNormReference(x, shape, { training: true, weight, bias });
        compareY(`round-tripped eval ${JSON.stringify(options)}`, yaValues, x, shape, ref, weight, bias);
        for (const t of [xT, ya, yb]) t.destroy();
        a.destroy();
        b.destroy();
        await expect(a.stateDict()).rejects.toThrow('BatchNorm.stateDict: this BatchNorm module was destroyed');
        expect(() => a.loadStateDict(stateA)).toThrow('BatchNorm.loadStateDict: this BatchNorm module was destroyed');
      }
    });
  });

  it('round-trips NaN and the infinities through JSON as their names, and reads a state dumped by Python', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const a = new BatchNorm(gpu, 4);
      a.loadStateDict({
        weight: [1.5, Number.NaN, -0, 3e-39], // -0 and a subnormal survive too
        bias: [Infinity, -Infinity, 0.1, -2],
        running_mean: [0, 1, 2, 3],
        running_var: [1, Number.NaN, 0.25, 4],
        num_batches_tracked: 7,
      });
      const state = await a.stateDict();
      const json = JSON.stringify(state);
      expect(json).toContain('"weight":[1.5,"NaN",0,');
      expect(json).toContain('"bias":["Infinity","-Infinity",');
      const b = new BatchNorm(gpu, 4);
      b.loadStateDict(JSON.parse(json));
      const back = await b.stateDict();
      for (const key of ['weight', 'bias', 'running_mean', 'running_var'] as const) {
        // Bit for bit, but for the sign of zero, which JSON does not write.
        expect(Array.from(back[key]!, (v) => (Object.is(v, -0) ? 0 : v)), key).toEqual(Array.from(state[key]!, (v) => (Object.is(v, -0) ? 0 : v)));
      }
      expect(back.num_batches_tracked).toBe(7);

      // What `json.dump({k: v.tolist() for k, v in bn.state_dict().items()}, f)` writes for nn.BatchNorm1d(3):
      // floats with a decimal point, num_batches_tracked an int.
      const python = '{"weight": [1.0, 0.5, -2.0], "bias": [0.0, 0.125, 1.0], "running_mean": [0.10000000149011612, -0.5, 3.0], ' +
        '"running_var": [0.9900000095367432, 1.0, 4.5], "num_batches_tracked": 12}';
      const c = new BatchNorm(gpu, 3);
      c.loadStateDict(JSON.parse(python));
      const loaded = await c.stateDict();
      expect(Array.from(loaded.running_mean!)).toEqual([0.10000000149011612, -0.5, 3]);
      expect(Array.from(loaded.running_var!)).toEqual([0.9900000095367432, 1, 4.5]);
      expect(c.numBatchesTracked).toBe(12);

      // What JSON makes of a typed array on its own, and of NaN written as a number: refused, saying why.
      const own = JSON.parse(JSON.stringify({ ...state, weight: state.weight })); // the spread drops the dict's toJSON
      expect(() => b.loadStateDict(own)).toThrow(
        /state_dict\['weight'\] must be an array or a typed array of numbers, got an object with keys \[0, 1, 2, 3\] \(JSON\.stringify writes a typed array so: write Array\.from\(values\) instead\)/,
      );
      const nulls = JSON.parse(JSON.stringify({ ...JSON.parse(json), running_var: [1, Number.NaN, 0.25, 4] }));
      expect(() => b.loadStateDict(nulls)).toThrow(/state_dict\['running_var'\]\[1\] must be a number, got null \(JSON\.stringify writes NaN/);
      expect(() => b.loadStateDict({ ...JSON.parse(json), bias: ['inf', 0, 0, 0] })).toThrow("state_dict['bias'][0] must be a number, got 'inf'");
      for (const m of [a, b, c]) m.destroy();
    });
  });

  it('refuses a bad state dict with a message that names the problem, and writes nothing', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const bn = new BatchNorm(gpu, 4);
      const before = await bn.stateDict();
      const versions = () => [bn.weight, bn.bias, bn.runningMean, bn.runningVar].map((t) => t!.version);
      const versionsBefore = versions();
      const load = (changes: Record<string, unknown>, remove: string[] = []) => () => {
        const dict: Record<string, unknown> = { ...PYTORCH_STATE, ...changes };
        for (const key of remove) delete dict[key];
        bn.loadStateDict(dict as never);
      };
      // lengths
      expect(load({ weight: [1, 2, 3] })).toThrow("BatchNorm.loadStateDict: state_dict['weight'] has 3 elements but the module has numFeatures = 4");
      expect(load({ running_var: new Float32Array(5) })).toThrow("state_dict['running_var'] has 5 elements but the module has numFeatures = 4");
      // missing and unknown keys
      expect(load({}, ['running_var'])).toThrow(
        "BatchNorm.loadStateDict: missing key(s) 'running_var'. This module's keys are 'weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked'",
      );
      expect(load({}, ['num_batches_tracked'])).toThrow("missing key(s) 'num_batches_tracked'");
      expect(load({ 'running_mean ': PYTORCH_STATE.running_mean }, ['running_mean'])).toThrow(
        "BatchNorm.loadStateDict: unexpected key(s) 'running_mean '; missing key(s) 'running_mean'.",
      );
      expect(load({ runningMean: PYTORCH_STATE.running_mean }, ['running_mean'])).toThrow("unexpected key(s) 'runningMean'; missing key(s) 'running_mean'");
      expect(load({ momentum: 0.1 })).toThrow("unexpected key(s) 'momentum'.");
      // types
      expect(load({ weight: 'abc' })).toThrow("state_dict['weight'] must be an array or a typed array of numbers, got 'abc'");
      expect(load({ bias: null })).toThrow("state_dict['bias'] must be an array or a typed array of numbers, got null");
      expect(load({ bias: { 0: 1, 1: 2, 2: 3, 3: 4, length: 4 } })).toThrow("state_dict['bias'] must be an array or a typed array of numbers, got an object");
      expect(load({ weight: [1, '2', 3, 4] })).toThrow("state_dict['weight'][1] must be a number, got '2'");
      expect(load({ running_mean: [0, 0, null, 0] })).toThrow("state_dict['running_mean'][2] must be a number, got null");
      expect(load({ running_mean: new BigInt64Array(4) })).toThrow("state_dict['running_mean'] must be an array or a typed array of numbers, got a BigInt64Array");
      for (const n of [-1, 2.5, '3', null, [3], Infinity]) {
        expect(load({ num_batches_tracked: n })).toThrow(/state_dict\['num_batches_tracked'\] must be a non-negative integer, got /);
      }
      expect(() => bn.loadStateDict(null as never)).toThrow(/BatchNorm.loadStateDict takes an object with keys 'weight', .*, got null/);
      expect(() => bn.loadStateDict([] as never)).toThrow('got an array of length 0');
      // A module without a weight or running statistics names why a known key is unexpected.
      const bare = new BatchNorm(gpu, 4, { affine: false });
      expect(() => bare.loadStateDict(PYTORCH_STATE)).toThrow(
        "BatchNorm.loadStateDict: unexpected key(s) 'weight' (this module has no weight), 'bias' (this module has no bias). This module's keys are 'running_mean', 'running_var', 'num_batches_tracked'",
      );
      const untracked = new BatchNorm(gpu, 4, { trackRunningStats: false });
      expect(() => untracked.loadStateDict(PYTORCH_STATE)).toThrow("unexpected key(s) 'running_mean' (this module keeps no running statistics)");

      // Nothing was written: the same values and versions, and numBatchesTracked untouched.
      expect(await bn.stateDict()).toEqual(before);
      expect(versions()).toEqual(versionsBefore);
      expect(bn.numBatchesTracked).toBe(0);

      // Typed arrays of any float type, and NaN and infinities, load as PyTorch's copy_ would, into the
      // module's own buffers (no new ones).
      const live = gpu.liveBuffers;
      bn.loadStateDict({ ...PYTORCH_STATE, running_mean: new Float64Array([NaN, 1, -Infinity, 2]), running_var: new Float32Array([1, Infinity, 2, 3]) });
      const loaded = await bn.stateDict();
      expect(loaded.running_mean).toEqual(new Float32Array([NaN, 1, -Infinity, 2]));
      expect(loaded.running_var).toEqual(new Float32Array([1, Infinity, 2, 3]));
      expect(versions()).toEqual(versionsBefore.map((v) => v + 1));
      expect(gpu.liveBuffers).toBe(live);
      for (const m of [bn, bare, untracked]) m.destroy();
    });
  });

  it("a load rejects the tensor's readback with the upload's GPU error", async () => {
    const gpu = await requestGpu(); // its own device: the GPU error is provoked on purpose
    const bn = new BatchNorm(gpu, 4);
    bn.runningVar!.buffer.destroy(); // behind the library's back: the upload into it is invalid
    bn.loadStateDict(PYTORCH_STATE);
    await expect(bn.runningVar!.ready()).rejects.toThrow(/BatchNorm.loadStateDict writing 'BatchNorm runningVar' failed on the GPU/);
    expect(await bn.weight!.toArray()).toEqual(Float32Array.from(PYTORCH_STATE.weight)); // the other uploads succeeded
    gpu.destroy();
  });
});

describe('loading counts as a write', () => {
  it('backward refuses a forward from before loadStateDict or setWeights, and accepts a fresh one', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const shape = [4, 4, 6];
      const rnd = seededRandom(7);
      const x = gaussian(rnd, 4 * 4 * 6);
      const dy = gaussian(rnd, 4 * 4 * 6);
      const xT = Tensor.fromArray(gpu, x, shape);
      const dyT = Tensor.fromArray(gpu, dy, shape);

      const bn = new BatchNorm(gpu, 4);
      const y = bn.forward(xT);
      const version = bn.weight!.version;
      bn.loadStateDict(PYTORCH_STATE);
      expect(bn.weight!.version).toBe(version + 1);
      expect(() => bn.backward(dyT)).toThrow(
        /BatchNorm.backward: weight \('BatchNorm weight', shape \[4\]\) was written after the forward \(now at version \d+, saved at version \d+\)/,
      );
      // A forward after the load differentiates with the loaded weight.
      const y2 = bn.forward(xT);
      const grads = bn.backward(dyT);
      const ref = batchNormReference(x, shape, { training: true });
      const refGrads = batchNormBackwardReference(dy, x, shape, { training: true, weight: PYTORCH_STATE.weight, saveMean: ref.saveMean, saveInvstd: ref.saveInvstd });
      await compareBackward('backward after a load', grads, refGrads, { dy, x, shape, weight: PYTORCH_STATE.weight, training: true });
      compareY('forward after a load', await y2.toArray(), x, shape, batchNormReference(x, shape, { training: true, weight: PYTORCH_STATE.weight, bias: PYTORCH_STATE.bias }), PYTORCH_STATE.weight, PYTORCH_STATE.bias);

      // Eval without a weight: the running statistics the forward read were written by setWeights.
      const plainBn = new BatchNorm(gpu, 4, { affine: false }).eval();
      const y3 = plainBn.forward(xT);
      plainBn.setWeights([[0, 1, 2, 3], [1, 2, 3, 4]]);
      expect(() => plainBn.backward(dyT)).toThrow(/BatchNorm.backward: runningMean \('BatchNorm runningMean', shape \[4\]\) was written after the forward/);
      for (const t of [xT, dyT, y, y2, y3, grads.dx, grads.dweight, grads.dbias]) t?.destroy();
      bn.destroy();
      plainBn.destroy();
    });
  });
});

describe('Keras: BatchNorm.keras, getWeights / setWeights', () => {
  it("BatchNorm.keras has Keras's defaults: momentum 0.99 moves the moving statistics by 1% (biased variance), epsilon 1e-3", async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const bn = BatchNorm.keras(gpu, 3);
      expect(bn.eps).toBe(1e-3);
      expect(bn.momentum).toBe(0.01); // not 1 - 0.99 = 0.010000000000000009
      expect(bn.axis).toBe(-1);
      expect(bn.runningVarEstimator).toBe('biased');
      expect(bn.training).toBe(true);
      expect(await bn.getWeights()).toEqual([new Float32Array([1, 1, 1]), new Float32Array(3), new Float32Array(3), new Float32Array([1, 1, 1])]);

      // (N, C): the channel axis is both 1 and -1.
      const shape = [16, 3];
      const x = Float32Array.from(gaussian(seededRandom(12), 16 * 3), (v, i) => v * (2 + (i % 3)) + 2 * (i % 3) - 1);
      const xT = Tensor.fromArray(gpu, x, shape);
      const y = bn.forward(xT);
      const ref = batchNormReference(x, shape, { training: true, eps: 1e-3 });
      compareY('keras training y', await y.toArray(), x, shape, ref, null, null);
      // Keras: moving = 0.99*moving + 0.01*batch, with the biased batch variance.
      const { mean, variance } = channelMoments(x, shape);
      const movingMean = mean.map((m) => 0.99 * 0 + (1 - 0.99) * m);
      const movingVar = variance.map((v) => 0.99 * 1 + (1 - 0.99) * v);
      const [, , gotMean, gotVar] = await bn.getWeights();
      compareElements('keras moving_mean', gotMean!, movingMean, meanTolerance(movingMean, ref.saveInvstd));
      compareElements('keras moving_variance', gotVar!, movingVar, relativeTolerance(movingVar));
      for (let c = 0; c < 3; c++) {
        // 1% of the way from the old value to the batch's: not PyTorch's 10%, not the unbiased variance.
        expect((gotVar![c]! - 1) / (variance[c]! - 1)).toBeCloseTo(0.01, 4);
      }

      bn.eval();
      const y2 = bn.forward(xT);
      const ref2 = batchNormReference(x, shape, { training: false, runningMean: movingMean, runningVar: movingVar, eps: 1e-3 });
      compareY('keras inference y', await y2.toArray(), x, shape, ref2, null, null);

      const custom = BatchNorm.keras(gpu, 3, { momentum: 0.9, epsilon: 1e-5, axis: 1 });
      expect(custom.momentum).toBe(0.1);
      expect(custom.eps).toBe(1e-5);
      expect(custom.axis).toBe(1);
      expect(new BatchNorm(gpu, 3).axis).toBe(1);
      expect(new BatchNorm(gpu, 3).runningVarEstimator).toBe('unbiased');
      expect(new BatchNorm(gpu, 3, { axis: -1 }).axis).toBe(-1);
      expect(() => BatchNorm.keras(gpu, 3, { momentum: 1.5 })).toThrow(
        "BatchNorm.keras options.momentum must be in [0, 1] (Keras's convention: moving = momentum*moving + (1 - momentum)*batch), got 1.5",
      );
      expect(() => BatchNorm.keras(gpu, 3, { axis: 1.5 })).toThrow('BatchNorm.keras options.axis must be an integer (the channel dimension, negative from the end), got 1.5');
      expect(() => new BatchNorm(gpu, 3, { axis: '1' as never })).toThrow("BatchNorm options.axis must be an integer (the channel dimension, negative from the end), got '1'");
      expect(() => BatchNorm.keras(gpu, 3, { center: 'yes' as never })).toThrow("BatchNorm.keras options.center must be true or false, got 'yes'");
      expect(() => BatchNorm.keras(gpu, 3, { epsilon: -1 })).toThrow('eps must be a finite number >= 0, got -1');
      expect(() => BatchNorm.keras(gpu, 3, { fused: true } as never)).toThrow("BatchNorm.keras options has an unknown key 'fused'");
      expect(() => BatchNorm.keras(gpu, 0)).toThrow('numFeatures must be a positive integer, got 0');
      for (const t of [xT, y, y2]) t.destroy();
      bn.destroy();
      custom.destroy();
    });
  });

  it('BatchNorm.keras normalizes the last axis (channels-last), forward and backward', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      // NHWC [2,3,3,4] with axis -1 is, in memory, the (N*H*W, C) = [18,4] layout the reference takes.
      const shape = [2, 3, 3, 4];
      const flat = [18, 4];
      const rnd = seededRandom(44);
      const x = Float32Array.from(gaussian(rnd, 72), (v, i) => v * (1 + (i % 4)) + (i % 4));
      const dy = gaussian(rnd, 72);
      const xT = Tensor.fromArray(gpu, x, shape);
      const dyT = Tensor.fromArray(gpu, dy, shape);
      const bn = BatchNorm.keras(gpu, 4);
      bn.setWeights([[1, 2, -1, 0.5], [0, 1, 2, 3], [0, 0, 0, 0], [1, 1, 1, 1]]);
      const weight = [1, 2, -1, 0.5];
      const bias = [0, 1, 2, 3];
      const y = bn.forward(xT);
      const ref = batchNormReference(x, flat, { training: true, weight, bias, eps: 1e-3 });
      compareY('keras NHWC y', await y.toArray(), x, flat, ref, weight, bias);
      const { mean, variance } = channelMoments(x, flat);
      const movingMean = mean.map((m) => (1 - 0.99) * m);
      const movingVar = variance.map((v) => 0.99 + (1 - 0.99) * v);
      const [, , gotMean, gotVar] = await bn.getWeights();
      compareElements('keras NHWC moving_mean', gotMean!, movingMean, meanTolerance(movingMean, ref.saveInvstd));
      compareElements('keras NHWC moving_variance', gotVar!, movingVar, relativeTolerance(movingVar));
      const grads = bn.backward(dyT);
      const refGrads = batchNormBackwardReference(dy, x, flat, { training: true, weight, saveMean: ref.saveMean, saveInvstd: ref.saveInvstd });
      await compareBackward('keras NHWC backward', grads, refGrads, { dy, x, shape: flat, weight, training: true });
      // A PyTorch-style module with axis 1 sees 3 channels here, not 4.
      expect(() => new BatchNorm(gpu, 4).forward(xT)).toThrow(/has 4 elements but x has 3 channels/);
      for (const t of [xT, dyT, y, grads.dx, grads.dweight, grads.dbias]) t?.destroy();
      bn.destroy();
    });
  });

  it("getWeights/setWeights use Keras's order, and center/scale false leave beta/gamma out", async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const gamma = [1.5, -0.5, 2];
      const beta = [0.25, 1, -1];
      const movingMean = [0.5, -2, 4];
      const movingVariance = [0.25, 3, 1.5];
      const shape = [7, 3];
      const x = gaussian(seededRandom(8), 7 * 3, 1, 2);
      const xT = Tensor.fromArray(gpu, x, shape);
      const cases = [
        { options: {}, weights: [gamma, beta, movingMean, movingVariance], weight: gamma, bias: beta, keys: ['weight', 'bias'] },
        { options: { center: false }, weights: [gamma, movingMean, movingVariance], weight: gamma, bias: null, keys: ['weight'] },
        { options: { scale: false }, weights: [beta, movingMean, movingVariance], weight: null, bias: beta, keys: ['bias'] },
        { options: { center: false, scale: false }, weights: [movingMean, movingVariance], weight: null, bias: null, keys: [] },
      ];
      for (const { options, weights, weight, bias, keys } of cases) {
        const what = `keras ${JSON.stringify(options)}`;
        const bn = BatchNorm.keras(gpu, 3, options);
        expect(bn.weight === null, what).toBe(weight === null);
        expect(bn.bias === null, what).toBe(bias === null);
        expect((await bn.getWeights()).length, what).toBe(weights.length);
        bn.setWeights(weights);
        expect(await bn.getWeights(), what).toEqual(weights.map((w) => Float32Array.from(w)));
        // The same tensors under PyTorch's names.
        const state = await bn.stateDict();
        expect(Object.keys(state), what).toEqual([...keys, 'running_mean', 'running_var', 'num_batches_tracked']);
        expect(state.running_mean, what).toEqual(Float32Array.from(movingMean));
        expect(state.running_var, what).toEqual(Float32Array.from(movingVariance));
        if (weight) expect(state.weight, what).toEqual(Float32Array.from(weight));
        if (bias) expect(state.bias, what).toEqual(Float32Array.from(bias));

        bn.eval();
        const y = bn.forward(xT);
        const ref = batchNormReference(x, shape, { training: false, runningMean: movingMean, runningVar: movingVariance, weight, bias, eps: 1e-3 });
        compareY(`${what} inference`, await y.toArray(), x, shape, ref, weight, bias);
        y.destroy();

        const names = `[${[...(weight ? ['gamma'] : []), ...(bias ? ['beta'] : []), 'moving_mean', 'moving_variance'].join(', ')}]`;
        expect(() => bn.setWeights(weights.slice(1))).toThrow(
          `BatchNorm.setWeights got a list of ${weights.length - 1} weights, but this layer has ${weights.length}: ${names}`,
        );
        expect(() => bn.setWeights([...weights, movingMean])).toThrow(`got a list of ${weights.length + 1} weights`);
        expect(() => bn.setWeights(null as never)).toThrow(`BatchNorm.setWeights takes an array of ${weights.length} arrays ${names}, got null`);
        const short = weights.map((w, i) => (i === weights.length - 2 ? w.slice(1) : w));
        expect(() => bn.setWeights(short)).toThrow(
          `BatchNorm.setWeights: weights[${weights.length - 2}] (moving_mean) has 2 elements but the module has numFeatures = 3`,
        );
        expect(await bn.getWeights(), what).toEqual(weights.map((w) => Float32Array.from(w))); // unchanged by the refusals
        bn.destroy();
        await expect(bn.getWeights()).rejects.toThrow('BatchNorm.getWeights: this BatchNorm module was destroyed');
        expect(() => bn.setWeights(weights)).toThrow('BatchNorm.setWeights: this BatchNorm module was destroyed');
      }
      xT.destroy();
    });
  });

  it("backward gives the gradients of the tensors the module has: Keras's scale: false still trains beta", async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const shape = [6, 3];
      const rnd = seededRandom(12);
      const x = gaussian(rnd, 18, 1, 2);
      const dy = gaussian(rnd, 18);
      const [xT, dyT] = [Tensor.fromArray(gpu, x, shape), Tensor.fromArray(gpu, dy, shape)];
      for (const options of [{}, { center: false }, { scale: false }, { center: false, scale: false }]) {
        const what = `keras ${JSON.stringify(options)}`;
        const bn = BatchNorm.keras(gpu, 3, options);
        const y = bn.forward(xT);
        const statistics = batchNormReference(x, shape, { training: true, axis: -1, eps: 1e-3 });
        const ref = batchNormBackwardReference(dy, x, shape, {
          training: true,
          axis: -1,
          saveMean: Float32Array.from(statistics.saveMean),
          saveInvstd: Float32Array.from(statistics.saveInvstd),
        });
        const grads = bn.backward(dyT);
        // dx is the weightless one (scale 1) either way; dbias is sum(dy) wherever the module has a bias.
        await compareBackward(`${what} dx`, { ...grads, dweight: null, dbias: null }, ref, { dy, x, shape, axis: -1, weight: null, training: true });
        expect(grads.dweight === null, what).toBe(bn.weight === null);
        expect(grads.dbias === null, what).toBe(bn.bias === null);
        const sums = Array.from({ length: 3 }, (_, c) => dy.filter((_, i) => i % 3 === c).reduce((a, b) => a + b, 0));
        if (grads.dbias) compareElements(`${what} dbias`, await grads.dbias.toArray(), sums, () => 1e-5);
        if (!bn.weight) {
          const stray = Tensor.empty(gpu, [3]);
          bn.forward(xT).destroy();
          expect(() => bn.backward(dyT, { out: { dweight: stray } })).toThrow('BatchNorm.backward: out.dweight was given, but this module has no weight, so it has no dweight');
          stray.destroy();
        }
        for (const t of [y, grads.dx, grads.dweight, grads.dbias]) t?.destroy();
        bn.destroy();
      }
      xT.destroy();
      dyT.destroy();
    });
  });
});
