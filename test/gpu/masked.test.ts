// Keras's mask (issue 29): batch statistics over the positions a mask keeps, every position normalized
// with them, and the backward of that (kept positions get batch norm's gradient with the masked count,
// the others only the direct term), on every layout, f32 and f16 (packed here: SwiftShader has no
// shader-f16), in windows, with a fused ReLU and a residual, recorded into the caller's encoder, against the
// float64 references (src/reference/forward.ts and backward.ts with their `mask`).
import { describe, expect, it } from 'vitest';
import { BatchNorm, batchNorm, batchNormBackward, Gpu, Tensor } from '../../src/index.js';
import { batchNormBackwardReference, batchNormReference } from '../../src/reference.js';
import { planOperation } from '../../src/engine/runner.js';
import { roundToHalf } from '../../src/runtime/half.js';
import { channelLayout, numElements, withoutChannelAxis } from '../../src/runtime/shape.js';
import { channelParameters } from '../support/channel-parameters.js';
import { gaussian, seededRandom, uniform } from '../support/random.js';
import { relativeTolerance, runningMeanTolerance } from '../../src/reference/tolerances.js';
import { compareElements } from '../support/compare.js';
import { compareBackward, compareTrainingStatistics, compareY } from '../support/tolerances.js';
import { inErrorScopes, testGpu } from './gpu-context.js';

// Tolerances: those of the sweeps (src/reference/tolerances.ts), the backward's means over the masked count.

interface MaskedCase {
  readonly what: string;
  readonly shape: readonly number[];
  readonly axis: number;
  /** Whether its statistics take the rows kernels (else the slice kernels), as a GPU plans them. */
  readonly rows: boolean;
  /** Keep the first sample's positions only: the slices of the others are emptied. Default: makeMask's. */
  readonly firstSampleOnly?: boolean;
  /** Forces windows: samples larger than a binding are cut into value windows. */
  readonly maxBindingBytes?: number;
}

const CASES: readonly MaskedCase[] = [
  { what: 'padded sequences (Keras (N, T, C))', shape: [4, 9, 6], axis: -1, rows: true },
  { what: 'NCHW', shape: [3, 4, 5, 6], axis: 1, rows: false },
  { what: 'rank 2, (N, C)', shape: [20, 7], axis: -1, rows: true },
  { what: 'rank 5, a middle axis', shape: [2, 3, 4, 2, 3], axis: 2, rows: true },
  { what: 'NCHW, slices the mask empties', shape: [8, 2, 64, 64], axis: 1, rows: false, firstSampleOnly: true },
  { what: 'NCHW in value windows', shape: [3, 3, 10, 10], axis: 1, rows: false, maxBindingBytes: 512 },
  { what: 'long sequences in windows', shape: [3, 50, 8], axis: -1, rows: true, maxBindingBytes: 512 },
];

/**
 * A seeded mask of x's positions: for a sequence (N, T), each sample keeps a prefix of random length
 * (padding after it, as Keras's masking layers make); otherwise each position is kept with probability 0.6.
 * At least two positions are kept.
 */
function makeMask(random: () => number, shape: readonly number[], axis: number): Float32Array {
  const positions = withoutChannelAxis(shape, axis);
  const mask = new Float32Array(numElements(positions));
  if (positions.length === 2 && axis === -1) {
    const [n, t] = positions as [number, number];
    for (let i = 0; i < n; i++) {
      const length = 1 + Math.floor(random() * t);
      mask.fill(1, i * t, i * t + length);
    }
  } else {
    for (let i = 0; i < mask.length; i++) mask[i] = random() < 0.6 ? 1 : 0;
  }
  mask[0] = 1;
  mask[mask.length - 1] = 1;
  return mask;
}

interface MaskedRun {
  readonly dtype: 'f32' | 'f16';
  readonly relu?: boolean;
  readonly residual?: boolean;
  readonly encoder?: boolean;
  readonly seed: number;
}

