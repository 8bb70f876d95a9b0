// The benchmark's GPU timing in headless Chromium (SwiftShader here: its times say nothing about a GPU,
// so nothing here asserts on them): the runner's internal pass timer, which records each pass of an
// operation in a timestamped compute pass of its own named by its kernel and changes no result; the
// per-pass and per-call trials built on it; the copy kernel (the roofline), checked bit for bit, across
// binding windows; and the add+ReLU kernel of the residual comparison's unfused sequence.
import { describe, expect, it } from 'vitest';
import { AddReluKernel } from '../../bench/add-relu-kernel.js';
import { CopyKernel } from '../../bench/copy-kernel.js';
import { callTrial, countPasses, PassTimestamps, passTrial, TimestampSpan, type GpuCall } from '../../bench/gpu-timing.js';
import { DEFAULT_SETTINGS } from '../../bench/benchmark.js';
import { interleavedTrials, KERNEL_BYTES_PER_ELEMENT } from '../../bench/statistics.js';
import { variantGpu } from '../../bench/variants.js';
import { batchNorm, batchNormBackward, Tensor, type Gpu } from '../../src/index.js';
import { planOperation, withPassTimer } from '../../src/engine/runner.js';
import { channelLayout } from '../../src/runtime/shape.js';
import { gaussian, seededRandom } from '../support/random.js';
import { inErrorScopes, testGpu } from './gpu-context.js';

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** x, dy, saved statistics and out tensors of one shape, and the calls the benchmark times. */
function operations(gpu: Gpu, shape: readonly number[]) {
  const rnd = seededRandom(size(shape));
  const channels = shape[1]!;
  const x = Tensor.fromArray(gpu, gaussian(rnd, size(shape), 3, 2), shape);
  const dy = Tensor.fromArray(gpu, gaussian(rnd, size(shape)), shape);
  const saved = batchNorm(gpu, x, { training: true });
  const out = () => ({ y: Tensor.empty(gpu, shape), saveMean: Tensor.empty(gpu, [channels]), saveInvstd: Tensor.empty(gpu, [channels]) });
  const grads = () => ({ dx: Tensor.empty(gpu, shape), dweight: Tensor.empty(gpu, [channels]), dbias: Tensor.empty(gpu, [channels]) });
  const weight = Tensor.fromArray(gpu, new Float32Array(channels).fill(1.5), [channels]);
  const backwardOptions = { training: true as const, weight, saveMean: saved.saveMean!, saveInvstd: saved.saveInvstd! };
  return {
    forward: (o: ReturnType<typeof out>): GpuCall => (recording) => batchNorm(gpu, x, { training: true, weight, out: o, ...recording }),
    inference: (o: ReturnType<typeof out>): GpuCall => (recording) =>
      batchNorm(gpu, x, { training: false, weight, runningMean: saved.saveMean!, runningVar: weight, out: { y: o.y }, ...recording }),
    backward: (g: ReturnType<typeof grads>): GpuCall => (recording) => batchNormBackward(gpu, dy, x, { ...backwardOptions, out: g, ...recording }),
    out,
    grads,
  };
}

/** Records `call` once under a pass timer and submits it: the kernels of the passes it timed. */
async function timedPasses(gpu: Gpu, call: GpuCall): Promise<readonly string[]> {
  const timestamps = new PassTimestamps(gpu);
  try {
    const encoder = gpu.device.createCommandEncoder();
    withPassTimer(timestamps, () => call({ encoder }));
    gpu.device.queue.submit([encoder.finish()]);
    const { kernels, ticks } = await timestamps.read();
    expect(ticks).toHaveLength(2 * kernels.length);
    return kernels;
  } finally {
    timestamps.destroy();
  }
}

/** Records `call` once as the library does (one compute pass) and submits it. */
function plainCall(gpu: Gpu, call: GpuCall): void {
  const encoder = gpu.device.createCommandEncoder();
  call({ encoder });
  gpu.device.queue.submit([encoder.finish()]);
}

const bits = async (t: Tensor) => new Uint32Array((await t.toArray()).buffer);

