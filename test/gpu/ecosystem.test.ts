/// <reference types="vite/client" />
// Interoperability on one GPUDevice: TensorFlow.js 4.22 (webgpu backend) and ONNX Runtime Web 1.30
// (WebGPU execution provider) hand GPUBuffers to batchNorm and take its results back, with no copy
// through the CPU between the libraries. The device is tfjs's; Gpu.fromDevice borrows it and ORT's
// sessions are given it in their execution-provider options.
//
// Traps these tests step around (each is pointed out where it matters):
// - tfjs keeps small tensors on the CPU (WEBGPU_CPU_FORWARD), and dataToGPU() throws for them.
// - tfjs records its kernels into a private encoder and submits lazily; dataToGPU(), data() and
//   tf.tensor({ buffer }) flush it. Its dataToGPU() buffers go back to tfjs's pool on tensorRef.dispose().
// - ORT's elementwise kernels read vec4s: a GPU input buffer must be padded to 16 bytes, or the last
//   elements come out silently wrong. Its gpu-buffer outputs are padded and go back to its cache on dispose().
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgpu'; // registers the 'webgpu' backend
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import * as ort from 'onnxruntime-web/webgpu';
import ortWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchNorm, Gpu, Tensor } from '../../src/index.js';
import { batchNormReference } from '../../src/reference.js';
import { onnxModel } from '../../bench/onnx-model.js';
import { gaussian, seededRandom, uniform } from '../support/random.js';
import { compareTrainingStatistics, compareY } from '../support/tolerances.js';
import { inErrorScopes } from './gpu-context.js';

const STORAGE = GPUBufferUsage.STORAGE;
const COPY_SRC = GPUBufferUsage.COPY_SRC;

let device: GPUDevice;
let gpu: Gpu;
const uncaptured: string[] = [];

beforeAll(async () => {
  // A missing WebGPU adapter makes setBackend resolve false: fail the run, never skip.
  if (!(await tf.setBackend('webgpu'))) throw new Error('TensorFlow.js could not start its webgpu backend (no WebGPU adapter?)');
  await tf.ready();
  // Otherwise tfjs runs ops on small CPU-resident inputs on the CPU, and their results cannot be handed over.
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  device = (tf.backend() as WebGPUBackend).device;
  gpu = Gpu.fromDevice(device);
  // Errors of work the error scopes cannot see (another library's asynchronous submits) fail the file.
  device.addEventListener('uncapturederror', (event) => uncaptured.push((event as GPUUncapturedErrorEvent).error.message));
});

afterAll(() => {
  gpu?.destroy(); // frees the library's scratch buffers; the device stays tfjs's
  expect(uncaptured).toEqual([]);
});

/** Relu in float64, for the references of chains that end in a Relu. */
const relu = (values: Float64Array) => values.map((v) => Math.max(v, 0));

