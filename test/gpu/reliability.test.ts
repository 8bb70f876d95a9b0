// Many calls, no leaks, no cross-talk: the live-buffer count stays flat over 1000 forward and backward
// calls on varying shapes; interleaved forward and backward calls on several modules and tensors, with
// scratch buffers shared between them, never see each other's data; destroy() is idempotent everywhere
// and a destroyed module says so.
import { describe, expect, it } from 'vitest';
import {
  BatchNorm,
  batchNorm,
  batchNormBackward,
  Gpu,
  requestGpu,
  Tensor,
  type BatchNormBackwardResult,
} from '../../src/index.js';
import { batchNormBackwardReference, batchNormReference, channelMoments } from '../../src/reference.js';
import { withoutChannelAxis } from '../../src/runtime/shape.js';
import { gaussian, randomInt, seededRandom, uniform } from '../support/random.js';
import { compareBackward, compareY } from '../support/tolerances.js';
import { inErrorScopes, testGpu } from './gpu-context.js';

const destroyAll = (tensors: readonly (Tensor | null)[]) => {
  for (const t of tensors) t?.destroy();
};
const gradients = (g: BatchNormBackwardResult) => [g.dx, g.dweight, g.dbias];

describe('many calls', () => {
  it('1000 rounds of forward and backward on varying shapes, some masked, some renormalized, leave the live-buffer count where it was', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const rnd = seededRandom(1000);
      // Ranks 2 to 5 and sizes from a few values to a few thousand, so scratch is reused at other sizes.
      const problems = Array.from({ length: 8 }, (_, k) => {
        const shape = [randomInt(rnd, 2, 6), randomInt(rnd, 1, 16), ...Array.from({ length: k % 4 }, () => randomInt(rnd, 1, 9))];
        const size = shape.reduce((a, b) => a * b, 1);
        const channels = shape[1]!;
        return {
          channels,
          x: Tensor.fromArray(gpu, gaussian(rnd, size), shape),
          dy: Tensor.fromArray(gpu, gaussian(rnd, size), shape),
          weight: Tensor.fromArray(gpu, uniform(rnd, channels, 0.5, 2), [channels]),
          runningMean: Tensor.fromArray(gpu, new Float32Array(channels), [channels]),
          runningVar: Tensor.fromArray(gpu, new Float32Array(channels).fill(1), [channels]),
          mask: Tensor.fromArray(gpu, Float32Array.from({ length: size / channels }, (_, i) => (i === 0 || rnd() < 0.7 ? 1 : 0)), withoutChannelAxis(shape, 1)),
        };
      });
      // A round: a forward and the backward of it, training or inference, with or without a weight, with or
      // without a mask (every fifth), through the functions or (every fourth round) a module made and
      // destroyed in the round (with batch renormalization every eighth).
      const round = (i: number) => {
        const p = problems[i % problems.length]!;
        const training = i % 3 !== 0;
        const mask = i % 5 === 0 ? p.mask : null;
        if (i % 4 === 3) {
          const bn = new BatchNorm(gpu, p.channels, { renorm: i % 8 === 7 }).train(training);
          bn.forward(p.x, { mask }).destroy();
          destroyAll(gradients(bn.backward(p.dy)));
          bn.destroy();
          return;
        }
        const weight = i % 2 === 0 ? p.weight : null;
        const { runningMean, runningVar } = p;
        const out = batchNorm(gpu, p.x, { training, weight, runningMean, runningVar, mask });
        const grads = out.saveMean && out.saveInvstd
          ? batchNormBackward(gpu, p.dy, p.x, { weight, saveMean: out.saveMean, saveInvstd: out.saveInvstd, training: true, mask })
          : batchNormBackward(gpu, p.dy, p.x, { weight, runningMean, runningVar, training: false });
        destroyAll([out.y, out.saveMean, out.saveInvstd, ...gradients(grads)]);
      };
      // Rounds of every kind first: scratch buffers grow to the largest shape and then stay.
      for (let i = 0; i < problems.length * 12; i++) round(i);
      const before = gpu.liveBuffers;
      for (let i = 0; i < 1000; i++) round(i);
      await gpu.device.queue.onSubmittedWorkDone();
      console.log(`live buffers: ${before} before 1000 forward+backward rounds (2000 calls), ${gpu.liveBuffers} after`);
      expect(gpu.liveBuffers).toBe(before);
      for (const p of problems) destroyAll([p.x, p.dy, p.weight, p.runningMean, p.runningVar, p.mask]);
    });
  });
});

