// Many calls, no leaks, no cross-talk: the live-buffer count stays flat over 1000 calls on varying
// shapes, and interleaved calls on several modules and tensors, with scratch buffers shared between
// them, never see each other's data.
import { describe, expect, it } from 'vitest';
import { BatchNorm, batchNorm, batchNormReference, Tensor } from '../../src/index.js';
import { compareElements } from '../support/compare.js';
import { gaussian, randomInt, seededRandom } from '../support/random.js';
import { inErrorScopes, testGpu } from './gpu-context.js';

const Y_TOL = 1e-5; // |y - ref| for unit-scale data (forward.test.ts states the general bound)

describe('many calls', () => {
  it('1000 forward calls on varying shapes leave the live-buffer count where it was', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const rnd = seededRandom(1000);
      const problems = Array.from({ length: 8 }, () => {
        const shape = [randomInt(rnd, 2, 6), randomInt(rnd, 1, 16), randomInt(rnd, 1, 9), randomInt(rnd, 1, 9)];
        const channels = shape[1]!;
        return {
          x: Tensor.fromArray(gpu, gaussian(rnd, shape.reduce((a, b) => a * b, 1)), shape),
          runningMean: Tensor.fromArray(gpu, new Float32Array(channels), [channels]),
          runningVar: Tensor.fromArray(gpu, new Float32Array(channels).fill(1), [channels]),
        };
      });
      const call = (i: number) => {
        const p = problems[i % problems.length]!;
        const out = batchNorm(gpu, p.x, { training: i % 3 !== 0, runningMean: p.runningMean, runningVar: p.runningVar });
        for (const t of [out.y, out.saveMean, out.saveInvstd]) t?.destroy();
      };
      // One call of each kind first: scratch buffers grow to the largest shape and then stay.
      for (let i = 0; i < problems.length * 3; i++) call(i);
      const before = gpu.liveBuffers;
      for (let i = 0; i < 1000; i++) call(i);
      await gpu.device.queue.onSubmittedWorkDone();
      expect(gpu.liveBuffers).toBe(before);
      console.log(`live buffers: ${before} before 1000 forward calls, ${gpu.liveBuffers} after`);
      for (const p of problems) for (const t of Object.values(p)) t.destroy();
    });
  });
});

describe('interleaving', () => {
  it('calls on several modules and tensors, submitted back to back, never see each other\'s scratch data', async () => {
    const gpu = await testGpu(false);
    await inErrorScopes(gpu, async () => {
      const rnd = seededRandom(77);
      // Different C and slice counts, so shared scratch (partials, scale-shift, params) is rewritten
      // between calls whose work has not run yet.
      const shapes = [[4, 3, 8, 8], [2, 64, 5, 5], [16, 1, 33, 33], [3, 7, 2, 2]];
      const modules = shapes.map((s) => new BatchNorm(gpu, s[1]!));
      const xs = shapes.map((s, i) => gaussian(rnd, s.reduce((a, b) => a * b, 1), i * 10, i + 1));
      const tensors = xs.map((x, i) => Tensor.fromArray(gpu, x, shapes[i]!));
      const ys = [];
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < shapes.length; i++) ys.push({ i, y: modules[i]!.forward(tensors[i]!) });
      }
      for (const { i, y } of ys) {
        const ref = batchNormReference(xs[i]!, shapes[i]!, { training: true });
        compareElements(`module ${i}`, await y.toArray(), ref.y, () => Y_TOL);
        y.destroy();
      }
      for (let i = 0; i < shapes.length; i++) expect(modules[i]!.numBatchesTracked).toBe(3);
      for (const m of modules) m.destroy();
      for (const t of tensors) t.destroy();
    });
  });
});
