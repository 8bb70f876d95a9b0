// Composition with the caller's WebGPU work: operations recorded into the caller's encoder (nothing
// submitted, nothing run before the caller submits, every recorded call with its own parameters),
// tensors that wrap the caller's buffers at offsets, and what reaches the device, counted through a
// recording wrapper around a real device.
import { describe, expect, it } from 'vitest';
import {
  batchNorm,
  batchNormBackward,
  BatchNorm,
  Gpu,
  Tensor,
} from '../../src/index.js';
import { batchNormBackwardReference, batchNormReference, type ReferenceForwardResult } from '../../src/reference.js';
import { checkForwardBackward, runForwardBackward } from '../../bench/check.js';
import { PARAMS_CACHE_ENTRIES } from '../../src/engine/params.js';
import { planOperation } from '../../src/engine/runner.js';
import { channelLayout } from '../../src/runtime/shape.js';
import { gaussian, seededRandom, uniform } from '../support/random.js';
import { recordingDevice, recordingEncoder, type DeviceLog } from '../support/recording-device.js';
import { compareBackward, compareTrainingStatistics, compareY } from '../support/tolerances.js';
import { inErrorScopes, testGpu } from './gpu-context.js';

// Tolerances (Y_RTOL/Y_ATOL, STAT_RTOL, DX_RTOL, SUM_RTOL) are those of the sweeps, stated in
// test/support/tolerances.ts.

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** A Gpu on a recording wrapper of the test device, with an optional small binding size (chunking). */
async function recorded(maxBindingBytes?: number): Promise<{ gpu: Gpu; log: DeviceLog; unwrapped: GPUDevice }> {
  const base = await testGpu(true);
  const { device, log } = recordingDevice(base.device);
  return { gpu: Gpu.fromDevice(device, maxBindingBytes === undefined ? {} : { maxBindingBytes }), log, unwrapped: base.device };
}

const counts = (log: DeviceLog) => ({ ...log });
const since = (before: DeviceLog, log: DeviceLog) => ({
  submits: log.submits - before.submits,
  passes: log.passes - before.passes,
  dispatches: log.dispatches - before.dispatches,
  writeBuffers: log.writeBuffers - before.writeBuffers,
});

