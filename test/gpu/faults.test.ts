// Faults in the backward pass and at the edges of the device: a device lost during and after a backward,
// a GPU validation error inside a backward, a tensor beyond maxBufferSize, NaN and Inf in x through a
// training forward and backward. (forward-api.test.ts covers device loss and GPU errors for the forward.)
import { describe, expect, it } from 'vitest';
import {
  BatchNorm,
  batchNorm,
  batchNormBackward,
  DeviceLostError,
  requestGpu,
  Tensor,
  type Gpu,
} from '../../src/index.js';
import { batchNormBackwardReference, batchNormReference } from '../../src/reference.js';
import { gaussian, seededRandom, uniform } from '../support/random.js';
import { compareBackward, compareTrainingStatistics, compareY, STAT_RTOL } from '../support/tolerances.js';
import { inErrorScopes, testGpu } from './gpu-context.js';

// Tolerances (Y_RTOL/Y_ATOL, STAT_RTOL, DX_RTOL, SUM_RTOL) are those of the sweeps, stated in
// test/support/tolerances.ts.

// A fault must settle promptly; a hang fails the test with this instead of the 300 s test timeout.
const SETTLE_MS = 10_000;

type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

/** How `promise` settled; fails the test if it does not settle within SETTLE_MS. */
async function settled<T>(promise: Promise<T>, what: string): Promise<Outcome<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<'hang'>((resolve) => (timer = setTimeout(resolve, SETTLE_MS, 'hang')));
  const outcome = promise.then(
    (value): Outcome<T> => ({ ok: true, value }),
    (error: unknown): Outcome<T> => ({ ok: false, error }),
  );
  try {
    const first = await Promise.race([outcome, hang]);
    if (first === 'hang') throw new Error(`${what} did not settle within ${SETTLE_MS} ms`);
    return first;
  } finally {
    clearTimeout(timer);
  }
}

/** The error `promise` rejects with; fails the test if it resolves or hangs. */
async function rejectionOf(promise: Promise<unknown>, what: string): Promise<unknown> {
  const outcome = await settled(promise, what);
  if (outcome.ok) throw new Error(`${what} resolved; expected it to reject`);
  return outcome.error;
}

/** What a synchronous call throws. */
function thrownBy(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw');
}