/** Runs a masked training forward and its backward on `gpu` and checks every output against the references. */
async function checkMaskedCase(gpu: Gpu, c: MaskedCase, run: MaskedRun): Promise<void> {
  const { shape, axis } = c;
  const { dtype } = run;
  const { channels } = channelLayout(shape, axis);
  const rnd = seededRandom(run.seed);
  const size = numElements(shape);
  const values = (data: Float32Array) => (dtype === 'f16' ? roundToHalf(data) : data);
  const x = values(gaussian(rnd, size, 1.5, 2));
  const dy = values(gaussian(rnd, size));
  const z = run.residual ? values(gaussian(rnd, size, -0.5, 1.5)) : null;
  const mask = makeMask(rnd, shape, axis);
  if (c.firstSampleOnly) mask.fill(0, mask.length / shape[0]!);
  const { host, weight, bias, runningMean, runningVar } = channelParameters(gpu, rnd, channels);
  const xT = Tensor.fromArray(gpu, x, shape, { dtype });
  const dyT = Tensor.fromArray(gpu, dy, shape, { dtype });
  const zT = z ? Tensor.fromArray(gpu, z, shape, { dtype }) : null;
  const maskT = Tensor.fromArray(gpu, mask, withoutChannelAxis(shape, axis));
  const activation = run.relu ? 'relu' : null;
  const what = `${c.what} [${shape}] ${dtype}${run.relu ? ' relu' : ''}${z ? ' residual' : ''}${run.encoder ? ', one encoder' : ''}`;

  const encoder = run.encoder ? gpu.device.createCommandEncoder({ label: 'masked test' }) : undefined;
  const recording = encoder ? { encoder } : {};
  const fwd = batchNorm(gpu, xT, { training: true, axis, activation, weight, bias, runningMean, runningVar, residual: zT, mask: maskT, ...recording });
  const grads = batchNormBackward(gpu, dyT, xT, {
    training: true, saveMean: fwd.saveMean, saveInvstd: fwd.saveInvstd, axis, activation, weight, mask: maskT, ...recording,
    ...(z ? { residual: true, ...(run.relu ? { y: fwd.y } : {}) } : activation ? { bias } : {}),
  });
  if (encoder) gpu.device.queue.submit([encoder.finish()]);

  const ref = batchNormReference(x, shape, { training: true, axis, activation, ...host, residual: z, mask });
  const y = await fwd.y.toArray();
  compareY(`${what} y`, y, x, shape, ref, host.weight, host.bias, axis, dtype, z);
  const saved = { saveMean: await fwd.saveMean.toArray(), saveInvstd: await fwd.saveInvstd.toArray() };
  compareTrainingStatistics(what, { ...saved, runningMean: await runningMean.toArray(), runningVar: await runningVar.toArray() }, ref);
  // The backward's reference is fed the statistics the GPU backward read (src/reference/tolerances.ts).
  const reluOutput = run.relu ? y : null;
  const gradRef = batchNormBackwardReference(dy, x, shape, {
    training: true, axis, activation, weight: host.weight, residual: z !== null, reluOutput, mask, ...saved,
  });
  await compareBackward(what, grads, gradRef, { dy, x, shape, weight: host.weight, training: true, axis, reluOutput, dtype, mask });
  for (const t of [xT, dyT, zT, maskT, weight, bias, runningMean, runningVar, fwd.y, fwd.saveMean, fwd.saveInvstd, grads.dx, grads.dweight, grads.dbias]) {
    if (t !== dyT && t !== grads.dz) t?.destroy();
  }
}