describe('TensorFlow.js (webgpu backend) on the same device', () => {
  const shape = [4, 3, 5, 6];
  const size = 4 * 3 * 5 * 6;

  /** A tfjs tensor whose data lives on the GPU: tf.tensor() keeps values on the CPU, an op's output is on the GPU (x * 1 is exact). */
  const onGpu = (values: Float32Array, dims: number[]) => tf.tidy(() => tf.mul(tf.tensor(values, dims), 1));

  /** The tfjs tensor's data as a GPUBuffer (a copy tfjs makes and submits, starting at byte 0, exactly 4 * size bytes). */
  function gpuData(t: tf.Tensor): { buffer: GPUBuffer; tensorRef: tf.Tensor } {
    const { buffer, tensorRef } = t.dataToGPU();
    if (!buffer) throw new Error('dataToGPU gave no GPUBuffer: not the webgpu backend?');
    return { buffer, tensorRef };
  }

  it('tfjs tensors in, y back as a tfjs tensor (copy mode), matching the reference', async () => {
    await inErrorScopes(gpu, async () => {
      const tensorsBefore = tf.memory().numTensors;
      const rnd = seededRandom(4022);
      const x = gaussian(rnd, size, 0.5, 2);
      const w = uniform(rnd, 3, 0.5, 1.5);
      const b = gaussian(rnd, 3);
      const xTf = onGpu(x, shape);
      const wTf = onGpu(w, [3]);
      const bTf = onGpu(b, [3]);

      const xData = gpuData(xTf);
      const wData = gpuData(wTf);
      const bData = gpuData(bTf);
      const xT = Tensor.fromBuffer(gpu, xData.buffer, shape, { label: 'tfjs x' });
      const wT = Tensor.fromBuffer(gpu, wData.buffer, [3], { label: 'tfjs weight' });
      const bT = Tensor.fromBuffer(gpu, bData.buffer, [3], { label: 'tfjs bias' });
      // Submitted at once, after tfjs's submitted copies: it reads them.
      const out = batchNorm(gpu, xT, { training: true, weight: wT, bias: bT });
      // Our reads are submitted, so tfjs may take the buffers back into its pool (and write them later).
      for (const data of [xData, wData, bData]) data.tensorRef.dispose();
      for (const t of [xT, wT, bT]) t.destroy(); // forgets the wrappers; tfjs's buffers are left alone

      // Copy mode (the default, not zeroCopy): tfjs copies y into a buffer of its own pool and submits the
      // copy now, so y can be destroyed right away and neither library holds the other's buffer. zeroCopy
      // would save one GPU copy but tie y's lifetime to the tfjs tensor and to every tfjs op reading it.
      const yTf = tf.tensor({ buffer: out.y.buffer }, shape, 'float32');
      out.y.destroy();
      const y = await yTf.data();
      expect(y.length).toBe(size); // y's buffer is exactly 4 * size bytes: no padding for data() to return

      const ref = batchNormReference(x, shape, { training: true, weight: w, bias: b });
      compareY('tfjs -> batchNorm -> tfjs y', y, x, shape, ref, w, b);
      const saved = { saveMean: await out.saveMean!.toArray(), saveInvstd: await out.saveInvstd!.toArray() };
      compareTrainingStatistics('tfjs -> batchNorm', saved, ref);

      out.saveMean!.destroy();
      out.saveInvstd!.destroy();
      tf.dispose([xTf, wTf, bTf, yTf]);
      expect(tf.memory().numTensors).toBe(tensorsBefore);
    });
  });

  it('recorded into a caller encoder, y in a caller buffer that tfjs then binds (zeroCopy) and runs relu on', async () => {
    await inErrorScopes(gpu, async () => {
      const tensorsBefore = tf.memory().numTensors;
      const rnd = seededRandom(4023);
      const x = gaussian(rnd, size, -1, 3);
      const w = uniform(rnd, 3, 0.5, 1.5);
      const b = gaussian(rnd, 3);
      const xTf = onGpu(x, shape);
      const xData = gpuData(xTf);
      const xT = Tensor.fromBuffer(gpu, xData.buffer, shape, { label: 'tfjs x' });
      const wT = Tensor.fromArray(gpu, w, [3], { label: 'weight' });
      const bT = Tensor.fromArray(gpu, b, [3], { label: 'bias' });
      // tfjs needs STORAGE | COPY_SRC on a buffer it is given.
      const yBuffer = device.createBuffer({ label: 'caller y', size: size * 4, usage: STORAGE | COPY_SRC });
      const yT = Tensor.fromBuffer(gpu, yBuffer, shape, { label: 'caller y' });

      const encoder = device.createCommandEncoder({ label: 'caller encoder' });
      const out = batchNorm(gpu, xT, { training: true, weight: wT, bias: bT, out: { y: yT }, encoder });
      expect(out.y).toBe(yT);
      device.queue.submit([encoder.finish()]);
      // Only now, with the reads submitted, may tfjs reuse x's buffer: disposing it before the submit would
      // let a tfjs op write it (or find it in use) before batchNorm has read it.
      xData.tensorRef.dispose();

      // zeroCopy: tfjs binds our buffer itself. It must outlive every tfjs op that reads it; await data()
      // below is the point where relu has run. Our encoder was submitted first, so tfjs reads its result.
      const yTf = tf.tensor({ buffer: yBuffer, zeroCopy: true }, shape, 'float32');
      const activated = tf.relu(yTf);
      const y = await activated.data();

      const ref = batchNormReference(x, shape, { training: true, weight: w, bias: b });
      compareY('encoder batchNorm -> tfjs relu', y, x, shape, { ...ref, y: relu(ref.y) }, w, b);
      compareTrainingStatistics('encoder batchNorm', { saveMean: await out.saveMean!.toArray(), saveInvstd: await out.saveInvstd!.toArray() }, ref);

      tf.dispose([xTf, yTf, activated]); // a zeroCopy tensor's disposal leaves the buffer to us
      for (const t of [xT, wT, bT, yT, out.saveMean!, out.saveInvstd!]) t.destroy();
      yBuffer.destroy();
      expect(tf.memory().numTensors).toBe(tensorsBefore);
    });
  });
});