describe('the pass timer', () => {
  it('the device has timestamp-query (the per-pass times need it)', async () => {
    expect((await testGpu(true)).features.timestampQuery).toBe(true);
  });

  for (const [what, shape, singlePass] of [
    ['three-pass plan', [4, 3, 64, 64], false],
    ['one-dispatch plan', [2, 3, 4, 4], true],
  ] as const) {
    it(`names each pass of a ${what} by its kernel and leaves every output bit for bit as the one-pass recording`, async () => {
      const gpu = await testGpu(true);
      expect(planOperation(gpu, channelLayout(shape), true).singlePass).toBe(singlePass);
      await inErrorScopes(gpu, async () => {
        const ops = operations(gpu, shape);
        const [plain, timed] = [ops.out(), ops.out()];
        const [plainGrads, timedGrads] = [ops.grads(), ops.grads()];
        plainCall(gpu, ops.forward(plain));
        plainCall(gpu, ops.backward(plainGrads));
        expect(await timedPasses(gpu, ops.forward(timed))).toEqual(singlePass ? ['stats-apply'] : ['stats', 'finalize', 'apply']);
        expect(await timedPasses(gpu, ops.backward(timedGrads))).toEqual(singlePass ? ['backward-fused'] : ['backward-reduce', 'backward-finalize', 'backward-apply']);
        for (const [a, b] of [[plain.y, timed.y], [plain.saveMean, timed.saveMean], [plain.saveInvstd, timed.saveInvstd], [plainGrads.dx, timedGrads.dx], [plainGrads.dweight, timedGrads.dweight], [plainGrads.dbias, timedGrads.dbias]] as const) {
          expect(await bits(b)).toEqual(await bits(a));
        }
        expect(await timedPasses(gpu, ops.inference(ops.out()))).toEqual(['apply-running']);
      });
    });
  }

  it("names passes with the kernel records' keys, each of which has a byte count", async () => {
    const gpu = await testGpu(true);
    const ops = operations(gpu, [4, 3, 64, 64]);
    const kernels = [...(await timedPasses(gpu, ops.forward(ops.out()))), ...(await timedPasses(gpu, ops.backward(ops.grads())))];
    for (const kernel of kernels) expect(Object.keys(KERNEL_BYTES_PER_ELEMENT)).toContain(kernel);
  });

  it('times a variant through its own Gpu on the shared device, per call and per pass, interleaved', async () => {
    const gpu = await testGpu(true);
    const variant = variantGpu(gpu, { label: 'few workgroups', options: { reductionWorkgroups: 1 } });
    expect(variant.device).toBe(gpu.device);
    expect(variant.reductionWorkgroups).toBe(1);
    const shape = [4, 3, 64, 64];
    const settings = { ...DEFAULT_SETTINGS, trials: 1, warmupTrials: 1, maxWarmupTrials: 1, targetTrialMs: 1, maxIterations: 2 };
    const calls = [operations(gpu, shape), operations(variant, shape)].map((ops) => ops.forward(ops.out()));
    const spans = calls.map(() => new TimestampSpan(gpu));
    const timers = calls.map(() => new PassTimestamps(gpu));
    try {
      const totals = await inErrorScopes(gpu, () => interleavedTrials(settings, calls.map((c, i) => callTrial(gpu, spans[i]!, c)), 'until-stable'));
      const passes = await inErrorScopes(gpu, () => interleavedTrials(settings, calls.map((c, i) => passTrial(gpu, timers[i]!, c, countPasses(gpu, timers[i]!, c))), 'until-stable'));
      for (const series of totals) expect(series.summary.medianMs).toBeGreaterThan(0);
      // The variant's one workgroup per channel makes this shape one dispatch; the GPU target, three passes.
      expect(passes.map((s) => s.kept[0]!.passes.map((p) => p.kernel))).toEqual([['stats', 'finalize', 'apply'], ['stats-apply']]);
      for (const series of passes) expect(series.kept[0]!.ms).toBeCloseTo(series.kept[0]!.passes.reduce((sum, p) => sum + p.ms, 0), 9);
    } finally {
      for (const s of [...spans, ...timers]) s.destroy();
      variant.destroy();
    }
  });
});

describe('the copy kernel', () => {
  it('copies every value bit for bit, an odd count, whole and in binding windows', async () => {
    const values = gaussian(seededRandom(5), 4099, 0, 1e30);
    values[7] = NaN;
    values[8] = -0;
    for (const gpu of [await testGpu(true), await testGpu(true, 1024)]) {
      const copy = await CopyKernel.checked(gpu, values);
      expect(copy.elements).toBe(4099);
      copy.destroy();
    }
  });
});

describe('the add+ReLU kernel (the residual comparison\'s unfused sequence)', () => {
  it('writes relu(y + z) of batchNorm\'s y, bit for bit as float32 adds it, an odd count, whole and in binding windows', async () => {
    const shape = [9, 5, 7, 3]; // 945 values; a sample of 420 bytes: windows of two samples in 1024 bytes
    const n = size(shape);
    for (const gpu of [await testGpu(true), await testGpu(true, 1024)]) {
      await inErrorScopes(gpu, async () => {
        const rnd = seededRandom(6);
        const x = Tensor.fromArray(gpu, gaussian(rnd, n, 1, 2), shape);
        const kernel = new AddReluKernel(gpu, shape, gaussian(rnd, n));
        const encoder = gpu.device.createCommandEncoder();
        batchNorm(gpu, x, { training: true, out: { y: kernel.y }, encoder });
        kernel.record({ encoder });
        gpu.device.queue.submit([encoder.finish()]);
        const [y, z, result] = [await kernel.y.toArray(), await kernel.z.toArray(), await kernel.result()];
        const expected = y.map((v, i) => Math.max(Math.fround(v + z[i]!), 0));
        expect(result.slice(0, n)).toEqual(expected);
        expect(expected.some((v) => v === 0) && expected.some((v) => v > 0)).toBe(true);
        kernel.destroy();
        x.destroy();
      });
    }
  });
});
