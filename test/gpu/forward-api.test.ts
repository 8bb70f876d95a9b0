// The forward API beyond the numeric sweep: bad input gives clear synchronous errors, the module follows
// nn.BatchNorm semantics, steady-state calls allocate nothing, lost devices reject instead of hanging.
import { describe, expect, it } from 'vitest';
import { batchNorm, batchNormBackward, BatchNorm, Gpu, requestGpu, Tensor } from '../../src/index.js';
import { batchNormBackwardReference, batchNormReference } from '../../src/reference.js';
import { compareElements } from '../support/compare.js';
import { compareBackward, compareTrainingStatistics, compareY } from '../support/tolerances.js';
import { gaussian, seededRandom } from '../support/random.js';
import { inErrorScopes, testGpu } from './gpu-context.js';

describe('bad input', () => {
  it('gets clear synchronous errors that name the values', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const x = Tensor.fromArray(gpu, new Float32Array(2 * 4 * 3), [2, 4, 3]);
      const c3 = Tensor.fromArray(gpu, [1, 2, 3], [3]);
      const c4 = Tensor.fromArray(gpu, [0, 0, 0, 0], [4]);
      const rank1 = Tensor.fromArray(gpu, [1, 2, 3, 4], [4]);
      const single = Tensor.fromArray(gpu, [1, 2, 3, 4], [1, 4]);
      expect(() => batchNorm(gpu, rank1, { training: true })).toThrow(/shape \[4\] \(rank 1\)/);
      expect(() => batchNorm(gpu, x, { training: true, weight: c3 })).toThrow('weight has 3 elements but x has 4 channels (shape [2,4,3])');
      expect(() => batchNorm(gpu, x, { training: true, bias: c3 })).toThrow('bias has 3 elements but x has 4 channels');
      expect(() => batchNorm(gpu, x, { training: true, runningMean: c3, runningVar: c4 })).toThrow('runningMean has 3 elements');
      expect(() => batchNorm(gpu, x, { training: false, runningMean: c4, runningVar: c3 })).toThrow('runningVar has 3 elements');
      expect(() => batchNorm(gpu, x, { training: true, runningMean: c4 })).toThrow(/runningMean and runningVar go together/);
      expect(() => batchNorm(gpu, x, { training: true, eps: -1 })).toThrow('eps must be a finite number >= 0, got -1');
      expect(() => batchNorm(gpu, x, { training: true, eps: NaN })).toThrow('got NaN');
      expect(() => batchNorm(gpu, x, { training: true, eps: Infinity })).toThrow('got Infinity');
      expect(() => batchNorm(gpu, x, { training: true, momentum: 1.5 })).toThrow('momentum must be in [0, 1] or null, got 1.5');
      expect(() => batchNorm(gpu, x, { training: true, momentum: -0.1 })).toThrow('got -0.1');
      expect(() => batchNorm(gpu, x, { training: true, momentum: null, runningMean: c4, runningVar: c4 })).toThrow(/numBatchesTracked/);
      expect(() => batchNorm(gpu, x, { training: false })).toThrow('inference (training: false) needs runningMean and runningVar');
      expect(() => batchNorm(gpu, single, { training: true })).toThrow(
        'Expected more than 1 value per channel when training, got input size [1,4]',
      );
      expect(() => Tensor.fromArray(gpu, [1, 2, 3], [2, 2])).toThrow('data has 3 elements but shape [2,2] needs 4');
      expect(() => Tensor.fromArray(gpu, [1, 2], [2, -1])).toThrow(/dimension 1 = -1; dimensions must be non-negative integers/);
      // A tensor may be empty (a replica's empty batch for the SyncBatchNorm building blocks); batchNorm refuses it.
      const empty = Tensor.fromArray(gpu, [], [0, 4]);
      expect(await empty.toArray()).toEqual(new Float32Array(0));
      expect(() => batchNorm(gpu, empty, { training: false, runningMean: c4, runningVar: c4 })).toThrow(
        'x has shape [0,4], which has no elements; batch norm needs at least one value per channel',
      );
      empty.destroy();
      expect(() => Tensor.fromArray(gpu, [1, 2], [2, 1.5])).toThrow(/dimension 1 = 1.5/);
      c3.destroy();
      c3.destroy(); // idempotent
      expect(() => batchNorm(gpu, x, { training: true, weight: c3 })).toThrow(/weight .* was destroyed/);
      expect(() => c3.buffer).toThrow(/was destroyed/);
      await expect(c3.toArray()).rejects.toThrow(/was destroyed/);
      for (const t of [x, c4, rank1, single]) t.destroy();
    });
  });

  it('names f16 where f32 is needed, and outputs of another dtype', async () => {
    const gpu = await testGpu(true);
    const half = Tensor.fromArray(gpu, [1, 2, 3, 4], [2, 2], { dtype: 'f16' });
    const halfWeight = Tensor.fromArray(gpu, [1, 1], [2], { dtype: 'f16' });
    expect(await half.toArray()).toEqual(new Float32Array([1, 2, 3, 4]));
    expect(() => batchNorm(gpu, half, { training: true, weight: halfWeight })).toThrow(
      "weight has dtype 'f16'; per-channel tensors are 'f32' (with f16 activations too)",
    );
    expect(() => batchNorm(gpu, half, { training: true, out: { y: Tensor.empty(gpu, [2, 2]) } })).toThrow("out.y has dtype 'f32' but the operation writes 'f16'");
    half.destroy();
  });

  it('rejects a tensor from another device; each device has its own label, so WebGPU\'s messages tell them apart', async () => {
    const a = await testGpu(true);
    const b = await testGpu(false);
    const x = Tensor.fromArray(a, new Float32Array(8), [4, 2]);
    expect(() => batchNorm(b, x, { training: true })).toThrow(/x .* lives on another GPU device/);
    expect(a.device.label).toMatch(/^webgpu-batchnorm #\d+$/);
    expect(b.device.label).toMatch(/^webgpu-batchnorm #\d+$/);
    expect(a.device.label).not.toBe(b.device.label);
    x.destroy();
  });

  it('names the type of a value of the wrong type, and checks numBatchesTracked whatever the momentum', async () => {
    const gpu = await testGpu(true);
    const x = Tensor.fromArray(gpu, new Float32Array(2 * 3 * 2), [2, 3, 2]);
    const c3 = () => Tensor.fromArray(gpu, [0, 0, 0], [3]);
    const [runningMean, runningVar] = [c3(), c3()];
    expect(() => batchNorm(gpu, x, { training: true, axis: '1' as never })).toThrow("for x of shape [2,3,2], got '1'");
    expect(() => new BatchNorm(gpu, '3' as never)).toThrow("numFeatures must be a positive integer, got '3'");
    expect(() => batchNorm(gpu, x, { training: true, runningVarEstimator: {} as never })).toThrow(
      "runningVarEstimator must be 'unbiased' or 'biased', got an object with keys []",
    );
    for (const numBatchesTracked of ['junk', 0, 1.5]) {
      expect(() => batchNorm(gpu, x, { training: true, momentum: 0.1, runningMean, runningVar, numBatchesTracked: numBatchesTracked as never })).toThrow(
        /^numBatchesTracked must be an integer >= 1 \(batches seen including this one\), got/,
      );
    }
    expect(() => batchNorm(gpu, x, { training: true, momentum: null, runningMean, runningVar })).toThrow(
      'momentum: null (cumulative average) needs numBatchesTracked >= 1 including this batch, got undefined',
    );
    for (const t of [x, runningMean, runningVar]) t.destroy();
  });
});