describe('interleaving', () => {
  it('forward and backward calls on several modules and tensors, submitted back to back, never see each other\'s scratch data', async () => {
    const gpu = await testGpu(false);
    await inErrorScopes(gpu, async () => {
      const rnd = seededRandom(77);
      // Different C, slice counts and modes, so shared scratch (partials, scale-shift, coefficients,
      // params) is rewritten between calls whose work has not run yet: training with a weight, training
      // without one, eval (running statistics: zeros and ones, as eval does not update them).
      const specs = [
        { shape: [4, 3, 8, 8], affine: true, training: true },
        { shape: [2, 64, 5, 5], affine: false, training: true },
        { shape: [16, 1, 33, 33], affine: true, training: false },
        { shape: [3, 7, 2, 2], affine: true, training: true },
      ];
      const modules = specs.map((s) => {
        const bn = new BatchNorm(gpu, s.shape[1]!, { affine: s.affine }).train(s.training);
        const weight = s.affine ? uniform(rnd, s.shape[1]!, 0.5, 2) : null;
        if (weight) gpu.device.queue.writeBuffer(bn.weight!.buffer, 0, weight.buffer, weight.byteOffset, weight.byteLength);
        return { bn, weight };
      });
      const calls = [0, 1, 2].flatMap((round) => {
        const inputs = specs.map((s, i) => {
          const size = s.shape.reduce((a, b) => a * b, 1);
          const x = gaussian(rnd, size, i + round, i + 1);
          const dy = gaussian(rnd, size, 0.5, 1);
          return { i, x, dy, xT: Tensor.fromArray(gpu, x, s.shape), dyT: Tensor.fromArray(gpu, dy, s.shape) };
        });
        // All forwards, then all backwards: each backward uses its module's saved statistics while the
        // other modules' work is still queued.
        const ys = inputs.map((t) => modules[t.i]!.bn.forward(t.xT));
        return inputs.map((t, k) => ({ ...t, y: ys[k]!, grads: modules[t.i]!.bn.backward(t.dyT) }));
      });
      for (const { i, x, dy, xT, dyT, y, grads } of calls) {
        const { shape, training } = specs[i]!;
        const { weight } = modules[i]!;
        const what = `module ${i}`;
        if (training) {
          // The module's float32 saved statistics differ from the float64 moments by ~1e-7 of the
          // spread, well inside the dx tolerance (as in backward.test.ts).
          const ref = batchNormReference(x, shape, { training: true, weight });
          compareY(`${what} y`, await y.toArray(), x, shape, ref, weight, null);
          const { mean, variance } = channelMoments(x, shape);
          const saveInvstd = variance.map((v) => 1 / Math.sqrt(v + 1e-5));
          const gradsRef = batchNormBackwardReference(dy, x, shape, { weight, saveMean: mean, saveInvstd, training: true });
          await compareBackward(what, grads, gradsRef, { dy, x, shape, weight, training: true });
        } else {
          const channels = shape[1]!;
          const running = { runningMean: new Float32Array(channels), runningVar: new Float32Array(channels).fill(1) };
          compareY(`${what} y`, await y.toArray(), x, shape, batchNormReference(x, shape, { training: false, weight, ...running }), weight, null);
          const gradsRef = batchNormBackwardReference(dy, x, shape, { weight, ...running, training: false });
          await compareBackward(what, grads, gradsRef, { dy, x, shape, weight, training: false });
        }
        destroyAll([xT, dyT, y, ...gradients(grads)]);
      }
      modules.forEach(({ bn }, i) => expect(bn.numBatchesTracked).toBe(specs[i]!.training ? 3 : 0));
      for (const { bn } of modules) bn.destroy();
    });
  });
});

