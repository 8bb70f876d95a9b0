// TensorFlow.js 4.22 (webgpu backend) as a peer, on our GPUDevice: a WebGPUBackend constructed on the
// device (its constructor takes one) under a backend name of its own, with the webgpu backend's kernels
// registered for that name, so tfjs and webgpu-batchnorm share one device and one queue.
//
// What is timed, as tfjs users write it (x, dy: the case's tensors; gamma, beta: [C]; eps 1e-5):
//   training NHWC (tfjs's own layout):  const { mean, variance } = tf.moments(x, [0, 1, 2]);
//                                       tf.batchNorm(x, mean, variance, beta, gamma, eps)
//   training NCHW:                      tf.moments(x, [0, 2, 3], true) gives [1, C, 1, 1] statistics, and
//                                       tf.batchNorm takes gamma and beta reshaped to [1, C, 1, 1]
//   inference:                          tf.batchNorm(x, movingMean, movingVariance, beta, gamma, eps)
//                                       ([C] in NHWC, [1, C, 1, 1] in NCHW)
//   forward+backward:                   tf.grads((x, gamma, beta) => forward)([x, gamma, beta], dy), the
//                                       forward being the training one in NHWC; in NCHW tfjs's gradient of
//                                       batchNorm throws for [1, C, 1, 1] parameters (it reshapes a
//                                       full-size gradient to the parameter's shape), so the NCHW forward
//                                       is written with broadcasting ops, as a user then does:
//                                       (x - mean) * tf.rsqrt(variance + eps) * gamma4 + beta4
// Each call runs inside tf.tidy, which disposes its outputs and intermediates.
//
// Traps: tfjs-core registers no gradients until '@tensorflow/tfjs-core/dist/register_all_gradients' is
// imported; the webgpu backend's constructor needs `navigator.gpu` to exist (Node.js has no navigator:
// scripts/bench-node.ts sets one from Dawn); with WEBGPU_CPU_FORWARD on, ops on small inputs run on the
// CPU. tfjs records dispatches into its own command encoder and submits every 15 of them
// (WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE): the flush after a timed loop submits the rest, by the same three
// public calls tfjs makes before its own buffer copies (ensureCommandEncoderReady, endComputePassEncoder,
// submitQueue).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import type { Gpu } from '../src/index.js';
import type { PeerCaseData, PeerOutputs, Contender, PreparedPeerCase } from './contender.js';
import { tfjsSupports } from './peers.js';

/** The backend name of tfjs on our device (tfjs's own 'webgpu' backend would make a device of its own). */
const BACKEND = 'webgpu-batchnorm-peer';
/** The name tfjs-backend-webgpu registers its kernels under. */
const KERNELS_OF = 'webgpu';

/** TensorFlow.js on the benchmark's device, made the current backend. */
export interface TfjsOnDevice {
  /** "TensorFlow.js 4.22.0 (webgpu backend)". */
  readonly name: string;
  /** Submits the dispatches tfjs has recorded but not yet submitted. */
  flush(): void;
  /**
   * Removes the backend (destroying the buffers of tfjs's pool; the device is ours and stays), and makes
   * the backend that was current before (tfjs's own webgpu backend in the demo page, say) current again.
   */
  dispose(): Promise<void>;
}

/** tfjs's webgpu backend constructed on `gpu`'s device, under a name of its own, as the current backend (the peers and the model row). */
export async function startTfjsOnDevice(gpu: Gpu): Promise<TfjsOnDevice> {
  const device = gpu.device;
  const previous = tf.getBackend() as string | null | undefined; // none before any backend has started
  const restore = previous && previous !== BACKEND ? previous : null;
  for (const kernel of tf.getKernelsForBackend(KERNELS_OF)) {
    if (!tf.getKernel(kernel.kernelName, BACKEND)) tf.registerKernel({ ...kernel, backendName: BACKEND });
  }
  if (tf.findBackendFactory(BACKEND)) tf.removeBackend(BACKEND);
  const backend = new WebGPUBackend(device, device.adapterInfo);
  tf.registerBackend(BACKEND, () => backend);
  if (!(await tf.setBackend(BACKEND))) throw new Error('TensorFlow.js did not take its webgpu backend on the shared device');
  await tf.ready();
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  return {
    name: `TensorFlow.js ${tf.version_core} (webgpu backend)`,
    flush() {
      backend.ensureCommandEncoderReady();
      backend.endComputePassEncoder();
      backend.submitQueue();
    },
    async dispose() {
      tf.removeBackend(BACKEND);
      if (restore !== null) await tf.setBackend(restore);
    },
  };
}

export async function tfjsContender(gpu: Gpu): Promise<Contender> {
  const tfjs = await startTfjsOnDevice(gpu);
  return {
    name: tfjs.name,
    supports: tfjsSupports,
    prepare: async (data) => prepare(data, () => tfjs.flush()),
    dispose: () => tfjs.dispose(),
  };
}