describe('numerics', () => {
  it('a (32,64,112,112) training forward (103 MB) matches the reference', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const shape = [32, 64, 112, 112];
      const x = gaussian(seededRandom(32), 32 * 64 * 112 * 112, 0.5, 2);
      const xT = Tensor.fromArray(gpu, x, shape);
      expect(xT.byteLength).toBe(102_760_448);
      const rm = Tensor.fromArray(gpu, new Float32Array(64), [64]);
      const rv = Tensor.fromArray(gpu, new Float32Array(64).fill(1), [64]);
      const out = batchNorm(gpu, xT, { training: true, runningMean: rm, runningVar: rv });
      const ref = batchNormReference(x, shape, { training: true, runningMean: new Float32Array(64), runningVar: new Float32Array(64).fill(1) });
      const y = await out.y.toArray();
      const cmp = compareY('103 MB y', y, x, shape, ref, null, null);
      const saved = { saveMean: await out.saveMean!.toArray(), saveInvstd: await out.saveInvstd!.toArray() };
      compareTrainingStatistics('103 MB', { ...saved, runningMean: await rm.toArray(), runningVar: await rv.toArray() }, ref);
      console.log(`(32,64,112,112) forward: worst |y - ref| = ${cmp.maxAbsError.toExponential(2)}`);
      for (const t of [xT, rm, rv, out.y, out.saveMean, out.saveInvstd]) t?.destroy();
    });
  });
});

