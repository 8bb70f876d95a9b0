// What probing the API as a careful and an adversarial user found, each as its repro and then the
// behaviour now: saved tensors changed before backward are refused (version counters), finite extreme
// input stays finite, a failed call's error stays with that call, typos and malformed arguments are named
// before anything is allocated, and a buffer destroyed behind the library's back never reads as zeros.
import { describe, expect, it } from 'vitest';
import {
  BatchNorm,
  batchNorm,
  batchNormBackward,
  Gpu,
  requestGpu,
  Tensor,
} from '../../src/index.js';
import { roundToHalf } from '../../src/runtime/half.js';
import { batchNormBackwardReference, batchNormReference } from '../../src/reference.js';
import { compareElements } from '../support/compare.js';
import { gaussian, seededRandom } from '../support/random.js';
import { compareBackward, compareTrainingStatistics, compareY } from '../support/tolerances.js';
import { inErrorScopes, testGpu } from './gpu-context.js';

// Tolerances (Y_RTOL/Y_ATOL, STAT_RTOL, DX_RTOL, SUM_RTOL) are those of the sweeps, stated in
// test/support/tolerances.ts.

const SHAPE = [4, 3, 5];
const C = 3;

function tensors(gpu: Gpu, seed: number) {
  const rnd = seededRandom(seed);
  const x = gaussian(rnd, 60, 1, 2);
  const dy = gaussian(rnd, 60);
  return { x, dy, xT: Tensor.fromArray(gpu, x, SHAPE, { label: 'x' }), dyT: Tensor.fromArray(gpu, dy, SHAPE, { label: 'dy' }) };
}

