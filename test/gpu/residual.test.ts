// Residual add fused into batch norm: y = act(bn(x) + z) in the pass that writes y, and the backward of it
// (dz, and dx from it; with a ReLU the mask is the stored y's sign), on every layout and plan, f32 and f16
// (packed here: SwiftShader has no shader-f16; the native kernels run in test/dawn/residual.test.ts),
// training and inference, in windows, recorded into the caller's encoder, through the module (PyTorch's
// and Keras's), and on a device at WebGPU's default limits, against the float64 references.
import { describe, expect, it } from 'vitest';
import { batchNorm, batchNormBackward, BatchNorm, Gpu, Tensor } from '../../src/index.js';
import { batchNormBackwardReference, batchNormReference } from '../../src/reference.js';
import { planOperation } from '../../src/engine/runner.js';
import { channelLayout, numElements } from '../../src/runtime/shape.js';
import { recordingDevice } from '../support/recording-device.js';
import { gaussian, seededRandom, uniform } from '../support/random.js';
import { checkResidualCase, RESIDUAL_CASES, type ResidualRatios } from '../support/residual-case.js';
import { compareBackward, compareY } from '../support/tolerances.js';
import { inErrorScopes, testGpu } from './gpu-context.js';

// Tolerances: those of the sweeps (src/reference/tolerances.ts), y's with |z| among its terms; dz exact.

// The worst error / tolerance per dtype over every case, printed at the end (docs/numerics.md quotes it).
const worst = { f32: { y: 0, dx: 0, dweight: 0, dbias: 0 }, f16: { y: 0, dx: 0, dweight: 0, dbias: 0 } };
const note = (dtype: 'f32' | 'f16', ratios: ResidualRatios) => {
  for (const key of Object.keys(ratios) as (keyof ResidualRatios)[]) worst[dtype][key] = Math.max(worst[dtype][key], ratios[key]);
};