/** A small training problem: x, dy and a weight on the host and on `gpu`. */
function problem(gpu: Gpu, seed: number, shape: readonly number[]) {
  const rnd = seededRandom(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const channels = shape[1]!;
  const x = gaussian(rnd, size, 1, 2);
  const dy = gaussian(rnd, size, 0.5, 1);
  const weight = uniform(rnd, channels, 0.5, 2);
  return {
    x, dy, weight,
    xT: Tensor.fromArray(gpu, x, shape, { label: 'x' }),
    dyT: Tensor.fromArray(gpu, dy, shape, { label: 'dy' }),
    weightT: Tensor.fromArray(gpu, weight, [channels], { label: 'weight' }),
  };
}

/** Runs a training forward and backward on `gpu` and checks the gradients against the reference. */
async function checkTrainingStep(gpu: Gpu, seed: number, shape: readonly number[]): Promise<void> {
  const p = problem(gpu, seed, shape);
  const fwd = batchNorm(gpu, p.xT, { training: true, weight: p.weightT });
  const grads = batchNormBackward(gpu, p.dyT, p.xT, { weight: p.weightT, saveMean: fwd.saveMean!, saveInvstd: fwd.saveInvstd!, training: true });
  const saved = { saveMean: await fwd.saveMean!.toArray(), saveInvstd: await fwd.saveInvstd!.toArray() };
  const ref = batchNormBackwardReference(p.dy, p.x, shape, { weight: p.weight, ...saved, training: true });
  await compareBackward('training step', grads, ref, { dy: p.dy, x: p.x, shape, weight: p.weight, training: true });
  for (const t of [p.xT, p.dyT, p.weightT, fwd.y, fwd.saveMean, fwd.saveInvstd, grads.dx, grads.dweight, grads.dbias]) t?.destroy();
}

const LOST = /WebGPU device was lost \(destroyed\)/;

describe('device loss in backward', () => {
  it('rejects pending and later readbacks of dx, later calls throw the same error, nothing hangs, and a new device works', async () => {
    const gpu = await requestGpu(); // its own device: the test destroys it
    const shape = [4, 3, 6, 6];
    const p = problem(gpu, 31, shape);
    const bn = new BatchNorm(gpu, 3);
    bn.forward(p.xT).destroy();
    const during = bn.backward(p.dyT);
    const pending = [during.dx.toArray(), during.dweight!.toArray()]; // readbacks in flight at the loss
    const after = bn.backward(p.dyT); // submitted, read only after the loss
    gpu.device.destroy();

    const lost = await rejectionOf(pending[0]!, 'pending dx.toArray()');
    console.log(`device lost during backward: pending dx.toArray() rejected with ${String(lost)}`);
    expect(lost).toBeInstanceOf(DeviceLostError);
    expect((lost as Error).message).toMatch(LOST);
    expect(await rejectionOf(pending[1]!, 'pending dweight.toArray()')).toBe(lost);
    expect(await gpu.lost).toBe(lost);
    expect(gpu.isLost).toBe(true);

    // After the loss, every call fails at once with the same error.
    expect(await rejectionOf(after.dx.toArray(), 'dx.toArray() after the loss')).toBe(lost);
    expect(thrownBy(() => bn.backward(p.dyT))).toBe(lost);
    expect(thrownBy(() => bn.forward(p.xT))).toBe(lost);
    expect(thrownBy(() => batchNormBackward(gpu, p.dyT, p.xT, { runningMean: bn.runningMean!, runningVar: bn.runningVar!, training: false }))).toBe(lost);
    expect(thrownBy(() => Tensor.empty(gpu, shape))).toBe(lost);
    // ready() settles too, and says the outputs' contents are gone with the device.
    for (const t of [during.dx, after.dx]) expect(await rejectionOf(t.ready(), `${t.label}.ready()`)).toBe(lost);

    // Freeing what is left still works and frees everything; a new device can be requested and used.
    bn.destroy();
    for (const t of [p.xT, p.dyT, p.weightT, during.dx, during.dweight, during.dbias, after.dx, after.dweight, after.dbias]) t?.destroy();
    gpu.destroy();
    expect(gpu.liveBuffers).toBe(0);
    const again = await requestGpu();
    expect(again.isLost).toBe(false);
    await inErrorScopes(again, () => checkTrainingStep(again, 32, shape));
    again.destroy();
  });
});

describe('GPU errors in backward', () => {
  it('a validation error surfaces from dx.toArray() with the GPU\'s message, and later calls are unaffected', async () => {
    const gpu = await requestGpu(); // its own device: the error must not reach the shared ones
    const shape = [4, 3, 6, 6];
    const p = problem(gpu, 41, shape);
    const fwd = batchNorm(gpu, p.xT, { training: true, weight: p.weightT });
    p.dyT.buffer.destroy(); // behind the library's back: the submit that reads dy is invalid
    const grads = batchNormBackward(gpu, p.dyT, p.xT, { weight: p.weightT, saveMean: fwd.saveMean!, saveInvstd: fwd.saveInvstd!, training: true });
    const error = (await rejectionOf(grads.dx.toArray(), 'dx.toArray() after a validation error')) as Error;
    console.log(`validation error in backward: dx.toArray() rejected with ${String(error)}`);
    expect(error.name).toBe('GpuOperationError');
    expect(error.message).toMatch(/^batchNorm backward failed on the GPU: .*destroyed/is);
    expect(error.message).toContain('"dy"'); // the GPU's message names the buffer by its label
    expect(await rejectionOf(grads.dweight!.ready(), 'dweight.ready()')).toBe(error);
    expect(await rejectionOf(grads.dbias!.toArray(), 'dbias.toArray()')).toBe(error);
    for (const t of [p.xT, p.dyT, p.weightT, fwd.y, fwd.saveMean, fwd.saveInvstd, grads.dx, grads.dweight, grads.dbias]) t?.destroy();
    // The error stays with the outputs of the call that made it.
    await inErrorScopes(gpu, () => checkTrainingStep(gpu, 42, shape));
    gpu.destroy();
  });
});

describe('limits', () => {
  it('a tensor beyond maxBufferSize is refused with its size and the limit, before anything is allocated', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const limit = gpu.device.limits.maxBufferSize;
      const elements = Math.floor(limit / 4) + 1; // one f32 more than fits
      const message = `needs ${elements * 4} bytes; the device's maxBufferSize is ${limit}`;
      console.log(`maxBufferSize ${limit}: a tensor of [${elements}] f32 is refused ('${message}')`);
      const before = gpu.liveBuffers;
      expect(() => Tensor.empty(gpu, [elements], { label: 'huge' })).toThrow(`tensor 'huge' [${elements}] ${message}`);
      // An array-like with only a length: fromArray checks the size before it reads or packs any data.
      const data = { length: elements } as unknown as readonly number[];
      expect(() => Tensor.fromArray(gpu, data, [elements], { label: 'huge' })).toThrow(`tensor 'huge' [${elements}] ${message}`);
      expect(gpu.liveBuffers).toBe(before);
    });
  });
});

