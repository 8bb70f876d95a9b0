// Tensors larger than one storage binding run in windows bound at buffer offsets: of whole samples, or,
// where a sample does not fit one binding, of any aligned range of values. A small maxBindingBytes forces
// many windows on small tensors; two tests run a real 160 MiB training forward and backward against the
// default 128 MiB binding size.
import { describe, expect, it } from 'vitest';
import {
  batchNorm,
  batchNormBackward,
  requestGpu,
  Tensor,
  type DType,
  type Gpu,
} from '../../src/index.js';
import { planOperation } from '../../src/engine/runner.js';
import { batchNormBackwardReference, batchNormReference, channelMoments } from '../../src/reference.js';
import { roundToHalf } from '../../src/runtime/half.js';
import { channelLayout, numElements } from '../../src/runtime/shape.js';
import { gaussian, seededRandom, uniform } from '../support/random.js';
import { CHUNKED_CASES } from '../support/shape-sweep.js';
import { compareBackward, compareTrainingStatistics, compareY } from '../support/tolerances.js';
import { inErrorScopes, testGpu } from './gpu-context.js';

// Tolerances (Y_RTOL/Y_ATOL, STAT_RTOL, DX_RTOL, SUM_RTOL): those of the unchunked sweeps, stated in
// test/support/tolerances.ts; chunking must not loosen them.
const BIG_SHAPE = [40, 64, 128, 128]; // 160 MiB of f32
const BIG_SIZE = 40 * 64 * 128 * 128;
const DEFAULT_BINDING = 128 * 2 ** 20;

describe('chunked forward', () => {
  for (const subgroups of [true, false]) {
    it.each(CHUNKED_CASES)(`$shape in windows of $maxBindingBytes bytes (${subgroups ? 'subgroups' : 'workgroup memory'})`, async ({ shape, maxBindingBytes }) => {
      const gpu = await testGpu(subgroups, maxBindingBytes);
      const whole = await testGpu(subgroups);
      const size = shape.reduce((a, b) => a * b, 1);
      expect(size * 4).toBeGreaterThan(maxBindingBytes); // really chunked
      const rnd = seededRandom(size);
      const channels = shape[1]!;
      const x = gaussian(rnd, size, 100, 3);
      const weight = uniform(rnd, channels, 0.5, 2);
      const bias = uniform(rnd, channels, -1, 1);
      for (const training of [true, false]) {
        const runningMean = uniform(rnd, channels, 99, 101);
        const runningVar = uniform(rnd, channels, 4, 16);
        const options = { training, momentum: 0.3, eps: 1e-5 };
        const ref = batchNormReference(x, shape, { ...options, weight, bias, runningMean, runningVar });
        const outputs: Float32Array[] = [];
        for (const g of [gpu, whole]) {
          await inErrorScopes(g, async () => {
            const t = (data: Float32Array, s: readonly number[]) => Tensor.fromArray(g, data, s);
            const rm = t(runningMean, [channels]);
            const rv = t(runningVar, [channels]);
            const out = batchNorm(g, t(x, shape), { ...options, weight: t(weight, [channels]), bias: t(bias, [channels]), runningMean: rm, runningVar: rv });
            const y = await out.y.toArray();
            compareY(`${training ? 'training' : 'inference'} y`, y, x, shape, ref, weight, bias);
            if (training) {
              const saved = { saveMean: await out.saveMean!.toArray(), saveInvstd: await out.saveInvstd!.toArray() };
              compareTrainingStatistics('chunked', { ...saved, runningMean: await rm.toArray(), runningVar: await rv.toArray() }, ref);
            }
            outputs.push(y);
          });
        }
        // Inference does the same arithmetic per element whatever the windows: bit-identical.
        if (!training) expect(outputs[0]).toEqual(outputs[1]);
      }
    });
  }

  it('rejects a maxBindingBytes that is not a multiple of 4 or below 256', async () => {
    await expect(requestGpu({ maxBindingBytes: 100 })).rejects.toThrow('maxBindingBytes must be a multiple of 4 and at least 256, got 100');
    await expect(requestGpu({ maxBindingBytes: 1001 })).rejects.toThrow('got 1001');
  });
});