describe('batchNorm with a residual, and its backward', () => {
  for (const [k, c] of RESIDUAL_CASES.entries()) {
    it(`${c.what} [${c.shape}] axis ${c.axis}`, async () => {
      const gpu = await testGpu(k % 2 === 0, c.maxBindingBytes);
      const layout = channelLayout(c.shape, c.axis);
      for (const storage of ['f32', 'f16-packed'] as const) {
        const plan = planOperation(gpu, layout, true, storage);
        expect(plan.singlePass, `${c.what} ${storage}: the plan`).toBe(c.singlePass);
        if (c.maxBindingBytes) expect(plan.windows.length).toBeGreaterThan(2);
      }
      await inErrorScopes(gpu, async () => {
        // Without a ReLU the backward is the plain one (dz is dy): f16 takes the ReLU only.
        for (const [dtype, relus] of [['f32', [true, false]], ['f16', [true]]] as const) {
          for (const training of [true, false]) {
            for (const relu of relus) note(dtype, await checkResidualCase(gpu, c, { dtype, training, relu, seed: 100 + k }));
          }
        }
      });
    });
  }

  it('recorded with the backward into the caller\'s encoder, submitted once', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      for (const c of RESIDUAL_CASES.filter((r) => !r.maxBindingBytes)) {
        note('f32', await checkResidualCase(gpu, c, { dtype: 'f32', training: true, relu: true, seed: 7, encoder: true }));
      }
      const chunked = await testGpu(true, 512);
      for (const c of RESIDUAL_CASES.filter((r) => r.maxBindingBytes)) {
        note('f16', await checkResidualCase(chunked, c, { dtype: 'f16', training: true, relu: true, seed: 8, encoder: true }));
      }
    });
    console.log(`residual: worst error / tolerance over the cases run so far, per dtype: ${JSON.stringify(worst)}`);
  });

  it('copies dy into out.dz without an activation, and writes it with one', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const shape = [3, 4, 6];
      const rnd = seededRandom(3);
      const n = numElements(shape);
      const [x, z, dy] = [gaussian(rnd, n, 1, 2), gaussian(rnd, n), gaussian(rnd, n)].map((d) => Tensor.fromArray(gpu, d, shape));
      for (const activation of [null, 'relu'] as const) {
        const fwd = batchNorm(gpu, x!, { training: true, residual: z!, activation });
        const dz = Tensor.empty(gpu, shape);
        const grads = batchNormBackward(gpu, dy!, x!, {
          training: true, saveMean: fwd.saveMean, saveInvstd: fwd.saveInvstd, residual: true, activation, ...(activation ? { y: fwd.y } : {}), out: { dz },
        });
        expect(grads.dz).toBe(dz);
        const y = await fwd.y.toArray();
        const expected = Array.from(await dy!.toArray(), (v, i) => (activation && !(y[i]! > 0) ? 0 : v));
        expect(Array.from(await dz.toArray())).toEqual(expected);
        // dx is the plain backward's of the masked gradient.
        const plain = batchNormBackward(gpu, grads.dz, x!, { training: true, saveMean: fwd.saveMean, saveInvstd: fwd.saveInvstd });
        expect(Array.from(await grads.dx.toArray())).toEqual(Array.from(await plain.dx.toArray()));
      }
    });
  });

  it('refuses bad residual arguments, naming them', async () => {
    const gpu = await testGpu(true);
    const shape = [2, 3, 4];
    const x = Tensor.fromArray(gpu, gaussian(seededRandom(1), 24), shape);
    const dy = Tensor.fromArray(gpu, gaussian(seededRandom(2), 24), shape);
    const fwd = batchNorm(gpu, x, { training: true, residual: Tensor.empty(gpu, shape) });
    const stats = { training: true as const, saveMean: fwd.saveMean, saveInvstd: fwd.saveInvstd };
    expect(() => batchNorm(gpu, x, { training: true, residual: Tensor.empty(gpu, [2, 3, 5]) })).toThrow(/residual has shape \[2,3,5\] but x has shape \[2,3,4\]/);
    expect(() => batchNorm(gpu, x, { training: true, residual: Tensor.empty(gpu, shape, { dtype: 'f16' }) })).toThrow(/residual has dtype 'f16' but x has dtype 'f32'/);
    expect(() => batchNorm(gpu, x, { training: true, residual: [1, 2] as unknown as Tensor })).toThrow(/residual must be a Tensor/);
    expect(() => batchNorm(gpu, x, { training: true, residual: x, out: { y: x } })).toThrow(/out\.y is the same tensor as x/);
    const z = Tensor.empty(gpu, shape);
    expect(() => batchNorm(gpu, x, { training: true, residual: z, out: { y: z } })).toThrow(/out\.y is the same tensor as residual/);
    expect(() => batchNormBackward(gpu, dy, x, { ...stats, residual: true, activation: 'relu' })).toThrow(/needs y \(the forward's output/);
    expect(() => batchNormBackward(gpu, dy, x, { ...stats, residual: true, y: fwd.y })).toThrow(/y is read only with residual: true and activation: 'relu'/);
    expect(() => batchNormBackward(gpu, dy, x, { ...stats, activation: 'relu', y: fwd.y })).toThrow(/y is read only with residual: true/);
    expect(() => batchNormBackward(gpu, dy, x, { ...stats, residual: true, activation: 'relu', y: Tensor.empty(gpu, [2, 3, 5]) })).toThrow(/y has shape/);
    const bias = Tensor.fromArray(gpu, [0, 0, 0], [3]);
    expect(() => batchNormBackward(gpu, dy, x, { ...stats, residual: true, activation: 'relu', y: fwd.y, bias })).toThrow(/bias is read only with activation: 'relu' and no residual/);
    expect(() => batchNormBackward(gpu, dy, x, { ...stats, out: { dz: Tensor.empty(gpu, shape) } })).toThrow(/out\.dz is written only with residual: true/);
    expect(() => batchNormBackward(gpu, dy, x, { ...stats, residual: 1 as unknown as boolean })).toThrow(/residual must be true or false, got 1/);
    expect(() => batchNormBackward(gpu, dy, x, { ...stats, residual: true, activation: 'relu', y: fwd.y, out: { dz: fwd.y } })).toThrow(/out\.dz is the same tensor as y/);
  });
});

