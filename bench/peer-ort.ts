// ONNX Runtime Web 1.30 (WebGPU execution provider) as a peer, on our GPUDevice: inference through a
// one-node BatchNormalization model (scale, B, mean and var as initializers, as an exported model holds
// them; epsilon 1e-5), X [N, C, H, W] fed from a GPU buffer and Y written into a pre-allocated GPU buffer
// (ORT's IO binding), so a timed `await session.run({ X }, { Y })` moves no data through the CPU, as ours
// writes `out` tensors.
//
// Traps: ORT 1.30 takes the device in the execution provider's options (`executionProviders: [{ name:
// 'webgpu', device }]`), not from ort.env.webgpu.device; its kernels read vec4s, so every buffer handed to
// it is padded to 16 bytes; its NCHW BatchNormalization on a rank-2 (N, C) input applies channel 0's
// statistics to every channel (the sweep's BatchNorm1d shapes are (N, C, 1, 1)); its wasm comes from the
// caller (ort.env.wasm.wasmPaths for a URL, wasmBinary for bytes), with one thread (no workers, no cross-origin isolation needed).
import * as ort from 'onnxruntime-web/webgpu';
import { Tensor, type Gpu } from '../src/index.js';
import { onnxModel } from './onnx-model.js';
import type { PeerCaseData, Contender, PreparedPeerCase } from './contender.js';
import { ortSupports } from './peers.js';

const align16 = (bytes: number) => Math.ceil(bytes / 16) * 16;

export function ortContender(gpu: Gpu, wasm: string | Uint8Array): Contender {
  if (typeof wasm === 'string') ort.env.wasm.wasmPaths = { wasm };
  else ort.env.wasm.wasmBinary = wasm;
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'error';
  return {
    name: `ONNX Runtime Web ${ort.env.versions.web} (WebGPU EP)`,
    supports: ortSupports,
    prepare: (data) => prepare(gpu, data),
    dispose() {},
  };
}

async function prepare(gpu: Gpu, data: PeerCaseData): Promise<PreparedPeerCase> {
  if (!ortSupports(data)) throw new Error(`ONNX Runtime Web's BatchNormalization has no ${data.mode} ${data.layout} case`);
  const { device } = gpu;
  const dims = [...data.dims];
  const C = data.channels;
  const model = onnxModel({
    nodes: [{ op: 'BatchNormalization', inputs: ['X', 'scale', 'B', 'input_mean', 'input_var'], outputs: ['Y'], floatAttributes: { epsilon: data.eps } }],
    inputs: [{ name: 'X', dims }],
    outputs: [{ name: 'Y', dims }],
    initializers: [
      { name: 'scale', dims: [C], values: data.weight },
      { name: 'B', dims: [C], values: data.bias },
      { name: 'input_mean', dims: [C], values: data.runningMean },
      { name: 'input_var', dims: [C], values: data.runningVar },
    ],
    opset: 15,
  });
  const buffers: GPUBuffer[] = [];
  const buffer = (label: string) => {
    const created = device.createBuffer({
      label: `peers ORT ${label}`,
      size: align16(data.x.byteLength),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    buffers.push(created);
    return created;
  };
  let session: ort.InferenceSession | undefined;
  try {
    session = await ort.InferenceSession.create(model, { executionProviders: [{ name: 'webgpu', device }], preferredOutputLocation: 'gpu-buffer' });
    const xBuffer = buffer('X');
    device.queue.writeBuffer(xBuffer, 0, data.x.buffer as ArrayBuffer, data.x.byteOffset, data.x.byteLength);
    const yBuffer = buffer('Y');
    const feeds = { X: ort.Tensor.fromGpuBuffer(xBuffer, { dataType: 'float32', dims }) };
    const fetches = { Y: ort.Tensor.fromGpuBuffer(yBuffer, { dataType: 'float32', dims }) };
    const live = session;
    const run = () => live.run(feeds, fetches);
    return {
      code: 'await session.run({ X }, { Y }) (one BatchNormalization node; X and Y: GPU buffers, ORT.Tensor.fromGpuBuffer)',
      run,
      flush: () => {},
      async outputs() {
        await run();
        const y = Tensor.fromBuffer(gpu, yBuffer, dims, { label: 'peers ORT Y' });
        try {
          return { y: await y.toArray() };
        } finally {
          y.destroy();
        }
      },
      async dispose() {
        await live.release();
        for (const b of buffers) b.destroy();
      },
    };
  } catch (error) {
    await session?.release();
    for (const b of buffers) b.destroy();
    throw error;
  }
}