describe('1. backward refuses saved tensors written since the forward', () => {
  it('x overwritten through another call\'s out', async () => {
    const gpu = await testGpu(true);
    const { xT, dyT } = tensors(gpu, 1);
    const other = Tensor.fromArray(gpu, gaussian(seededRandom(2), 60), SHAPE);
    const bn = new BatchNorm(gpu, C);
    bn.forward(xT);
    const before = xT.version;
    batchNorm(gpu, other, { training: true, out: { y: xT } }); // writes x in place
    expect(xT.version).toBe(before + 1);
    expect(() => bn.backward(dyT)).toThrow(/BatchNorm.backward: x \('x', shape \[4,3,5\]\) was written after the forward \(now at version 1, saved at version 0\)/);
    // A new forward saves the new versions.
    bn.forward(xT);
    expect(() => bn.backward(dyT)).not.toThrow();
  });

  it('the weight written by an optimizer step (out: { dweight: bn.weight })', async () => {
    const gpu = await testGpu(true);
    const { xT, dyT } = tensors(gpu, 3);
    const bn = new BatchNorm(gpu, C);
    const saved = batchNorm(gpu, xT, { training: true });
    bn.forward(xT);
    batchNormBackward(gpu, dyT, xT, { training: true, weight: bn.bias!, saveMean: saved.saveMean!, saveInvstd: saved.saveInvstd!, out: { dweight: bn.weight! } });
    expect(() => bn.backward(dyT)).toThrow(/BatchNorm.backward: weight \('BatchNorm weight', shape \[3\]\) was written after the forward/);
  });

  it('the running statistics updated by a functional call after an eval forward', async () => {
    const gpu = await testGpu(true);
    const { xT, dyT } = tensors(gpu, 4);
    const bn = new BatchNorm(gpu, C).eval();
    bn.forward(xT);
    batchNorm(gpu, xT, { training: true, runningMean: bn.runningMean, runningVar: bn.runningVar });
    expect(() => bn.backward(dyT)).toThrow(/BatchNorm.backward: runningMean \('BatchNorm runningMean', shape \[3\]\) was written after the forward/);
  });

  it('x overwritten through a second wrapper of its memory (versions count per buffer region)', async () => {
    const gpu = await testGpu(true);
    const { x, dyT } = tensors(gpu, 11);
    const buffer = gpu.device.createBuffer({ label: 'caller x', size: 240, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    gpu.device.queue.writeBuffer(buffer, 0, x.buffer as ArrayBuffer, x.byteOffset, x.byteLength);
    const xT = Tensor.fromBuffer(gpu, buffer, SHAPE, { label: 'x' });
    const alias = Tensor.fromBuffer(gpu, buffer, SHAPE, { label: 'alias' });
    const bn = new BatchNorm(gpu, C);
    bn.forward(xT);
    batchNorm(gpu, Tensor.fromArray(gpu, gaussian(seededRandom(12), 60), SHAPE), { training: true, out: { y: alias } });
    expect([xT.version, alias.version]).toEqual([1, 1]);
    expect(() => bn.backward(dyT)).toThrow(/BatchNorm.backward: x \('x', shape \[4,3,5\]\) was written after the forward \(now at version 1, saved at version 0\)/);
    buffer.destroy();
  });

  it('regions of one buffer: a write reaches every tensor overlapping it, and only those', async () => {
    const gpu = await testGpu(true);
    const align = gpu.device.limits.minStorageBufferOffsetAlignment;
    const shape = [4, 3, align / 16]; // 3*align bytes
    const n = shape.reduce((a, b) => a * b, 1);
    const rnd = seededRandom(13);
    const [x, dy] = [gaussian(rnd, n, 1, 2), gaussian(rnd, n)];
    const dyT = Tensor.fromArray(gpu, dy, shape);
    const arena = gpu.device.createBuffer({ label: 'arena', size: 6 * align, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    const xT = Tensor.fromBuffer(gpu, arena, shape, { byteOffset: align, label: 'x' }); // bytes [align, 4*align)
    const region = (byteOffset: number, blocks: number) => Tensor.fromBuffer(gpu, arena, [2, 2, (blocks * align) / 16], { byteOffset });
    const writeThrough = (t: Tensor) =>
      batchNorm(gpu, Tensor.fromArray(gpu, gaussian(rnd, t.size), t.shape), { training: true, out: { y: t } });
    const cases = [
      { what: 'over its start', region: region(0, 2), overlaps: true },
      { what: 'over its end', region: region(3 * align, 2), overlaps: true },
      { what: 'just before it', region: region(0, 1), overlaps: false },
      { what: 'just after it', region: region(4 * align, 2), overlaps: false },
    ];
    const bn = new BatchNorm(gpu, 3);
    for (const c of cases) {
      gpu.device.queue.writeBuffer(arena, align, x.buffer as ArrayBuffer, x.byteOffset, x.byteLength);
      bn.forward(xT);
      const version = xT.version;
      writeThrough(c.region);
      expect(xT.version, c.what).toBe(version + (c.overlaps ? 1 : 0));
      if (c.overlaps) {
        expect(() => bn.backward(dyT), c.what).toThrow(/BatchNorm.backward: x \('x', shape \[4,3,\d+\]\) was written after the forward/);
        continue;
      }
      const grads = bn.backward(dyT);
      const ref = batchNormReference(x, shape, { training: true });
      const gradRef = batchNormBackwardReference(dy, x, shape, { training: true, weight: [1, 1, 1], saveMean: Float32Array.from(ref.saveMean), saveInvstd: Float32Array.from(ref.saveInvstd) });
      await compareBackward(`a write ${c.what}`, grads, gradRef, { dy, x, shape, weight: [1, 1, 1], training: true });
    }
    // A write through x reaches the regions over it, not the one beside it.
    const [over, beside] = [cases[0]!.region, cases[3]!.region];
    const before = [over.version, beside.version];
    writeThrough(xT);
    expect([over.version, beside.version]).toEqual([before[0]! + 1, before[1]]);
    arena.destroy();
  });

  it('a failed write through a second wrapper reaches the first one\'s readback too', async () => {
    const gpu = await requestGpu(); // its own device: the failing call leaves GPU errors on it
    const buffer = gpu.device.createBuffer({ size: 240, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    const [xT, alias] = [Tensor.fromBuffer(gpu, buffer, SHAPE), Tensor.fromBuffer(gpu, buffer, SHAPE)];
    const doomed = gpu.device.createBuffer({ size: 240, usage: GPUBufferUsage.STORAGE });
    const bad = Tensor.fromBuffer(gpu, doomed, SHAPE);
    doomed.destroy();
    batchNorm(gpu, bad, { training: true, out: { y: alias } });
    await expect(xT.toArray()).rejects.toThrow(/batchNorm forward failed on the GPU/);
    gpu.destroy();
  });

  it('counts every write through the library: outputs, out tensors, running statistics updated in place', async () => {
    const gpu = await testGpu(true);
    const { xT } = tensors(gpu, 5);
    const rm = Tensor.fromArray(gpu, [0, 0, 0], [C]);
    const rv = Tensor.fromArray(gpu, [1, 1, 1], [C]);
    expect([xT.version, rm.version]).toEqual([0, 0]);
    const { y } = batchNorm(gpu, xT, { training: true, runningMean: rm, runningVar: rv });
    expect([xT.version, rm.version, rv.version, y.version]).toEqual([0, 1, 1, 1]);
    batchNorm(gpu, xT, { training: false, runningMean: rm, runningVar: rv, out: { y } }); // reads the statistics
    expect([rm.version, y.version]).toEqual([1, 2]);
  });
});

describe('2. finite input stays finite', () => {
  it('[1e19, -1e19] normalizes to [1, -1], with finite running statistics and gradients', async () => {
    const gpu = await testGpu(true);
    await inErrorScopes(gpu, async () => {
      for (const shape of [[2, 1], [2, 1, 4], [1, 1, 8]]) {
        const n = shape.reduce((a, b) => a * b, 1);
        const x = Float32Array.from({ length: n }, (_, i) => ((i >> (shape.length === 3 && shape[0] === 2 ? 2 : 0)) % 2 === 0 ? 1e19 : -1e19));
        const dy = Float32Array.from({ length: n }, (_, i) => (i % 3) - 1);
        const rm = Tensor.fromArray(gpu, [0], [1]);
        const rv = Tensor.fromArray(gpu, [1], [1]);
        const xT = Tensor.fromArray(gpu, x, shape);
        const out = batchNorm(gpu, xT, { training: true, runningMean: rm, runningVar: rv });
        const ref = batchNormReference(x, shape, { training: true, runningMean: [0], runningVar: [1] });
        const y = await out.y.toArray();
        expect(y.every(Number.isFinite)).toBe(true);
        compareY(`±1e19 ${shape}`, y, x, shape, ref, null, null);
        compareTrainingStatistics(`±1e19 ${shape}`, {
          saveMean: await out.saveMean!.toArray(), saveInvstd: await out.saveInvstd!.toArray(), runningMean: await rm.toArray(), runningVar: await rv.toArray(),
        }, ref);
        const dyT = Tensor.fromArray(gpu, dy, shape);
        const weight = Tensor.fromArray(gpu, [1.5], [1]);
        const grads = batchNormBackward(gpu, dyT, xT, { training: true, weight, saveMean: out.saveMean!, saveInvstd: out.saveInvstd! });
        const saved = { saveMean: await out.saveMean!.toArray(), saveInvstd: await out.saveInvstd!.toArray() };
        const gradRef = batchNormBackwardReference(dy, x, shape, { training: true, weight: [1.5], ...saved });
        await compareBackward(`±1e19 ${shape}`, grads, gradRef, { dy, x, shape, weight: [1.5], training: true });
        // Later inference uses the (finite) running statistics.
        const eval_ = batchNorm(gpu, xT, { training: false, runningMean: rm, runningVar: rv });
        expect((await eval_.y.toArray()).every(Number.isFinite)).toBe(true);
      }
    });
  });
});

describe('3. an error belongs to the call that caused it', () => {
  it('a failed call does not poison later calls that read its running statistics or write its out tensor', async () => {
    const gpu = await requestGpu(); // its own device: the failing call leaves GPU errors on it
    const { x, xT } = tensors(gpu, 6);
    const rm = Tensor.fromArray(gpu, [0, 0, 0], [C]);
    const rv = Tensor.fromArray(gpu, [1, 1, 1], [C]);
    const y = Tensor.empty(gpu, SHAPE);
    // A caller's buffer destroyed behind the library's back: the call fails on the GPU.
    const doomed = gpu.device.createBuffer({ size: 240, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    const bad = Tensor.fromBuffer(gpu, doomed, SHAPE);
    doomed.destroy();
    const failed = batchNorm(gpu, bad, { training: true, runningMean: rm, runningVar: rv, out: { y } });
    await expect(failed.y.toArray()).rejects.toThrow(/batchNorm forward failed on the GPU/);
    await expect(failed.saveMean!.ready()).rejects.toThrow(/batchNorm forward failed on the GPU/);
    // Nothing of the failed submit ran: the running statistics keep their values and read fine.
    expect(Array.from(await rm.toArray())).toEqual([0, 0, 0]);
    // The next good call through the same statistics and the same out tensor succeeds.
    const good = batchNorm(gpu, xT, { training: true, runningMean: rm, runningVar: rv, out: { y } });
    const ref = batchNormReference(x, SHAPE, { training: true, runningMean: [0, 0, 0], runningVar: [1, 1, 1] });
    compareY('after a failed call', await good.y.toArray(), x, SHAPE, ref, null, null);
    const inference = batchNorm(gpu, xT, { training: false, runningMean: rm, runningVar: rv });
    await expect(inference.y.ready()).resolves.toBeUndefined();
    compareElements('runningMean after a failed call', await rm.toArray(), ref.runningMean!, () => 1e-6);
    gpu.destroy();
  });

  it('an output computed from a failed call\'s output carries that error (garbage in is not silently used)', async () => {
    const gpu = await requestGpu();
    const doomed = gpu.device.createBuffer({ size: 240, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    const bad = Tensor.fromBuffer(gpu, doomed, SHAPE);
    doomed.destroy();
    const failed = batchNorm(gpu, bad, { training: true });
    const downstream = batchNorm(gpu, failed.y, { training: true });
    await expect(downstream.y.toArray()).rejects.toThrow(/batchNorm forward failed on the GPU/);
    gpu.destroy();
  });
});

describe('4. typos are named, not ignored', () => {
  it('refuses unknown keys, naming the key and the known ones', async () => {
    const gpu = await testGpu(true);
    const { xT, dyT } = tensors(gpu, 7);
    const w = Tensor.fromArray(gpu, [1, 1, 1], [C]);
    const typo = (options: object) => options as never;
    expect(() => batchNorm(gpu, xT, typo({ training: true, weights: w }))).toThrow(
      "batchNorm options has an unknown key 'weights'; the known keys are 'weight', 'bias', 'runningMean', 'runningVar', 'training', 'momentum'",
    );
    expect(() => batchNorm(gpu, xT, typo({ training: true, momemtum: 0.2 }))).toThrow("unknown key 'momemtum'");
    expect(() => batchNorm(gpu, xT, typo({ training: true, running_mean: w }))).toThrow("unknown key 'running_mean'");
    expect(() => batchNorm(gpu, xT, typo({ training: true, out: { Y: Tensor.empty(gpu, SHAPE) } }))).toThrow(
      "batchNorm options.out has an unknown key 'Y'; the known keys are 'y', 'saveMean', 'saveInvstd'",
    );
    const stats = batchNorm(gpu, xT, { training: true });
    expect(() => batchNormBackward(gpu, dyT, xT, typo({ training: true, saveMean: stats.saveMean, saveInvstd: stats.saveInvstd, runningVar: stats.saveInvstd }))).toThrow(
      "batchNormBackward options (training: true) has an unknown key 'runningVar'",
    );
    expect(() => new BatchNorm(gpu, C, typo({ affine: true, track_running_stats: false }))).toThrow("BatchNorm options has an unknown key 'track_running_stats'");
    expect(() => new BatchNorm(gpu, C).forward(xT, typo({ train: false }))).toThrow("BatchNorm.forward options has an unknown key 'train'");
    expect(() => Tensor.fromArray(gpu, [1], [1], typo({ dtpye: 'f32' }))).toThrow("tensor options has an unknown key 'dtpye'");
    expect(() => Tensor.fromArray(gpu, [1], [1], typo({ byteOffset: 256 }))).toThrow("tensor options has an unknown key 'byteOffset'");
    await expect(requestGpu(typo({ powerPrefernce: 'high-performance' }))).rejects.toThrow("requestGpu options has an unknown key 'powerPrefernce'");
  });

  it('reads each option once (a getter cannot answer differently to a check and to the kernel)', async () => {
    const gpu = await testGpu(true);
    const { x, xT } = tensors(gpu, 8);
    let reads = 0;
    const options = {
      training: true,
      get eps() {
        reads++;
        return reads === 1 ? 1e-3 : -1; // valid when checked, invalid if read again
      },
    };
    const { y } = batchNorm(gpu, xT, options);
    expect(reads).toBe(1);
    compareY('eps read once', await y.toArray(), x, SHAPE, batchNormReference(x, SHAPE, { training: true, eps: 1e-3 }), null, null);
  });
});

describe('5. bad calls leak nothing', () => {
  it('a malformed timestampWrites or host data throws before anything is allocated', async () => {
    const gpu = await testGpu(true);
    const { xT, dyT } = tensors(gpu, 9);
    const stats = batchNorm(gpu, xT, { training: true });
    const querySet = gpu.device.createQuerySet({ type: 'timestamp', count: 2 });
    await gpu.device.queue.onSubmittedWorkDone();
    const before = gpu.liveBuffers;
    expect(() => batchNorm(gpu, xT, { training: true, timestampWrites: { querySet, beginningOfPassWriteIndex: 5 } })).toThrow(
      'timestampWrites.beginningOfPassWriteIndex must be an integer in [0, 2) (the query set\'s count), got 5',
    );
    expect(() => batchNorm(gpu, xT, { training: true, timestampWrites: { querySet: {} as GPUQuerySet, endOfPassWriteIndex: 0 } })).toThrow(
      "timestampWrites.querySet must be a GPUQuerySet of type 'timestamp'",
    );
    expect(() => batchNorm(gpu, xT, { training: true, timestampWrites: { querySet } })).toThrow('needs beginningOfPassWriteIndex, endOfPassWriteIndex or both');
    expect(() =>
      batchNormBackward(gpu, dyT, xT, {
        training: true, saveMean: stats.saveMean!, saveInvstd: stats.saveInvstd!, timestampWrites: { querySet, beginningOfPassWriteIndex: 1, endOfPassWriteIndex: 1 },
      }),
    ).toThrow('timestampWrites writes both timestamps to index 1; they must differ');
    expect(() => Tensor.fromArray(gpu, new BigInt64Array(4) as never, [4])).toThrow(
      'tensor data must be a Float32Array, a Float64Array or an array of numbers, got a BigInt64Array',
    );
    expect(() => Tensor.fromArray(gpu, ['1', 2] as never, [2])).toThrow('got an array of length 2');
    expect(gpu.liveBuffers).toBe(before);
    querySet.destroy();
  });

  it('Tensor.fromArray frees its buffer when the upload throws', async () => {
    const base = await testGpu(true);
    // queue.writeBuffer throwing, as Dawn's does for data it cannot take.
    const member = (real: object, key: PropertyKey) => {
      const value = Reflect.get(real, key, real) as unknown;
      return typeof value === 'function' ? (value as () => unknown).bind(real) : value;
    };
    const throwing = () => {
      throw new TypeError('no overload matched for writeBuffer');
    };
    const queue = new Proxy(base.device.queue, { get: (real, key) => (key === 'writeBuffer' ? throwing : member(real, key)) });
    const device = new Proxy(base.device, { get: (real, key) => (key === 'queue' ? queue : member(real, key)) });
    const gpu = Gpu.fromDevice(device);
    for (const dtype of ['f32', 'f16'] as const) {
      expect(() => Tensor.fromArray(gpu, new Float32Array(4), [4], { dtype })).toThrow('no overload matched for writeBuffer');
      expect(gpu.liveBuffers, dtype).toBe(0);
    }
  });

  it('Tensor.fromArray uploads a Float32Array over shared memory (wasm\'s; Dawn\'s case is in test/dawn/node-dawn.test.ts)', async () => {
    const gpu = await testGpu(true);
    // The page is not cross-origin isolated, so there is no SharedArrayBuffer constructor, but shared wasm memory still is one.
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    expect(Object.prototype.toString.call(memory.buffer)).toBe('[object SharedArrayBuffer]');
    const values = [1.5, -2.25, 3, 1e-3, 65504, -7.125];
    const view = new Float32Array(memory.buffer, 64, values.length);
    view.set(values);
    await inErrorScopes(gpu, async () => {
      expect(await Tensor.fromArray(gpu, view, [2, 3]).toArray()).toEqual(Float32Array.from(values));
      expect(await Tensor.fromArray(gpu, view, [2, 3], { dtype: 'f16' }).toArray()).toEqual(roundToHalf(Float32Array.from(values)));
    });
  });
});

describe('6. malformed arguments get messages that name them', () => {
  it('names the argument and what was expected', async () => {
    const gpu = await testGpu(true);
    const { xT } = tensors(gpu, 10);
    expect(() => batchNorm(undefined as never, xT, { training: true })).toThrow(
      'gpu must be a Gpu (from requestGpu() or Gpu.fromDevice(device)), got undefined',
    );
    expect(() => new BatchNorm(undefined as never, 3)).toThrow('new BatchNorm(gpu, ...): gpu must be a Gpu');
    expect(() => batchNorm(gpu, { shape: [2, 3] } as never, { training: true })).toThrow(
      'x must be a Tensor (Tensor.fromArray, Tensor.fromBuffer or an operation\'s output), got an object with keys [shape]',
    );
    expect(() => batchNorm(gpu, xT, undefined as never)).toThrow('batchNorm options must be an object, got undefined');
    expect(() => batchNorm(gpu, xT, { training: 'yes' } as never)).toThrow("batchNorm options.training must be true or false, got 'yes'");
    expect(() => Tensor.fromArray(gpu, null as never, [2])).toThrow('tensor data must be a Float32Array, a Float64Array or an array of numbers, got null');
    // eslint-disable-next-line no-sparse-arrays
    expect(() => Tensor.fromArray(gpu, [1, 2, 3, 4], [4, , 1] as never)).toThrow('shape [4,undefined,1] has dimension 1 = undefined');
    expect(() => Gpu.fromDevice({} as GPUDevice)).toThrow('Gpu.fromDevice needs a GPUDevice');
    await expect(requestGpu({ gpu: {} as GPU })).rejects.toThrow("options.gpu must be a WebGPU entry point (navigator.gpu; in Node.js, use requestDawnGpu from 'webgpu-batchnorm/dawn' instead), got an object with keys []");
    expect(() => batchNorm(gpu, xT, { training: true, weight: [1, 2, 3] as never })).toThrow('weight must be a Tensor');
  });
});

describe('7. a buffer destroyed behind the library\'s back never reads as zeros', () => {
  it('toArray rejects', async () => {
    const gpu = await requestGpu();
    const t = Tensor.fromArray(gpu, [1, 2, 3, 4], [4]);
    t.buffer.destroy();
    await expect(t.toArray()).rejects.toThrow(/reading tensor 'tensor' failed on the GPU: .*destroyed/i);
    gpu.destroy();
  });
});