describe('NaN and Inf in x', () => {
  // Channels 1, 3 and 5 hold one NaN, +Inf and -Inf: their y, saved statistics and dx are NaN (the
  // mean is +-Inf, as PyTorch's); channels 0, 2 and 4 are exact, as is every dbias = sum(dy).
  const shape = [4, 6, 5, 5];
  const poisoned = new Map([[1, NaN], [3, Infinity], [5, -Infinity]]);

  for (const subgroups of [true, false]) {
    it(`stay in their channel through a training forward and backward (${subgroups ? 'subgroups' : 'workgroup memory'})`, async () => {
      const gpu = await testGpu(subgroups);
      await inErrorScopes(gpu, async () => {
        const rnd = seededRandom(50);
        const size = shape.reduce((a, b) => a * b, 1);
        const x = gaussian(rnd, size, 2, 3);
        for (const [c, value] of poisoned) x[(2 * 6 + c) * 25 + 7] = value; // n=2, one element of channel c
        const dy = gaussian(rnd, size, 0.5, 1);
        const weight = uniform(rnd, 6, 0.5, 2);
        const bias = uniform(rnd, 6, -1, 1);
        const t = (data: Float32Array, s: readonly number[]) => Tensor.fromArray(gpu, data, s);
        const [xT, dyT, wT, bT] = [t(x, shape), t(dy, shape), t(weight, [6]), t(bias, [6])];
        const [rmT, rvT] = [t(new Float32Array(6), [6]), t(new Float32Array(6).fill(1), [6])];

        const fwd = batchNorm(gpu, xT, { training: true, weight: wT, bias: bT, runningMean: rmT, runningVar: rvT });
        const grads = batchNormBackward(gpu, dyT, xT, { weight: wT, saveMean: fwd.saveMean!, saveInvstd: fwd.saveInvstd!, training: true });
        const ref = batchNormReference(x, shape, { training: true, weight, bias, runningMean: new Float32Array(6), runningVar: new Float32Array(6).fill(1) });
        const y = await fwd.y.toArray();
        const saved = { saveMean: await fwd.saveMean!.toArray(), saveInvstd: await fwd.saveInvstd!.toArray() };
        // compareElements requires NaN exactly where the reference has it and the same infinities.
        compareY('y', y, x, shape, ref, weight, bias);
        compareTrainingStatistics('NaN/Inf', { ...saved, runningMean: await rmT.toArray(), runningVar: await rvT.toArray() }, ref);
        const gradsRef = batchNormBackwardReference(dy, x, shape, { weight, ...saved, training: true });
        await compareBackward('NaN/Inf', grads, gradsRef, { dy, x, shape, weight, training: true });
        // Stated plainly: every y and dx of a poisoned channel is NaN, none of a clean one.
        const dx = await grads.dx.toArray();
        for (let c = 0; c < 6; c++) {
          const values = (a: Float32Array) => Array.from({ length: 4 * 25 }, (_, k) => a[(Math.floor(k / 25) * 6 + c) * 25 + (k % 25)]!);
          const expected = poisoned.has(c) ? 100 : 0;
          expect(values(y).filter(Number.isNaN).length, `NaN y in channel ${c}`).toBe(expected);
          expect(values(dx).filter(Number.isNaN).length, `NaN dx in channel ${c}`).toBe(expected);
        }
        expect(saved.saveMean[3]).toBe(Infinity);
        expect(saved.saveMean[5]).toBe(-Infinity);
        for (const tensor of [xT, dyT, wT, bT, rmT, rvT, fwd.y, fwd.saveMean, fwd.saveInvstd, grads.dx, grads.dweight, grads.dbias]) tensor?.destroy();
      });
    });
  }

  // An Inf among values near the float32 limit: shifted by a pivot near the limit, the bulk's sum
  // overflows to the other infinity, and Inf - Inf made saveMean NaN where the float64 mean is the Inf.
  // As float64 (and PyTorch): saveMean +-Inf, saveInvstd and y NaN (the variance meets Inf - Inf), the
  // running mean +-Inf and the running variance NaN. A channel of such values without an Inf keeps its
  // finite mean (its sum overflowed to an infinity before). Scalar and vec4 slices, several slices of a channel, and the rows kernels.
  for (const subgroups of [true, false]) {
    it(`an Inf among values near the float32 limit gives saveMean Inf, as float64 (${subgroups ? 'subgroups' : 'workgroup memory'})`, async () => {
      const gpu = await testGpu(subgroups);
      await inErrorScopes(gpu, async () => {
        for (const shape of [[4, 3, 5, 5], [4, 3, 16], [8, 70], [16, 3, 64, 64]]) {
          const size = shape.reduce((a, b) => a * b, 1);
          const [batch, channels] = [shape[0]!, shape[1]!];
          const spatial = size / (batch * channels);
          const x = gaussian(seededRandom(51), size, 2, 3);
          const index = (c: number, k: number) => (Math.floor(k / spatial) * channels + c) * spatial + (k % spatial);
          const count = batch * spatial;
          for (const c of [0, 1, 2]) for (let k = 0; k < count; k += 2) x[index(c, k)] = 3e38;
          x[index(0, Math.floor(count / 3))] = Infinity;
          x[index(1, Math.floor(count / 3))] = -Infinity;
          const xT = Tensor.fromArray(gpu, x, shape);
          const rmT = Tensor.fromArray(gpu, new Float32Array(channels), [channels]);
          const rvT = Tensor.fromArray(gpu, new Float32Array(channels).fill(1), [channels]);
          const fwd = batchNorm(gpu, xT, { training: true, runningMean: rmT, runningVar: rvT });
          const ref = batchNormReference(x, shape, { training: true, runningMean: new Float32Array(channels), runningVar: new Float32Array(channels).fill(1) });
          const [saveMean, saveInvstd, y, runningMean, runningVar] = await Promise.all([fwd.saveMean!, fwd.saveInvstd!, fwd.y, rmT, rvT].map((t) => t.toArray()));
          const what = `[${shape}]`;
          expect([saveMean![0], saveMean![1]], `${what} saveMean`).toEqual([Infinity, -Infinity]);
          expect([ref.saveMean[0], ref.saveMean[1]]).toEqual([Infinity, -Infinity]);
          expect([runningMean![0], runningMean![1]], `${what} runningMean`).toEqual([Infinity, -Infinity]);
          for (const c of [0, 1]) {
            expect([saveInvstd![c], runningVar![c], ref.saveInvstd[c], ref.runningVar![c]].every(Number.isNaN), `${what} channel ${c}: invstd and running variance NaN`).toBe(true);
            expect(Array.from({ length: count }, (_, k) => y![index(c, k)]).filter((v) => !Number.isNaN(v)), `${what} channel ${c}: y NaN`).toEqual([]);
          }
          expect(Math.abs(saveMean![2]! - ref.saveMean[2]!), `${what} a finite mean near the limit`).toBeLessThanOrEqual(STAT_RTOL * ref.saveMean[2]!);
          // Its variance (2.25e76) overflows float32: invstd 0, as PyTorch's float32 variance gives (not NaN).
          expect(saveInvstd![2], `${what} invstd of a variance beyond float32`).toBe(0);
          for (const t of [xT, rmT, rvT, fwd.y, fwd.saveMean, fwd.saveInvstd]) t?.destroy();
        }
      });
    });
  }
});