describe('what reaches the device', () => {
  it('a device with WebGPU\'s default 8 storage buffers per shader runs the backward in three passes (the one-dispatch backward binds 9), and right', async () => {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) throw new Error('no WebGPU adapter');
    const { device, log } = recordingDevice(await adapter.requestDevice());
    expect(device.limits.maxStorageBuffersPerShaderStage).toBe(8);
    const gpu = Gpu.fromDevice(device);
    const shape = [4, 3, 12];
    expect(planOperation(gpu, channelLayout(shape), true).singlePass).toBe(true);
    const rnd = seededRandom(21);
    const inputs = {
      x: gaussian(rnd, size(shape), 1, 2), shape, training: true, weight: uniform(rnd, 3, 0.5, 2), bias: uniform(rnd, 3, -1, 1),
      runningMean: new Float32Array(3), runningVar: new Float32Array(3).fill(1), dy: gaussian(rnd, size(shape)), eps: 1e-5, momentum: 0.1,
    };
    const before = log.dispatches;
    const { passed, checks } = checkForwardBackward(inputs, await runForwardBackward(gpu, inputs));
    expect(passed, checks.map((c) => `${c.what} ${c.accuracy.worstRatio}`).join(', ')).toBe(true);
    expect(log.dispatches - before).toBe(1 + 3); // the forward in one dispatch, the backward in three
    device.destroy();
  });

  it('a steady-state call pushes one error scope (validation); a call that creates buffers or pipelines adds out-of-memory and internal', async () => {
    const { gpu, log } = await recorded();
    const shape = [3, 5, 2, 2];
    const x = Tensor.fromArray(gpu, gaussian(seededRandom(3), size(shape)), shape);
    const out = { y: Tensor.empty(gpu, shape), saveMean: Tensor.empty(gpu, [5]), saveInvstd: Tensor.empty(gpu, [5]) };
    let before = log.errorScopes;
    const first = batchNorm(gpu, x, { training: true, eps: 1e-3 }); // new pipeline, parameters and outputs
    expect(log.errorScopes - before).toBe(3);
    before = log.errorScopes;
    batchNorm(gpu, x, { training: true, eps: 1e-3, out }); // everything cached, outputs given
    expect(log.errorScopes - before).toBe(1);
    // A GPU error in the steady state still reaches the outputs' readback: x destroyed behind the library's back.
    x.buffer.destroy();
    batchNorm(gpu, x, { training: true, eps: 1e-3, out });
    await expect(out.y.toArray()).rejects.toThrow(/destroyed/);
    for (const t of [first.y, first.saveMean, first.saveInvstd, out.y, out.saveMean, out.saveInvstd]) t.destroy();
  });

  // Windows of the shape under each binding size, so the expected dispatches follow the plan.
  const cases = [
    { what: 'one window', shape: [4, 3, 6, 6], maxBindingBytes: undefined },
    { what: 'three windows', shape: [6, 4, 4, 4], maxBindingBytes: 2 * 4 * 16 * 4 }, // two 256-byte samples a window
  ];
  for (const { what, shape, maxBindingBytes } of cases) {
    it(`standalone calls submit once each; recorded calls submit nothing (${what})`, async () => {
      const { gpu, log, unwrapped } = await recorded(maxBindingBytes);
      const channels = shape[1]!;
      const plan = planOperation(gpu, channelLayout(shape), true);
      const windows = plan.windows.length;
      expect(windows).toBe(maxBindingBytes ? 3 : 1);
      // One window whose channels each fit one workgroup: the training forward is one dispatch.
      expect(plan.singlePass).toBe(!maxBindingBytes);
      const trainingForward = plan.singlePass ? 1 : 2 * windows + 1;
      const trainingBackward = plan.singlePass ? 1 : 2 * windows + 1;
      const inferenceBackward = plan.singlePass ? 1 : windows + 1;
      const rnd = seededRandom(8);
      const x = Tensor.fromArray(gpu, gaussian(rnd, size(shape)), shape);
      const dy = Tensor.fromArray(gpu, gaussian(rnd, size(shape)), shape);
      const weight = Tensor.fromArray(gpu, uniform(rnd, channels, 0.5, 2), [channels]);
      const rm = Tensor.fromArray(gpu, new Float32Array(channels), [channels]);
      const rv = Tensor.fromArray(gpu, new Float32Array(channels).fill(1), [channels]);
      await gpu.device.queue.onSubmittedWorkDone();

      // Training forward: statistics and apply per window, one finalize (or all in one dispatch).
      let before = counts(log);
      const fwd = batchNorm(gpu, x, { training: true, weight, runningMean: rm, runningVar: rv });
      expect(since(before, log)).toEqual({ submits: 1, passes: 1, dispatches: trainingForward, writeBuffers: 0 });
      // Inference: one apply per window, reading the running statistics.
      before = counts(log);
      const inf = batchNorm(gpu, x, { training: false, runningMean: rm, runningVar: rv });
      expect(since(before, log)).toEqual({ submits: 1, passes: 1, dispatches: windows, writeBuffers: 0 });
      // Training backward: reduce and apply per window, one finalize (or all in one dispatch); inference
      // without a weight skips the reduce.
      before = counts(log);
      const grads = batchNormBackward(gpu, dy, x, { training: true, weight, saveMean: fwd.saveMean!, saveInvstd: fwd.saveInvstd! });
      expect(since(before, log)).toEqual({ submits: 1, passes: 1, dispatches: trainingBackward, writeBuffers: 0 });
      before = counts(log);
      const infGrads = batchNormBackward(gpu, dy, x, { training: false, runningMean: rm, runningVar: rv });
      expect(since(before, log)).toEqual({ submits: 1, passes: 1, dispatches: inferenceBackward, writeBuffers: 0 });

      // Into a caller's encoder: the same dispatches, in the caller's encoder, and no submit.
      const callerLog: DeviceLog = { submits: 0, encoders: 0, passes: 0, dispatches: 0, writeBuffers: 0, errorScopes: 0 };
      const encoder = recordingEncoder(unwrapped.createCommandEncoder(), callerLog);
      before = counts(log);
      const recordedFwd = batchNorm(gpu, x, { training: true, weight, encoder });
      batchNormBackward(gpu, dy, x, { training: true, weight, saveMean: recordedFwd.saveMean!, saveInvstd: recordedFwd.saveInvstd!, encoder });
      batchNorm(gpu, x, { training: false, runningMean: rm, runningVar: rv, encoder });
      expect(since(before, log)).toEqual({ submits: 0, passes: 0, dispatches: 0, writeBuffers: 0 });
      expect(callerLog).toMatchObject({ passes: 3, dispatches: trainingForward + trainingBackward + windows });
      gpu.device.queue.submit([encoder.finish()]);
      for (const t of [x, dy, weight, rm, rv, fwd.y, fwd.saveMean, fwd.saveInvstd, inf.y, grads.dx, grads.dweight, grads.dbias, infGrads.dx]) t?.destroy();
    });
  }
});