describe('BatchNorm module', () => {
  it('tracks batches, blends running statistics (momentum 0.1 and null) and switches to them in eval', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const shape = [6, 3, 4, 4];
      const rnd = seededRandom(11);
      for (const momentum of [0.1, null]) {
        const bn = new BatchNorm(gpu, 3, { momentum });
        let rm: Float64Array = new Float64Array(3);
        let rv: Float64Array = new Float64Array(3).fill(1);
        for (let step = 1; step <= 3; step++) {
          const x = gaussian(rnd, 6 * 3 * 16, step, step);
          const xT = Tensor.fromArray(gpu, x, shape);
          const y = bn.forward(xT);
          const ref = batchNormReference(x, shape, { training: true, momentum, numBatchesTracked: step, runningMean: rm, runningVar: rv });
          compareY(`module step ${step}`, await y.toArray(), x, shape, ref, null, null);
          rm = ref.runningMean!;
          rv = ref.runningVar!;
          expect(bn.numBatchesTracked).toBe(step);
          for (const t of [xT, y]) t.destroy();
        }
        compareElements('module runningMean', await bn.runningMean!.toArray(), rm, () => 1e-5);
        compareElements('module runningVar', await bn.runningVar!.toArray(), rv, (c) => 1e-5 * rv[c]!);
        bn.eval();
        const x = gaussian(rnd, 6 * 3 * 16);
        const xT = Tensor.fromArray(gpu, x, shape);
        const y = bn.forward(xT);
        const ref = batchNormReference(x, shape, { training: false, runningMean: rm, runningVar: rv });
        compareY('module eval', await y.toArray(), x, shape, ref, null, null);
        expect(bn.numBatchesTracked).toBe(3);
        bn.destroy();
        bn.destroy(); // idempotent
        expect(() => bn.forward(xT)).toThrow('this BatchNorm module was destroyed');
        for (const t of [xT, y]) t.destroy();
      }
    });
  });

  it('without running statistics uses batch statistics in eval too; affine false has no parameters', async () => {
    const gpu = await testGpu(true);
    const bn = new BatchNorm(gpu, 2, { trackRunningStats: false, affine: false }).eval();
    expect(bn.weight).toBeNull();
    expect(bn.runningMean).toBeNull();
    const x = gaussian(seededRandom(5), 4 * 2 * 9);
    const xT = Tensor.fromArray(gpu, x, [4, 2, 3, 3]);
    const y = bn.forward(xT);
    compareY('untracked eval', await y.toArray(), x, [4, 2, 3, 3], batchNormReference(x, [4, 2, 3, 3], { training: true }), null, null);
    expect(bn.numBatchesTracked).toBe(0);
    expect(() => new BatchNorm(gpu, 0)).toThrow('numFeatures must be a positive integer, got 0');
    expect(() => new BatchNorm(gpu, 2, { momentum: 2 })).toThrow('momentum must be in [0, 1]');
    for (const t of [xT, y]) t.destroy();
    bn.destroy();
  });
});