describe('ONNX Runtime Web (WebGPU EP) on the same device', () => {
  const shape = [2, 3, 5, 7]; // 210 floats = 840 bytes: not a multiple of 16, so ORT's padding rule matters
  const size = 2 * 3 * 5 * 7;
  const align16 = (bytes: number) => Math.ceil(bytes / 16) * 16;
  let addSession: ort.InferenceSession;
  let reluSession: ort.InferenceSession;

  beforeAll(async () => {
    ort.env.wasm.wasmPaths = { wasm: ortWasmUrl }; // served by Vite from node_modules
    ort.env.wasm.numThreads = 1; // the test page is not cross-origin isolated: no wasm threads
    ort.env.logLevel = 'error';
    const value = (name: string) => ({ name, dims: shape });
    // The device goes in the EP options; ort.env.webgpu.device is not read by 1.30 (ORT would make its own).
    const options: ort.InferenceSession.SessionOptions = { executionProviders: [{ name: 'webgpu', device }], preferredOutputLocation: 'gpu-buffer' };
    // One session per model for the whole file: the first one loads and compiles ORT's wasm (seconds).
    addSession = await ort.InferenceSession.create(
      onnxModel({ nodes: [{ op: 'Add', inputs: ['X', 'Y'], outputs: ['Z'] }], inputs: [value('X'), value('Y')], outputs: [value('Z')] }),
      options,
    );
    reluSession = await ort.InferenceSession.create(
      onnxModel({ nodes: [{ op: 'Relu', inputs: ['X'], outputs: ['Z'] }], inputs: [value('X')], outputs: [value('Z')] }),
      options,
    );
  });

  afterAll(async () => {
    await addSession?.release();
    await reluSession?.release();
  });

  it("ORT's gpu-buffer output into batchNorm, y (padded to 16 bytes) into a second session", async () => {
    await inErrorScopes(gpu, async () => {
      const rnd = seededRandom(130);
      const a = gaussian(rnd, size, 1, 2);
      const c = uniform(rnd, size, -1, 1);
      const w = uniform(rnd, 3, 0.5, 1.5);
      const b = gaussian(rnd, 3);
      const x = new Float32Array(size).map((_, i) => a[i]! + c[i]!); // Add in float32, as ORT computes it

      const { Z: sum } = await addSession.run({ X: new ort.Tensor('float32', a, shape), Y: new ort.Tensor('float32', c, shape) });
      expect(sum!.location).toBe('gpu-buffer');
      // run() has submitted ORT's work; the output buffer is padded (bucketed) and has STORAGE | COPY_SRC.
      const xT = Tensor.fromBuffer(gpu, sum!.gpuBuffer, shape, { label: 'ORT Add output' });
      const wT = Tensor.fromArray(gpu, w, [3], { label: 'weight' });
      const bT = Tensor.fromArray(gpu, b, [3], { label: 'bias' });
      // y goes to ORT: its buffer must be padded to 16 bytes (848 here, not 840) and have STORAGE.
      const yBuffer = device.createBuffer({ label: 'y for ORT', size: align16(size * 4), usage: STORAGE | COPY_SRC });
      const out = batchNorm(gpu, xT, { training: true, weight: wT, bias: bT, out: { y: Tensor.fromBuffer(gpu, yBuffer, shape, { label: 'y for ORT' }) } });
      // Our reads of ORT's buffer are submitted: give it back to ORT's cache (a later run may overwrite it).
      sum!.dispose();
      xT.destroy();

      const { Z: activated } = await reluSession.run({ X: ort.Tensor.fromGpuBuffer(yBuffer, { dataType: 'float32', dims: shape }) });
      const y = (await activated!.getData(true)) as Float32Array; // downloads, then releases ORT's buffer

      const ref = batchNormReference(x, shape, { training: true, weight: w, bias: b });
      compareY('ORT Add -> batchNorm -> ORT Relu', y, x, shape, { ...ref, y: relu(ref.y) }, w, b);
      compareTrainingStatistics('ORT Add -> batchNorm', { saveMean: await out.saveMean!.toArray(), saveInvstd: await out.saveInvstd!.toArray() }, ref);

      for (const t of [wT, bT, out.y, out.saveMean!, out.saveInvstd!]) t.destroy();
      yBuffer.destroy(); // ORT does not take ownership of input buffers; its run has completed
    });
  });
});