/** Tensors whose windows start and end inside samples: each sample, or the one that straddles byte 256, fits no binding. */
const CUT_CASES = [
  { what: 'NCHW, vec4 runs', shape: [1, 3, 40, 40], axis: 1, maxBindingBytes: 1024, cutsF16: true },
  { what: 'NCHW, scalar runs', shape: [2, 3, 15, 15], axis: 1, maxBindingBytes: 1024, cutsF16: true },
  { what: 'channels-last (rows kernels)', shape: [3, 2, 600], axis: -1, maxBindingBytes: 1024, cutsF16: true },
  { what: 'channels-last, sample 21 straddles byte 256', shape: [30, 3], axis: -1, maxBindingBytes: 256, cutsF16: false },
] as const;

/** A forward (weight, bias, running statistics; a ReLU if asked) and its backward, each against the float64 reference. */
async function checkCutCase(gpu: Gpu, c: (typeof CUT_CASES)[number], dtype: DType, training: boolean, relu: boolean, seed: number): Promise<void> {
  const { shape, axis } = c;
  const { channels } = channelLayout(shape, axis);
  const rnd = seededRandom(seed);
  const size = numElements(shape);
  const values = (data: Float32Array) => (dtype === 'f16' ? roundToHalf(data) : data);
  const host = {
    x: values(gaussian(rnd, size, 1.5, 2)),
    dy: values(gaussian(rnd, size, 0.25, 1)),
    weight: uniform(rnd, channels, 0.5, 2),
    bias: uniform(rnd, channels, -1, 1),
    runningMean: uniform(rnd, channels, 1, 2),
    runningVar: uniform(rnd, channels, 2, 6),
  };
  const perChannel = (data: Float32Array) => Tensor.fromArray(gpu, data, [channels]);
  const [x, dy] = [Tensor.fromArray(gpu, host.x, shape, { dtype }), Tensor.fromArray(gpu, host.dy, shape, { dtype })];
  const [weight, bias, runningMean, runningVar] = [perChannel(host.weight), perChannel(host.bias), perChannel(host.runningMean), perChannel(host.runningVar)];
  const activation = relu ? 'relu' : null;
  const what = `${c.what} [${shape}] ${dtype} ${training ? 'training' : 'inference'}${relu ? ' relu' : ''}`;
  const fwd = batchNorm(gpu, x, { training, axis, activation, weight, bias, runningMean, runningVar, momentum: 0.3 });
  const { x: _x, dy: _dy, ...parameters } = host;
  const ref = batchNormReference(host.x, shape, { training, axis, activation, ...parameters, momentum: 0.3 });
  const y = await fwd.y.toArray();
  compareY(`${what} y`, y, host.x, shape, ref, host.weight, host.bias, axis, dtype);
  const statistics = training
    ? { training: true as const, saveMean: fwd.saveMean!, saveInvstd: fwd.saveInvstd! }
    : { training: false as const, runningMean, runningVar };
  const grads = batchNormBackward(gpu, dy, x, { ...statistics, axis, activation, weight, ...(relu ? { bias } : {}) });
  const reluOutput = relu ? y : null;
  let gradRef;
  if (training) {
    const saved = { saveMean: await fwd.saveMean!.toArray(), saveInvstd: await fwd.saveInvstd!.toArray() };
    compareTrainingStatistics(what, { ...saved, runningMean: await runningMean.toArray(), runningVar: await runningVar.toArray() }, ref);
    gradRef = batchNormBackwardReference(host.dy, host.x, shape, { training, axis, weight: host.weight, reluOutput, ...saved });
  } else {
    gradRef = batchNormBackwardReference(host.dy, host.x, shape, { training, axis, weight: host.weight, reluOutput, runningMean: host.runningMean, runningVar: host.runningVar });
  }
  await compareBackward(what, grads, gradRef, { dy: host.dy, x: host.x, shape, weight: host.weight, training, axis, reluOutput, dtype });
  for (const t of [x, dy, weight, bias, runningMean, runningVar, fwd.y, fwd.saveMean, fwd.saveInvstd, grads.dx, grads.dweight, grads.dbias]) t?.destroy();
}