/** A training forward of `shape` with its reference, on `gpu`. */
function forwardProblem(gpu: Gpu, shape: readonly number[], seed: number) {
  const rnd = seededRandom(seed);
  const channels = shape[1]!;
  const x = gaussian(rnd, size(shape), seed, 1 + seed / 10);
  const dy = gaussian(rnd, size(shape));
  const weight = uniform(rnd, channels, 0.5, 2);
  const bias = uniform(rnd, channels, -1, 1);
  return {
    shape, x, dy, weight, bias,
    xT: Tensor.fromArray(gpu, x, shape),
    dyT: Tensor.fromArray(gpu, dy, shape),
    weightT: Tensor.fromArray(gpu, weight, [channels]),
    biasT: Tensor.fromArray(gpu, bias, [channels]),
    rmT: Tensor.fromArray(gpu, new Float32Array(channels), [channels]),
    rvT: Tensor.fromArray(gpu, new Float32Array(channels).fill(1), [channels]),
    ref: batchNormReference(x, shape, { training: true, weight, bias, runningMean: new Float32Array(channels), runningVar: new Float32Array(channels).fill(1) }),
  };
}

describe('recording into the caller\'s encoder', () => {
  it('runs nothing before the caller submits; then every recorded call is right with its own parameters', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      // Different shapes (and so different parameters and scratch sizes: the largest last, so scratch
      // grows while earlier calls still wait in the encoder), forward and backward, one encoder.
      const problems = [[3, 2, 5], [2, 4, 3, 3], [6, 8, 16, 16]].map((shape, i) => forwardProblem(gpu, shape, i + 1));
      const sentinel = (shape: readonly number[]) => Tensor.fromArray(gpu, new Float32Array(size(shape)).fill(7), shape);
      const encoder = gpu.device.createCommandEncoder({ label: 'caller' });
      const recorded = problems.map((p) => {
        const out = { y: sentinel(p.shape) };
        const fwd = batchNorm(gpu, p.xT, { training: true, weight: p.weightT, bias: p.biasT, runningMean: p.rmT, runningVar: p.rvT, out, encoder });
        const grads = batchNormBackward(gpu, p.dyT, p.xT, { training: true, weight: p.weightT, saveMean: fwd.saveMean!, saveInvstd: fwd.saveInvstd!, encoder });
        return { p, fwd, grads };
      });
      // Nothing has run: y still holds the sentinel, the running statistics are untouched.
      for (const { p, fwd } of recorded) {
        expect(Array.from(await fwd.y.toArray())).toEqual(new Array(size(p.shape)).fill(7));
        expect(Array.from(await p.rmT.toArray())).toEqual(new Array(p.shape[1]).fill(0));
      }
      gpu.device.queue.submit([encoder.finish()]);
      for (const { p, fwd, grads } of recorded) {
        compareY(`recorded ${p.shape}`, await fwd.y.toArray(), p.x, p.shape, p.ref, p.weight, p.bias);
        const saved = { saveMean: await fwd.saveMean!.toArray(), saveInvstd: await fwd.saveInvstd!.toArray() };
        compareTrainingStatistics(`recorded ${p.shape}`, { ...saved, runningMean: await p.rmT.toArray(), runningVar: await p.rvT.toArray() }, p.ref);
        const ref = batchNormBackwardReference(p.dy, p.x, p.shape, { training: true, weight: p.weight, ...saved });
        await compareBackward(`recorded ${p.shape}`, grads, ref, { dy: p.dy, x: p.x, shape: p.shape, weight: p.weight, training: true });
      }
    });
  });

  it(`keeps each recorded call's parameters even past the ${PARAMS_CACHE_ENTRIES}-entry parameter cache`, async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const shape = [4, 2, 3];
      const x = gaussian(seededRandom(3), size(shape), 1, 2);
      const xT = Tensor.fromArray(gpu, x, shape);
      // A distinct eps per call: more distinct parameter contents than the cache keeps, all waiting in one encoder.
      const epsList = Array.from({ length: PARAMS_CACHE_ENTRIES + 6 }, (_, i) => 10 ** (-1 + i / 20));
      const encoder = gpu.device.createCommandEncoder();
      const outputs = epsList.map((eps) => batchNorm(gpu, xT, { training: true, eps, encoder }).y);
      gpu.device.queue.submit([encoder.finish()]);
      for (const [i, eps] of epsList.entries()) {
        compareY(`eps ${eps}`, await outputs[i]!.toArray(), x, shape, batchNormReference(x, shape, { training: true, eps }), null, null);
      }
    });
  });

  it('the module records forward and backward into one encoder', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const p = forwardProblem(gpu, [5, 3, 4], 9);
      const bn = new BatchNorm(gpu, 3);
      const encoder = gpu.device.createCommandEncoder();
      const y = bn.forward(p.xT, { encoder });
      const grads = bn.backward(p.dyT, { encoder });
      gpu.device.queue.submit([encoder.finish()]);
      const ref = batchNormReference(p.x, p.shape, { training: true, runningMean: new Float32Array(3), runningVar: new Float32Array(3).fill(1) });
      compareY('module recorded y', await y.toArray(), p.x, p.shape, ref, null, null);
      const gradRef = batchNormBackwardReference(p.dy, p.x, p.shape, { training: true, weight: new Float32Array(3).fill(1), saveMean: Float32Array.from(ref.saveMean), saveInvstd: Float32Array.from(ref.saveInvstd) });
      await compareBackward('module recorded', grads, gradRef, { dy: p.dy, x: p.x, shape: p.shape, weight: new Float32Array(3).fill(1), training: true });
      expect(bn.numBatchesTracked).toBe(1);
    });
  });

  it('the module recorded many times into one encoder (training, backward, eval, backward, training, backward) runs everything, right', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const shape = [5, 3, 4];
      const [p1, p2, p3] = [forwardProblem(gpu, shape, 11), forwardProblem(gpu, shape, 12), forwardProblem(gpu, shape, 13)];
      const bn = new BatchNorm(gpu, 3);
      const ones = new Float32Array(3).fill(1);
      const encoder = gpu.device.createCommandEncoder({ label: 'one training step with an evaluation' });
      // Each forward replaces what the previous one saved while the encoder still refers to it.
      const y1 = bn.forward(p1.xT, { encoder });
      const grads1 = bn.backward(p1.dyT, { encoder });
      bn.eval();
      const y2 = bn.forward(p2.xT, { encoder });
      const grads2 = bn.backward(p2.dyT, { encoder });
      bn.train();
      const y3 = bn.forward(p3.xT, { encoder });
      const grads3 = bn.backward(p3.dyT, { encoder });
      gpu.device.pushErrorScope('validation');
      gpu.device.queue.submit([encoder.finish()]);
      expect((await gpu.device.popErrorScope())?.message ?? null).toBeNull();
      expect(bn.numBatchesTracked).toBe(2);

      // Each call against the float64 reference, fed the running statistics the previous calls left.
      const ref1 = batchNormReference(p1.x, shape, { training: true, runningMean: new Float32Array(3), runningVar: ones });
      const ref2 = batchNormReference(p2.x, shape, { training: false, runningMean: ref1.runningMean!, runningVar: ref1.runningVar! });
      const ref3 = batchNormReference(p3.x, shape, { training: true, runningMean: ref1.runningMean!, runningVar: ref1.runningVar! });
      compareY('recorded training forward', await y1.toArray(), p1.x, shape, ref1, null, null);
      compareY('recorded eval forward', await y2.toArray(), p2.x, shape, ref2, null, null);
      compareY('recorded second training forward', await y3.toArray(), p3.x, shape, ref3, null, null);
      const trainingGradients = (p: typeof p1, ref: ReferenceForwardResult) =>
        batchNormBackwardReference(p.dy, p.x, shape, { training: true, weight: ones, saveMean: Float32Array.from(ref.saveMean), saveInvstd: Float32Array.from(ref.saveInvstd) });
      await compareBackward('recorded training backward', grads1, trainingGradients(p1, ref1), { dy: p1.dy, x: p1.x, shape, weight: ones, training: true });
      const evalGradients = batchNormBackwardReference(p2.dy, p2.x, shape, { training: false, weight: ones, runningMean: ref1.runningMean!, runningVar: ref1.runningVar! });
      await compareBackward('recorded eval backward', grads2, evalGradients, { dy: p2.dy, x: p2.x, shape, weight: ones, training: false });
      await compareBackward('recorded second training backward', grads3, trainingGradients(p3, ref3), { dy: p3.dy, x: p3.x, shape, weight: ones, training: true });
      compareTrainingStatistics('after two recorded training forwards', {
        saveMean: Float32Array.from(ref3.saveMean), saveInvstd: Float32Array.from(ref3.saveInvstd), runningMean: await bn.runningMean!.toArray(), runningVar: await bn.runningVar!.toArray(),
      }, ref3);

      // A standalone forward while a recorded backward still waits for its submit leaves the statistics it reads alive.
      const later = gpu.device.createCommandEncoder();
      bn.forward(p1.xT);
      const laterGrads = bn.backward(p1.dyT, { encoder: later });
      bn.forward(p2.xT);
      gpu.device.pushErrorScope('validation');
      gpu.device.queue.submit([later.finish()]);
      expect((await gpu.device.popErrorScope())?.message ?? null).toBeNull();
      await compareBackward('recorded backward submitted after a standalone forward', laterGrads, trainingGradients(p1, ref1), { dy: p1.dy, x: p1.x, shape, weight: ones, training: true });
      const live = gpu.liveBuffers;
      bn.destroy();
      expect(gpu.liveBuffers).toBe(live - 6); // weight, bias, running statistics and the last forward's saveMean and saveInvstd
    });
  });

  it('refuses what is not an encoder', async () => {
    const gpu = await testGpu(true);
    const x = Tensor.fromArray(gpu, [1, 2, 3, 4], [2, 2]);
    expect(() => batchNorm(gpu, x, { training: true, encoder: {} as GPUCommandEncoder })).toThrow(
      'encoder must be a GPUCommandEncoder, got an object with keys []',
    );
  });
});