describe('batchNorm and batchNormBackward with a mask', () => {
  for (const [k, c] of CASES.entries()) {
    it(`${c.what} [${c.shape}] axis ${c.axis}`, async () => {
      const gpu = await testGpu(k % 2 === 0, c.maxBindingBytes);
      const plan = planOperation(gpu, channelLayout(c.shape, c.axis), true, 'f32', true);
      expect(plan.rows, 'the plan').toBe(c.rows);
      if (c.firstSampleOnly) expect(plan.windows[0]!.slices).toBeGreaterThan(1); // the first sample's slices, and empty ones
      await inErrorScopes(gpu, async () => {
        for (const dtype of ['f32', 'f16'] as const) await checkMaskedCase(gpu, c, { dtype, seed: 10 + k });
        await checkMaskedCase(gpu, c, { dtype: 'f32', relu: true, seed: 20 + k });
        await checkMaskedCase(gpu, c, { dtype: 'f32', relu: true, residual: true, seed: 30 + k });
        await checkMaskedCase(gpu, c, { dtype: 'f16', residual: true, encoder: true, seed: 40 + k });
      });
    });
  }

  it("on this adapter's own plans (one-dispatch plans where unmasked)", async () => {
    const gpu = await testGpu(true, undefined, 'adapter');
    await inErrorScopes(gpu, async () => {
      for (const [k, c] of CASES.filter((m) => !m.maxBindingBytes).entries()) await checkMaskedCase(gpu, c, { dtype: 'f32', relu: true, seed: 50 + k });
    });
  });

  it("a mask of ones gives the unmasked results, inference ignores the mask, and a mask of zeros gives Keras's mean 0 and variance 0", async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const shape = [5, 4, 6];
      const rnd = seededRandom(5);
      const x = Tensor.fromArray(gpu, gaussian(rnd, numElements(shape), 1, 3), shape);
      const dy = Tensor.fromArray(gpu, gaussian(rnd, numElements(shape)), shape);
      const ones = Tensor.fromArray(gpu, new Float32Array(30).fill(1), [5, 6]);
      const plain = batchNorm(gpu, x, { training: true });
      const masked = batchNorm(gpu, x, { training: true, mask: ones });
      expect(Array.from(await masked.saveMean.toArray())).toEqual(Array.from(await plain.saveMean.toArray()));
      const plainDx = batchNormBackward(gpu, dy, x, { training: true, saveMean: plain.saveMean, saveInvstd: plain.saveInvstd }).dx;
      const maskedDx = batchNormBackward(gpu, dy, x, { training: true, saveMean: plain.saveMean, saveInvstd: plain.saveInvstd, mask: ones }).dx;
      const [a, b] = [await plainDx.toArray(), await maskedDx.toArray()];
      a.forEach((v, i) => expect(Math.abs(v - b[i]!)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(v))));
      const running = { runningMean: Tensor.fromArray(gpu, new Float32Array(4), [4]), runningVar: Tensor.fromArray(gpu, new Float32Array(4).fill(2), [4]) };
      const zeros = Tensor.fromArray(gpu, new Float32Array(30), [5, 6]);
      const inferred = batchNorm(gpu, x, { training: false, ...running });
      const inferredMasked = batchNorm(gpu, x, { training: false, ...running, mask: zeros });
      expect(Array.from(await inferredMasked.y.toArray())).toEqual(Array.from(await inferred.y.toArray()));
      // A mask that keeps nothing: Keras's mean 0 and variance 0 (the reference's too).
      const none = batchNorm(gpu, x, { training: true, ...running, mask: zeros });
      const ref = batchNormReference(await x.toArray(), shape, { training: true, mask: new Float32Array(30), runningMean: new Float32Array(4), runningVar: new Float32Array(4).fill(2) });
      expect(Array.from(await none.saveMean.toArray())).toEqual([0, 0, 0, 0]);
      compareTrainingStatistics('a mask of zeros', {
        saveMean: await none.saveMean.toArray(), saveInvstd: await none.saveInvstd.toArray(),
        runningMean: await running.runningMean.toArray(), runningVar: await running.runningVar.toArray(),
      }, ref);
      // The same by the slice kernels, whose every slice the mask empties.
      const nchw = [4, 2, 32, 32];
      expect(planOperation(gpu, channelLayout(nchw, 1), true, 'f32', true).rows).toBe(false);
      const sliced = batchNorm(gpu, Tensor.fromArray(gpu, gaussian(rnd, 8192, 1, 3), nchw), { training: true, mask: Tensor.fromArray(gpu, new Float32Array(4096), [4, 32, 32]) });
      expect(Array.from(await sliced.saveMean.toArray())).toEqual([0, 0]);
      for (const invstd of await sliced.saveInvstd.toArray()) expect(Math.abs(invstd * Math.sqrt(1e-5) - 1)).toBeLessThan(1e-6); // variance 0
    });
  });

  it('leaves masked-out positions out entirely: NaN, Inf or far-off padding reaches neither the statistics nor their pivot', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const shape = [3, 6, 2]; // (N, T, C)
      // Padding at the ends (the channel's first and last values, two of the pivot's three samples) or after each sequence.
      const masks = [(t: number) => t === 2 || t === 3, (t: number) => t < 4];
      for (const [m, keeps] of masks.entries()) {
        for (const pad of [Number.NaN, Number.POSITIVE_INFINITY, 1e9]) {
          const x = gaussian(seededRandom(9), 36, 3, 1);
          const mask = Float32Array.from({ length: 18 }, (_, p) => (keeps(p % 6) ? 1 : 0));
          mask.forEach((kept, p) => kept || x.fill(pad, 2 * p, 2 * p + 2));
          const { saveMean, saveInvstd } = batchNorm(gpu, Tensor.fromArray(gpu, x, shape), { training: true, axis: -1, mask: Tensor.fromArray(gpu, mask, [3, 6]) });
          const ref = batchNormReference(x, shape, { training: true, axis: -1, mask });
          compareTrainingStatistics(`mask ${m}, padding ${pad}`, { saveMean: await saveMean.toArray(), saveInvstd: await saveInvstd.toArray() }, ref);
          expect([...ref.saveMean, ...ref.saveInvstd].every(Number.isFinite)).toBe(true);
        }
      }
    });
  });

  it("runs on a device at WebGPU's default limits (8 storage buffers per shader), as tfjs's webgpu backend asks for", async () => {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) throw new Error('no WebGPU adapter');
    const device = await adapter.requestDevice();
    expect(device.limits.maxStorageBuffersPerShaderStage).toBe(8);
    const gpu = Gpu.fromDevice(device);
    await inErrorScopes(gpu, async () => {
      for (const c of CASES.filter((m) => !m.maxBindingBytes)) await checkMaskedCase(gpu, c, { dtype: 'f32', relu: true, residual: true, seed: 70 });
    });
    device.destroy();
  });

  it('refuses a mask of the wrong shape or dtype, naming both shapes', async () => {
    const gpu = await testGpu(true);
    const x = Tensor.fromArray(gpu, new Float32Array(2 * 3 * 4), [2, 3, 4]);
    const wrong = Tensor.fromArray(gpu, new Float32Array(6), [2, 3]);
    expect(() => batchNorm(gpu, x, { training: true, mask: wrong })).toThrow(
      "mask has shape [2,3]; it must be x's shape [2,3,4] without the channel axis (axis 1): [2,4]",
    );
    expect(() => batchNorm(gpu, x, { training: true, axis: -1, mask: Tensor.fromArray(gpu, new Float32Array(8), [2, 4]) })).toThrow(
      "mask has shape [2,4]; it must be x's shape [2,3,4] without the channel axis (axis -1): [2,3]",
    );
    const half = Tensor.fromArray(gpu, new Float32Array(8), [2, 4], { dtype: 'f16' });
    expect(() => batchNorm(gpu, x, { training: true, mask: half })).toThrow("mask has dtype 'f16'; a mask is 'f32'");
    const saved = batchNorm(gpu, x, { training: true });
    expect(() => batchNormBackward(gpu, x, x, { training: true, ...{ saveMean: saved.saveMean, saveInvstd: saved.saveInvstd }, mask: wrong })).toThrow(
      "mask has shape [2,3]; it must be x's shape [2,3,4]",
    );
    expect(() => batchNorm(gpu, x, { training: true, mask: 'ones' as unknown as Tensor })).toThrow(/mask/);
  });

  it("through BatchNorm.keras's forward and backward: several steps of a padded sequence batch; a mask written after the forward is refused", async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const [N, T, C] = [4, 7, 5];
      const shape = [N, T, C];
      const rnd = seededRandom(61);
      const bn = BatchNorm.keras(gpu, C, { momentum: 0.9, epsilon: 1e-3 });
      const weight = uniform(rnd, C, 0.5, 2);
      const bias = uniform(rnd, C, -1, 1);
      bn.setWeights([weight, bias, new Float32Array(C), new Float32Array(C).fill(1)]);
      let runningMean: Float32Array | Float64Array = new Float32Array(C);
      let runningVar: Float32Array | Float64Array = new Float32Array(C).fill(1);
      for (let step = 0; step < 3; step++) {
        const x = gaussian(rnd, N * T * C, step, 2);
        const dy = gaussian(rnd, N * T * C);
        const mask = makeMask(rnd, shape, -1);
        const [xT, dyT] = [x, dy].map((v) => Tensor.fromArray(gpu, v, shape)) as [Tensor, Tensor];
        const maskT = Tensor.fromArray(gpu, mask, [N, T]);
        const y = bn.forward(xT, { mask: maskT });
        const g = bn.backward(dyT);
        // Keras's convention: momentum 0.9 keeps 90% of the moving statistics, which take the biased variance.
        const ref = batchNormReference(x, shape, {
          training: true, axis: -1, weight, bias, eps: 1e-3, momentum: 0.1, runningMean, runningVar, runningVarEstimator: 'biased', mask,
        });
        compareY(`keras step ${step} y`, await y.toArray(), x, shape, ref, weight, bias, -1);
        compareElements(`keras step ${step} runningMean`, await bn.runningMean!.toArray(), ref.runningMean!, runningMeanTolerance(ref.runningMean!, ref.saveMean, ref.saveInvstd));
        compareElements(`keras step ${step} runningVar`, await bn.runningVar!.toArray(), ref.runningVar!, relativeTolerance(ref.runningVar!));
        // The module's backward reads its own saved statistics: the reference gets the float64 ones, within their tolerance.
        const gradRef = batchNormBackwardReference(dy, x, shape, { training: true, axis: -1, weight, mask, saveMean: ref.saveMean, saveInvstd: ref.saveInvstd });
        await compareBackward(`keras step ${step}`, g, gradRef, { dy, x, shape, weight, training: true, axis: -1, mask });
        [runningMean, runningVar] = [ref.runningMean!, ref.runningVar!];
        if (step === 2) {
          maskT.write(new Float32Array(N * T).fill(1));
          expect(() => bn.backward(dyT)).toThrow(/BatchNorm.backward: mask .* was written after the forward/);
        }
        for (const t of [xT, dyT, maskT, y, g.dx, g.dweight, g.dbias]) t.destroy();
      }
      bn.destroy();
    });
  });
});