describe('windows that cut samples', () => {
  for (const [k, c] of CUT_CASES.entries()) {
    it(`${c.what}: [${c.shape}] axis ${c.axis} in windows of ${c.maxBindingBytes} bytes, forward and backward, f32 and f16`, async () => {
      const gpu = await testGpu(k % 2 === 0, c.maxBindingBytes);
      const layout = channelLayout(c.shape, c.axis);
      for (const storage of c.cutsF16 ? (['f32', 'f16-packed'] as const) : (['f32'] as const)) {
        const plan = planOperation(gpu, layout, true, storage);
        expect(plan.windows.some((w) => w.offset !== 0), `${c.what} ${storage}: a window starts inside a sample`).toBe(true);
      }
      await inErrorScopes(gpu, async () => {
        for (const dtype of ['f32', 'f16'] as const) {
          for (const training of [true, false]) {
            for (const relu of [false, true]) await checkCutCase(gpu, c, dtype, training, relu, 300 + k);
          }
        }
      });
    });
  }
});

describe('a real 160 MiB tensor, in windows of the default 128 MiB binding', () => {
  it('training forward', async () => {
    const gpu = await testGpu(true, DEFAULT_BINDING);
    await inErrorScopes(gpu, async () => {
      const x = gaussian(seededRandom(160), BIG_SIZE, -2, 0.5);
      const xT = Tensor.fromArray(gpu, x, BIG_SHAPE);
      expect(xT.byteLength).toBe(160 * 2 ** 20);
      const out = batchNorm(gpu, xT, { training: true });
      const ref = batchNormReference(x, BIG_SHAPE, { training: true });
      const cmp = compareY('160 MiB y', await out.y.toArray(), x, BIG_SHAPE, ref, null, null);
      compareTrainingStatistics('160 MiB', { saveMean: await out.saveMean!.toArray(), saveInvstd: await out.saveInvstd!.toArray() }, ref);
      console.log(`160 MiB forward in 128 MiB windows: worst |y - ref| = ${cmp.maxAbsError.toExponential(2)}`);
      for (const t of [xT, out.y, out.saveMean, out.saveInvstd]) t?.destroy();
    });
  });

  it('training backward (through the statistics of a training forward)', async () => {
    const gpu = await testGpu(true, DEFAULT_BINDING);
    await inErrorScopes(gpu, async () => {
      const rnd = seededRandom(161);
      const x = gaussian(rnd, BIG_SIZE, 3, 2);
      const dy = gaussian(rnd, BIG_SIZE, 0.25, 1); // a nonzero mean exercises the mean(dy) term
      const weight = uniform(rnd, 64, 0.5, 2);
      const [xT, dyT] = [Tensor.fromArray(gpu, x, BIG_SHAPE), Tensor.fromArray(gpu, dy, BIG_SHAPE)];
      const wT = Tensor.fromArray(gpu, weight, [64]);
      expect(dyT.byteLength).toBeGreaterThan(gpu.maxBindingBytes); // really chunked
      // A training step: the forward saves its statistics, the backward differentiates through them.
      const fwd = batchNorm(gpu, xT, { training: true, weight: wT });
      fwd.y.destroy(); // the test above checks y; only the saved statistics matter here
      const grads = batchNormBackward(gpu, dyT, xT, { weight: wT, saveMean: fwd.saveMean!, saveInvstd: fwd.saveInvstd!, training: true });
      const saved = { saveMean: await fwd.saveMean!.toArray(), saveInvstd: await fwd.saveInvstd!.toArray() };
      const { mean, variance } = channelMoments(x, BIG_SHAPE);
      compareTrainingStatistics('160 MiB', saved, { saveMean: mean, saveInvstd: variance.map((v) => 1 / Math.sqrt(v + 1e-5)) });
      // The reference takes the float32 statistics the GPU saved, so dx is compared for the same problem.
      const ref = batchNormBackwardReference(dy, x, BIG_SHAPE, { weight, ...saved, training: true });
      const ratios = await compareBackward('160 MiB', grads, ref, { dy, x, shape: BIG_SHAPE, weight, training: true });
      console.log(`160 MiB backward in 128 MiB windows: worst error/tolerance ${JSON.stringify(ratios)}`);
      for (const t of [xT, dyT, wT, fwd.saveMean, fwd.saveInvstd, grads.dx, grads.dweight, grads.dbias]) t?.destroy();
    });
  });
});