describe('Tensor.fromBuffer', () => {
  const STORAGE_IO = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

  it('wraps regions of the caller\'s buffers at offsets, as inputs and outputs, chunked or not, and never destroys them', async () => {
    for (const maxBindingBytes of [undefined, 1024]) {
      const base = await testGpu(true, maxBindingBytes);
      const gpu = Gpu.fromDevice(base.device, maxBindingBytes === undefined ? {} : { maxBindingBytes });
      await inErrorScopes(gpu, async () => {
        const align = gpu.device.limits.minStorageBufferOffsetAlignment;
        const shape = [8, 3, 5, 4]; // 1920 bytes: two windows and more under a 1024-byte binding
        const p = forwardProblem(gpu, shape, 4);
        const bytes = size(shape) * 4;
        // x at one offset of an input arena; y and dx at offsets of an output arena; weight in its own buffer.
        const inputs = gpu.device.createBuffer({ label: 'caller inputs', size: align + bytes, usage: STORAGE_IO });
        const outputs = gpu.device.createBuffer({ label: 'caller outputs', size: 3 * align + 2 * bytes, usage: STORAGE_IO });
        gpu.device.queue.writeBuffer(inputs, align, p.x.buffer as ArrayBuffer, p.x.byteOffset, p.x.byteLength);
        const x = Tensor.fromBuffer(gpu, inputs, shape, { byteOffset: align, label: 'wrapped x' });
        expect(x.byteOffset).toBe(align);
        expect(x.ownsBuffer).toBe(false);
        expect(await x.toArray()).toEqual(p.x); // exactly the region
        const yOffset = align;
        const dxOffset = Math.ceil((yOffset + bytes) / align) * align;
        const y = Tensor.fromBuffer(gpu, outputs, shape, { byteOffset: yOffset });
        const dx = Tensor.fromBuffer(gpu, outputs, shape, { byteOffset: dxOffset });
        const fwd = batchNorm(gpu, x, { training: true, weight: p.weightT, bias: p.biasT, out: { y } });
        expect(fwd.y).toBe(y);
        compareY(`wrapped y (maxBindingBytes ${maxBindingBytes})`, await y.toArray(), p.x, shape, p.ref, p.weight, p.bias);
        const grads = batchNormBackward(gpu, p.dyT, x, { training: true, weight: p.weightT, saveMean: fwd.saveMean!, saveInvstd: fwd.saveInvstd!, out: { dx } });
        const saved = { saveMean: await fwd.saveMean!.toArray(), saveInvstd: await fwd.saveInvstd!.toArray() };
        const ref = batchNormBackwardReference(p.dy, p.x, shape, { training: true, weight: p.weight, ...saved });
        await compareBackward('wrapped dx', grads, ref, { dy: p.dy, x: p.x, shape, weight: p.weight, training: true });
        // The bytes around the regions are untouched (zero), and destroying the wrappers leaves the buffers usable.
        const whole = new Float32Array(await Tensor.fromBuffer(gpu, outputs, [outputs.size / 4]).toArray());
        expect(whole.subarray(0, yOffset / 4).every((v) => v === 0)).toBe(true);
        expect(whole.subarray((yOffset + bytes) / 4, dxOffset / 4).every((v) => v === 0)).toBe(true);
        for (const t of [x, y, dx]) t.destroy();
        expect(await Tensor.fromBuffer(gpu, inputs, shape, { byteOffset: align }).toArray()).toEqual(p.x);
        inputs.destroy();
        outputs.destroy();
      });
    }
  });

  it('names a buffer it cannot wrap', async () => {
    const gpu = await testGpu(true);
    const align = gpu.device.limits.minStorageBufferOffsetAlignment;
    const uniformOnly = gpu.device.createBuffer({ label: 'u', size: 64, usage: GPUBufferUsage.UNIFORM });
    const small = gpu.device.createBuffer({ label: 'small', size: 64, usage: STORAGE_IO });
    expect(() => Tensor.fromBuffer(gpu, uniformOnly, [4])).toThrow("the buffer ('u') lacks STORAGE usage (usage = 0x40)");
    expect(() => Tensor.fromBuffer(gpu, small, [4], { byteOffset: 4 })).toThrow(
      `byteOffset must be a non-negative multiple of the device's minStorageBufferOffsetAlignment (${align}), got 4`,
    );
    expect(() => Tensor.fromBuffer(gpu, small, [17])).toThrow('shape [17] (f32) needs 68 bytes from byteOffset 0, but the buffer has 64 bytes');
    expect(() => Tensor.fromBuffer(gpu, {} as GPUBuffer, [4])).toThrow('needs a GPUBuffer, got an object with keys []');
    expect(() => Tensor.fromBuffer(gpu, small, [4], { offset: 0 } as never)).toThrow("unknown key 'offset'");
    const owned = Tensor.fromArray(gpu, [1, 2, 3, 4], [4], { label: 'owned' });
    const buffer = owned.buffer;
    owned.destroy();
    expect(() => Tensor.fromBuffer(gpu, buffer, [4])).toThrow("the buffer ('owned') was destroyed");
    const noCopy = gpu.device.createBuffer({ label: 'no copy', size: 16, usage: GPUBufferUsage.STORAGE });
    await expect(Tensor.fromBuffer(gpu, noCopy, [4]).toArray()).rejects.toThrow('wraps a buffer without COPY_SRC usage');
    for (const b of [uniformOnly, small, noCopy]) b.destroy();
  });

  it('refuses regions of one buffer that a dispatch would both read and write, and overlapping regions', async () => {
    const gpu = await testGpu(true);
    const align = gpu.device.limits.minStorageBufferOffsetAlignment;
    const shape = [2, 2, 4];
    const arena = gpu.device.createBuffer({ label: 'arena', size: 4 * align, usage: STORAGE_IO });
    const x = Tensor.fromBuffer(gpu, arena, shape, { label: 'x' });
    const y = Tensor.fromBuffer(gpu, arena, shape, { byteOffset: align });
    expect(() => batchNorm(gpu, x, { training: true, out: { y } })).toThrow(
      "out.y and x are regions of one GPUBuffer ('arena'); WebGPU does not let one dispatch (the stats-apply-rows pass) write one region of a buffer while reading another",
    );
    const wide = Tensor.fromBuffer(gpu, arena, [2, 2, 8]);
    expect(() => batchNorm(gpu, wide, { training: true, out: { y: Tensor.fromBuffer(gpu, arena, [2, 2, 8]) } })).toThrow('out.y is the same tensor as x'.replace('is the same tensor as', 'overlaps'));
    // Two outputs written by one dispatch may share a buffer in disjoint regions.
    const stats = batchNorm(gpu, Tensor.fromArray(gpu, gaussian(seededRandom(1), 16), shape), {
      training: true,
      out: { saveMean: Tensor.fromBuffer(gpu, arena, [2], { byteOffset: 2 * align }), saveInvstd: Tensor.fromBuffer(gpu, arena, [2], { byteOffset: 3 * align }) },
    });
    await expect(stats.saveInvstd!.ready()).resolves.toBeUndefined();
    arena.destroy();
  });
});

describe('Gpu.fromDevice', () => {
  it('takes the entry point of a shared device (kept alive for dawn.node) and names what it cannot take', async () => {
    const base = await testGpu(true);
    const gpu = Gpu.fromDevice(base.device, { gpu: navigator.gpu });
    expect(gpu.device).toBe(base.device);
    expect(() => Gpu.fromDevice({} as GPUDevice)).toThrow('Gpu.fromDevice needs a GPUDevice (adapter.requestDevice(), or a library\'s device), got an object with keys []');
    expect(() => Gpu.fromDevice(base.device, { gpu: {} as GPU })).toThrow('options.gpu must be a WebGPU entry point');
    expect(() => Gpu.fromDevice(base.device, { maxBinding: 1024 } as never)).toThrow("Gpu.fromDevice options has an unknown key 'maxBinding'");
  });
});