describe('destroy', () => {
  it('is idempotent on tensors, modules and the Gpu, and frees everything the library made', async () => {
    const gpu = await requestGpu(); // its own device: the test destroys it
    expect(gpu.liveBuffers).toBe(0);
    const shape = [4, 3, 5];
    const x = Tensor.fromArray(gpu, gaussian(seededRandom(4), 60), shape);
    const dy = Tensor.fromArray(gpu, gaussian(seededRandom(5), 60), shape);
    // One forward and backward first, so the scratch buffers exist before counting.
    const warm = new BatchNorm(gpu, 3);
    warm.forward(x).destroy();
    destroyAll(gradients(warm.backward(dy)));
    warm.destroy();
    const before = gpu.liveBuffers;

    const t = Tensor.fromArray(gpu, [1, 2, 3], [3]);
    t.destroy();
    t.destroy();
    expect(t.isDestroyed).toBe(true);
    expect(gpu.liveBuffers).toBe(before);

    const bn = new BatchNorm(gpu, 3);
    const y = bn.forward(x);
    const grads = bn.backward(dy);
    destroyAll([y, y, ...gradients(grads), ...gradients(grads)]);
    bn.destroy();
    bn.destroy();
    for (const param of [bn.weight, bn.bias, bn.runningMean, bn.runningVar]) expect(param!.isDestroyed).toBe(true);
    expect(gpu.liveBuffers).toBe(before); // parameters and the saved statistics are gone
    expect(x.isDestroyed).toBe(false); // the forward's input belongs to the caller

    await gpu.device.queue.onSubmittedWorkDone();
    expect(gpu.isLost).toBe(false);
    gpu.destroy(); // frees the scratch buffers and the device the library requested
    expect(gpu.isLost).toBe(true); // at once, before device.lost settles
    expect(() => batchNorm(gpu, x, { training: true })).toThrow('WebGPU device was lost (destroyed): Gpu.destroy() was called');
    gpu.destroy();
    expect(gpu.liveBuffers).toBe(2); // x and dy, the caller's
    destroyAll([x, dy, x]);
    expect(gpu.liveBuffers).toBe(0);
    gpu.destroy();
    expect(gpu.liveBuffers).toBe(0);
  });

  it('a Gpu wrapping a caller\'s device can be destroyed twice and leaves the device working', async () => {
    const owner = await testGpu(true);
    const wrapped = Gpu.fromDevice(owner.device);
    const x = Tensor.fromArray(wrapped, [1, 2, 3, 4], [2, 2]);
    const out = batchNorm(wrapped, x, { training: true }); // makes the wrapper's scratch buffers
    destroyAll([out.y, out.saveMean, out.saveInvstd]);
    wrapped.destroy();
    wrapped.destroy();
    expect(wrapped.isLost).toBe(false); // the caller's device lives on
    expect(wrapped.liveBuffers).toBe(1); // x, the caller's
    expect(await x.toArray()).toEqual(new Float32Array([1, 2, 3, 4]));
    x.destroy();
    expect(wrapped.liveBuffers).toBe(0);
  });

  it('a module destroyed (once or twice) says so from forward and backward', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const x = Tensor.fromArray(gpu, gaussian(seededRandom(6), 24), [4, 2, 3]);
      for (const times of [1, 2]) {
        const bn = new BatchNorm(gpu, 2);
        bn.forward(x).destroy(); // a saved forward, so backward would otherwise run
        for (let i = 0; i < times; i++) bn.destroy();
        expect(() => bn.forward(x)).toThrow('this BatchNorm module was destroyed');
        expect(() => bn.backward(x)).toThrow('this BatchNorm module was destroyed');
        expect(bn.numBatchesTracked).toBe(1); // the rejected forward was not counted
      }
      x.destroy();
    });
  });
});