describe('resources', () => {
  it('a steady-state call allocates only its outputs (no new scratch buffers)', async () => {
    const gpu = await testGpu(true);
    const x = Tensor.fromArray(gpu, gaussian(seededRandom(3), 8 * 16 * 36), [8, 16, 6, 6]);
    const first = batchNorm(gpu, x, { training: true });
    for (const t of [first.y, first.saveMean, first.saveInvstd]) t?.destroy();
    const before = gpu.liveBuffers;
    for (let i = 0; i < 20; i++) {
      const out = batchNorm(gpu, x, { training: true });
      expect(gpu.liveBuffers).toBe(before + 3); // y, saveMean, saveInvstd
      for (const t of [out.y, out.saveMean, out.saveInvstd]) t?.destroy();
    }
    await gpu.device.queue.onSubmittedWorkDone();
    expect(gpu.liveBuffers).toBe(before);
    x.destroy();
  });

  it('Gpu.fromDevice never destroys the caller\'s device', async () => {
    const owner = await requestGpu();
    const wrapped = Gpu.fromDevice(owner.device);
    const x = Tensor.fromArray(wrapped, [1, 2, 3, 4], [2, 2]);
    wrapped.destroy();
    expect(await x.toArray()).toEqual(new Float32Array([1, 2, 3, 4]));
    owner.destroy();
  });

  it('a GPU validation error surfaces as a rejected readback with the GPU\'s message, never as data', async () => {
    const gpu = await requestGpu();
    const x = Tensor.fromArray(gpu, gaussian(seededRandom(2), 4 * 2 * 16), [4, 2, 4, 4]);
    x.buffer.destroy(); // behind the library's back: the submit that reads x is invalid
    const { y, saveMean } = batchNorm(gpu, x, { training: true });
    await expect(y.toArray()).rejects.toThrow(/batchNorm forward failed on the GPU: .*destroyed/i);
    await expect(saveMean!.ready()).rejects.toThrow(/batchNorm forward failed on the GPU/);
    gpu.destroy();
  });

  it('a lost device rejects pending readbacks and later calls instead of hanging', async () => {
    const gpu = await requestGpu();
    const x = Tensor.fromArray(gpu, gaussian(seededRandom(1), 4 * 2 * 16), [4, 2, 4, 4]);
    const { y } = batchNorm(gpu, x, { training: true });
    const pending = y.toArray();
    gpu.device.destroy();
    await expect(pending).rejects.toThrow(/WebGPU device was lost \(destroyed\)/);
    await gpu.lost;
    expect(gpu.isLost).toBe(true);
    expect(() => batchNorm(gpu, x, { training: true })).toThrow(/WebGPU device was lost \(destroyed\)/);
    await expect(x.toArray()).rejects.toThrow(/WebGPU device was lost/);
    expect(() => Tensor.fromArray(gpu, [1, 2], [2, 1])).toThrow(/WebGPU device was lost/);
    // A new device can be requested after a loss.
    const again = await requestGpu();
    expect(again.isLost).toBe(false);
    again.destroy();
  });
});

describe('folded dispatches', () => {
  // More elementwise workgroups than maxComputeWorkgroupsPerDimension (scalar path: one value per
  // invocation), so the apply passes of forward and backward fold into 2-D. (Many channels would fold the
  // per-channel passes too, but cost half a minute on SwiftShader; they share foldGrid and linearGroup.)
  it('an elementwise pass above maxComputeWorkgroupsPerDimension folds into 2-D', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      const length = gpu.device.limits.maxComputeWorkgroupsPerDimension * 256 + 1; // odd: scalar elements
      const shape = [1, 1, length];
      const rnd = seededRandom(65535);
      const x = gaussian(rnd, length, 1, 2);
      const dy = gaussian(rnd, length);
      const xT = Tensor.fromArray(gpu, x, shape);
      const out = batchNorm(gpu, xT, { training: true });
      const ref = batchNormReference(x, shape, { training: true });
      compareY('folded y', await out.y.toArray(), x, shape, ref, null, null);
      const saveMean = await out.saveMean!.toArray();
      const saveInvstd = await out.saveInvstd!.toArray();
      const dyT = Tensor.fromArray(gpu, dy, shape);
      const grads = batchNormBackward(gpu, dyT, xT, { training: true, saveMean: out.saveMean!, saveInvstd: out.saveInvstd! });
      const refGrads = batchNormBackwardReference(dy, x, shape, { training: true, saveMean, saveInvstd });
      await compareBackward('folded', grads, refGrads, { dy, x, shape, weight: null, training: true });
      for (const t of [xT, dyT, out.y, out.saveMean, out.saveInvstd, grads.dx]) t?.destroy();
    });
  });
});

