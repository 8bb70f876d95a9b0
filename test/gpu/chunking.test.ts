// Tensors larger than one storage binding run in windows of whole samples bound at buffer offsets. A
// small maxBindingBytes forces many windows on small tensors; one test runs a real 160 MiB tensor
// against the default 128 MiB binding size.
import { describe, expect, it } from 'vitest';
import { batchNorm, batchNormReference, requestGpu, Tensor } from '../../src/index.js';
import { compareElements } from '../support/compare.js';
import { gaussian, seededRandom, uniform } from '../support/random.js';
import { CHUNKED_CASES } from '../support/shape-sweep.js';
import { inErrorScopes, testGpu } from './gpu-context.js';

const Y_RTOL = 4e-6; // as forward.test.ts
const Y_ATOL = 1e-6;
const STAT_RTOL = 1e-6;

function checkForward(what: string, x: Float32Array, shape: readonly number[], y: Float32Array, ref: ReturnType<typeof batchNormReference>, weight: Float32Array | null, bias: Float32Array | null) {
  const channels = shape[1]!;
  const spatial = x.length / (shape[0]! * channels);
  return compareElements(what, y, ref.y, (i) => {
    const c = Math.floor(i / spatial) % channels;
    const scale = (weight ? weight[c]! : 1) * ref.invstd[c]!;
    const shift = (bias ? bias[c]! : 0) - ref.mean[c]! * scale;
    return Y_RTOL * (Math.abs(x[i]! * scale) + Math.abs(shift)) + Y_ATOL;
  });
}

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
            checkForward(`${training ? 'training' : 'inference'} y`, x, shape, y, ref, weight, bias);
            if (training) {
              compareElements('saveMean', await out.saveMean!.toArray(), ref.mean, (c) => STAT_RTOL * (Math.abs(ref.mean[c]!) + 1 / ref.invstd[c]!));
              compareElements('saveInvstd', await out.saveInvstd!.toArray(), ref.invstd, (c) => STAT_RTOL * ref.invstd[c]!);
              compareElements('runningVar', await rv.toArray(), ref.runningVar!, (c) => STAT_RTOL * ref.runningVar![c]!);
            }
            outputs.push(y);
          });
        }
        // Inference does the same arithmetic per element whatever the windows: bit-identical.
        if (!training) expect(outputs[0]).toEqual(outputs[1]);
      }
    });
  }

  it('a real 160 MiB training forward runs in windows of the default 128 MiB binding', async () => {
    const gpu = await testGpu(true, 128 * 2 ** 20);
    await inErrorScopes(gpu, async () => {
      const shape = [40, 64, 128, 128];
      const x = gaussian(seededRandom(160), 40 * 64 * 128 * 128, -2, 0.5);
      const xT = Tensor.fromArray(gpu, x, shape);
      expect(xT.byteLength).toBe(160 * 2 ** 20);
      const out = batchNorm(gpu, xT, { training: true });
      const ref = batchNormReference(x, shape, { training: true });
      const cmp = checkForward('160 MiB y', x, shape, await out.y.toArray(), ref, null, null);
      compareElements('160 MiB saveInvstd', await out.saveInvstd!.toArray(), ref.invstd, (c) => STAT_RTOL * ref.invstd[c]!);
      console.log(`160 MiB forward in 128 MiB windows: worst |y - ref| = ${cmp.maxAbsError.toExponential(2)}`);
      for (const t of [xT, out.y, out.saveMean, out.saveInvstd]) t?.destroy();
    });
  });

  it('says when one sample does not fit a binding', async () => {
    const gpu = await testGpu(true, 1024);
    const x = Tensor.fromArray(gpu, new Float32Array(2 * 300), [2, 3, 100]);
    expect(() => batchNorm(gpu, x, { training: true })).toThrow(
      'one sample of x (C*spatial = 3*100 values, 1200 bytes) does not fit in one storage binding of 1024 bytes',
    );
    x.destroy();
  });

  it('rejects a maxBindingBytes that is not a multiple of 4 or below 256', async () => {
    await expect(requestGpu({ maxBindingBytes: 100 })).rejects.toThrow('maxBindingBytes must be a multiple of 4 and at least 256, got 100');
    await expect(requestGpu({ maxBindingBytes: 1001 })).rejects.toThrow('got 1001');
  });
});