async function prepare(data: PeerCaseData, flush: () => void): Promise<PreparedPeerCase> {
  const { dims, channels: C, layout, mode, eps } = data;
  const nchw = layout === 'NCHW';
  const tensorsBefore = tf.memory().numTensors;
  const axes = nchw ? [0, 2, 3] : [0, 1, 2];
  const paramShape = nchw ? [1, C, 1, 1] : [C];
  // Uploaded once here (tf.tensor keeps values on the CPU until an op first reads them on the GPU).
  const x = tf.tensor(data.x, [...dims]);
  const dy = tf.tensor(data.dy, [...dims]);
  const gamma = tf.tensor1d(data.weight);
  const beta = tf.tensor1d(data.bias);
  const gammaB = tf.reshape(gamma, paramShape);
  const betaB = tf.reshape(beta, paramShape);
  const movingMean = tf.tensor(data.runningMean, paramShape);
  const movingVariance = tf.tensor(data.runningVar, paramShape);
  const kept = [x, dy, gamma, beta, gammaB, betaB, movingMean, movingVariance];

  const trainingForward = (input: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    const { mean, variance } = tf.moments(input, axes, nchw);
    if (!nchw) return tf.batchNorm(input, mean, variance, b, g, eps);
    // NCHW: broadcasting ops (tf.batchNorm's gradient throws for [1, C, 1, 1] parameters).
    const normalized = tf.mul(tf.sub(input, mean), tf.rsqrt(tf.add(variance, eps)));
    return tf.add(tf.mul(normalized, tf.reshape(g, paramShape)), tf.reshape(b, paramShape));
  };
  const gradients = tf.grads((input: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => trainingForward(input, g, b));

  let call: () => tf.Tensor[];
  let code: string;
  if (mode === 'training') {
    call = () => {
      const { mean, variance } = tf.moments(x, axes, nchw);
      return [tf.batchNorm(x, mean, variance, betaB, gammaB, eps)];
    };
    code = nchw
      ? 'tf.tidy(() => { const { mean, variance } = tf.moments(x, [0, 2, 3], true); tf.batchNorm(x, mean, variance, beta4, gamma4, eps) }) (beta4, gamma4: [1, C, 1, 1])'
      : 'tf.tidy(() => { const { mean, variance } = tf.moments(x, [0, 1, 2]); tf.batchNorm(x, mean, variance, beta, gamma, eps) })';
  } else if (mode === 'inference') {
    call = () => [tf.batchNorm(x, movingMean, movingVariance, betaB, gammaB, eps)];
    code = `tf.tidy(() => tf.batchNorm(x, movingMean, movingVariance, beta, gamma, eps))${nchw ? ' (all [1, C, 1, 1])' : ''}`;
  } else {
    call = () => gradients([x, gamma, beta], dy);
    code = nchw
      ? 'tf.tidy(() => tf.grads((x, gamma, beta) => { const { mean, variance } = tf.moments(x, [0, 2, 3], true); ' +
        'return (x - mean) * tf.rsqrt(variance + eps) * gamma.reshape([1, C, 1, 1]) + beta.reshape([1, C, 1, 1]) })([x, gamma, beta], dy)) (tf ops)'
      : 'tf.tidy(() => tf.grads((x, gamma, beta) => { const { mean, variance } = tf.moments(x, [0, 1, 2]); ' +
        'return tf.batchNorm(x, mean, variance, beta, gamma, eps) })([x, gamma, beta], dy))';
  }
  const run = () => tf.tidy(() => void call());
  try {
    // One call first, so x and the parameters are on the GPU before the count of live tensors is taken.
    run();
  } catch (error) {
    tf.dispose(kept);
    throw error;
  }
  const tensorsReady = tf.memory().numTensors;

  return {
    code,
    run,
    flush,
    async outputs(): Promise<PeerOutputs> {
      const results = tf.tidy(() => {
        if (mode !== 'forward+backward') return call();
        const { mean, variance } = tf.moments(x, axes);
        return [trainingForward(x, gamma, beta), ...gradients([x, gamma, beta], dy), mean, variance];
      });
      try {
        const [y, dx, dweight, dbias, mean, variance] = (await Promise.all(results.map((t) => t.data()))) as Float32Array[];
        if (mode !== 'forward+backward') return { y: y! };
        const invstd = Float64Array.from(variance!, (v) => 1 / Math.sqrt(v + eps));
        return { y: y!, dx: dx!, dweight: dweight!, dbias: dbias!, mean: mean!, invstd };
      } finally {
        tf.dispose(results);
      }
    },
    dispose() {
      const leaked = tf.memory().numTensors - tensorsReady;
      tf.dispose(kept);
      if (leaked !== 0) throw new Error(`TensorFlow.js: ${leaked} tensor(s) left alive by the timed calls`);
      if (tf.memory().numTensors !== tensorsBefore) throw new Error('TensorFlow.js: the case did not free its tensors');
    },
  };
}