describe('workgroup sizes', () => {
  it('refuses a size the kernels are not built for', async () => {
    await expect(requestGpu({ workgroupSize: 96 as 64 })).rejects.toThrow('workgroupSize must be 64, 128 or 256, got 96');
  });

  // 256 on a GPU and 64 on a software adapter by default; 128 only when asked for. Each takes the slice
  // and rows kernels, in one dispatch (few workgroups wanted) and in three passes (many). The Gpus share
  // one device, and so its pipeline cache: a kernel built for one size must not serve another.
  it('every size matches the reference, forward and backward, on every statistics path', async () => {
    const base = await requestGpu();
    const shapes = [
      { shape: [8, 4, 16, 16], axis: 1 },
      { shape: [6, 3, 37, 5], axis: 1 },
      { shape: [300, 5], axis: 1 },
      { shape: [4, 6, 6, 70], axis: -1 },
    ];
    // And a GPU's plans as they were before every invocation got a whole fold block (the internal
    // wholeFoldBlock, kept until a GPU run has compared the two).
    const configs = [
      ...([64, 128, 256] as const).flatMap((workgroupSize) => [1, 1024].map((reductionWorkgroups) => ({ workgroupSize, reductionWorkgroups, wholeFoldBlock: true }))),
      { workgroupSize: 256, reductionWorkgroups: 1024, wholeFoldBlock: false },
    ] as const;
    for (const { workgroupSize, reductionWorkgroups, wholeFoldBlock } of configs) {
      const gpu = Gpu.fromDevice(base.device, { workgroupSize, reductionWorkgroups, wholeFoldBlock });
      expect(gpu.workgroupSize).toBe(workgroupSize);
      await inErrorScopes(gpu, async () => {
        for (const [i, { shape, axis }] of shapes.entries()) {
          const what = `[${shape}] axis ${axis}, ${workgroupSize} invocations, ${reductionWorkgroups} workgroups${wholeFoldBlock ? '' : ', without whole fold blocks'}`;
          const channels = axis === 1 ? shape[1]! : shape.at(-1)!;
          const rnd = seededRandom(700 + i);
          const n = shape.reduce((a, b) => a * b, 1);
          const x = gaussian(rnd, n, 3, 2);
          const dy = gaussian(rnd, n);
          const weight = gaussian(rnd, channels, 1, 0.5);
          const [xT, dyT, wT] = [Tensor.fromArray(gpu, x, shape), Tensor.fromArray(gpu, dy, shape), Tensor.fromArray(gpu, weight, [channels])];
          const out = batchNorm(gpu, xT, { training: true, axis, weight: wT });
          const ref = batchNormReference(x, shape, { training: true, axis, weight });
          compareY(`${what} y`, await out.y.toArray(), x, shape, ref, weight, null, axis);
          const saveMean = await out.saveMean!.toArray();
          const saveInvstd = await out.saveInvstd!.toArray();
          const grads = batchNormBackward(gpu, dyT, xT, { training: true, axis, weight: wT, saveMean: out.saveMean!, saveInvstd: out.saveInvstd! });
          const refGrads = batchNormBackwardReference(dy, x, shape, { training: true, axis, weight, saveMean, saveInvstd });
          await compareBackward(what, grads, refGrads, { dy, x, shape, axis, weight, training: true });
          for (const t of [xT, dyT, wT, out.y, out.saveMean, out.saveInvstd, grads.dx, grads.dweight, grads.dbias]) t?.destroy();
        }
      });
    }
    base.destroy();
  });
});