describe('the module with a residual', () => {
  it('BatchNorm (ReLU): forward(x, { residual }) and backward(dy) with dz, training and eval, against the references', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const shape = [4, 5, 3, 3];
      const rnd = seededRandom(11);
      const n = numElements(shape);
      const [x, z, dy] = [gaussian(rnd, n, 1, 2), gaussian(rnd, n, 0, 1.5), gaussian(rnd, n)];
      const [xT, zT, dyT] = [x, z, dy].map((d) => Tensor.fromArray(gpu, d, shape));
      const bn = new BatchNorm(gpu, 5, { activation: 'relu' });
      bn.loadStateDict({ weight: uniform(rnd, 5, 0.5, 2), bias: uniform(rnd, 5, -1, 1), running_mean: uniform(rnd, 5, 0, 1), running_var: uniform(rnd, 5, 1, 2), num_batches_tracked: 0 });
      const state = await bn.stateDict();
      for (const training of [true, false]) {
        bn.train(training);
        const runningBefore = { runningMean: await bn.runningMean!.toArray(), runningVar: await bn.runningVar!.toArray() };
        const y = bn.forward(xT!, { residual: zT! });
        const what = `module ${training ? 'training' : 'eval'}`;
        const ref = batchNormReference(x!, shape, { training, activation: 'relu', weight: state.weight!, bias: state.bias!, ...runningBefore, residual: z! });
        const yHost = await y.toArray();
        compareY(`${what} y`, yHost, x!, shape, ref, state.weight!, state.bias!, 1, 'f32', z!);
        const grads = bn.backward(dyT!);
        const statistics = training ? { training: true as const, saveMean: ref.saveMean, saveInvstd: ref.saveInvstd } : { training: false as const, ...runningBefore };
        // The float64 statistics: the module keeps the GPU's to itself, and x's mean is near its spread, where they serve (src/reference/tolerances.ts).
        const gradRef = batchNormBackwardReference(dy!, x!, shape, { ...statistics, activation: 'relu', weight: state.weight!, residual: true, reluOutput: yHost });
        await compareBackward(what, grads, gradRef, { dy: dy!, x: x!, shape, weight: state.weight!, training, reluOutput: yHost });
        expect(Array.from(await grads.dz!.toArray())).toEqual(Array.from(gradRef.dz!));
        // The mask is y: backward refuses a y written since.
        bn.forward(xT!, { residual: zT!, out: { y } });
        batchNorm(gpu, xT!, { training: true, out: { y } });
        expect(() => bn.backward(dyT!)).toThrow(/y \('batchNorm y'.*was written after the forward/);
        y.destroy();
        bn.forward(xT!, { residual: zT! }).destroy();
        expect(() => bn.backward(dyT!)).toThrow(/needs the output of the last forward .* keep y alive until backward/);
      }
      // A forward without a residual has no dz.
      bn.train();
      bn.forward(xT!).destroy();
      expect(bn.backward(dyT!).dz).toBeNull();
      bn.destroy();
    });
  });

  it('BatchNorm.keras (no activation): dz is dy itself, or written into out.dz', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const shape = [6, 3, 3, 4]; // channels last
      const rnd = seededRandom(12);
      const n = numElements(shape);
      const [x, z, dy] = [gaussian(rnd, n, 1, 2), gaussian(rnd, n), gaussian(rnd, n)];
      const [xT, zT, dyT] = [x, z, dy].map((d) => Tensor.fromArray(gpu, d, shape));
      const keras = BatchNorm.keras(gpu, 4);
      const y = keras.forward(xT!, { residual: zT! });
      const ref = batchNormReference(x!, shape, { training: true, axis: -1, momentum: 0.01, eps: 1e-3, runningVarEstimator: 'biased', weight: new Float32Array(4).fill(1), bias: new Float32Array(4), runningMean: new Float32Array(4), runningVar: new Float32Array(4).fill(1), residual: z! });
      compareY('keras y', await y.toArray(), x!, shape, ref, null, null, -1, 'f32', z!);
      expect(keras.backward(dyT!).dz).toBe(dyT);
      const dz = Tensor.empty(gpu, shape);
      const grads = keras.backward(dyT!, { out: { dz } });
      expect(grads.dz).toBe(dz);
      expect(Array.from(await dz.toArray())).toEqual(Array.from(dy!));
      keras.destroy();
    });
  });
});

describe('at WebGPU\'s default limits', () => {
  it('a device with 8 storage buffers per shader runs the residual forward in three passes (its one dispatch binds 9) and the backward in three (10), and right', async () => {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) throw new Error('no WebGPU adapter');
    const { device, log } = recordingDevice(await adapter.requestDevice());
    expect(device.limits.maxStorageBuffersPerShaderStage).toBe(8);
    const gpu = Gpu.fromDevice(device);
    const c = RESIDUAL_CASES[0]!;
    expect(planOperation(gpu, channelLayout(c.shape, c.axis), true).singlePass).toBe(true);
    const before = log.dispatches;
    await inErrorScopes(gpu, () => checkResidualCase(gpu, c, { dtype: 'f32', training: true, relu: true, seed: 5 }));
    expect(log.dispatches - before).toBe(3 + 3);
    device.destroy();
  });
});
