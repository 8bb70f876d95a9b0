// TensorFlow.js's webgpu backend started on a Gpu's device: how Node.js users (requestDawnGpu) get tfjs on
// WebGPU at all, and how a page shares one device between tfjs and this library. tfjs-backend-webgpu
// registers its 'webgpu' backend on import only where navigator.gpu exists (Node.js has no navigator), and
// its backend's constructor refuses to run without it; its kernels register under 'webgpu' on import
// either way. So the backend is registered here, under that name, as a WebGPUBackend on the Gpu's device,
// after navigator.gpu is set to the Gpu's entry point where there is none. tfjs-backend-webgpu is imported
// when this runs, so that the entry's other users never load it.
import { findBackend, findBackendFactory, registerBackend, removeBackend, setBackend } from '@tensorflow/tfjs-core';
import { assertGpu, type Gpu } from '../../runtime/gpu.js';
import { provideNavigatorGpu } from '../navigator-gpu.js';

const BACKEND = 'webgpu';

/**
 * Starts TensorFlow.js's webgpu backend on `gpu`'s device and makes it tfjs's current backend.
 *
 * In Node.js,
 * with a Gpu from `requestDawnGpu` (`webgpu-batchnorm/dawn`), this is how tfjs runs on WebGPU at all; in a
 * browser it shares one device between tfjs and this library. Call it before anything starts tfjs's
 * webgpu backend (`tf.setBackend('webgpu')`, `tf.ready()` or a first op on it). The layer
 * ({@link batchNormalization}) then runs on it as on tfjs's own. Needs @tensorflow/tfjs-core and
 * @tensorflow/tfjs-backend-webgpu 4.22 installed.
 *
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import '@tensorflow/tfjs-backend-webgpu';
 * import { requestDawnGpu } from 'webgpu-batchnorm/dawn';
 * import { startTfjsWebGpu } from 'webgpu-batchnorm/tfjs';
 *
 * const gpu = await requestDawnGpu();
 * await startTfjsWebGpu(gpu); // tf.getBackend() is now 'webgpu', on gpu.device
 * ```
 *
 * @param gpu - The Gpu whose device tfjs is to use; it must stay alive while tfjs runs on it.
 * @throws Error when tfjs's webgpu backend already runs on another device.
 */
export async function startTfjsWebGpu(gpu: Gpu): Promise<void> {
  assertGpu(gpu, 'startTfjsWebGpu gpu');
  gpu.assertAlive();
  const running = findBackend(BACKEND) as { device?: GPUDevice } | null;
  if (running) {
    if (running.device !== gpu.device) {
      throw new Error(
        "startTfjsWebGpu: TensorFlow.js's webgpu backend already runs on another device; call startTfjsWebGpu before anything starts it (tf.setBackend('webgpu'), tf.ready() or a first op)",
      );
    }
  } else {
    // The backend's constructor requires navigator.gpu.
    if (!provideNavigatorGpu(gpu.entryPoint)) {
      throw new Error(
        "startTfjsWebGpu: this runtime has no navigator.gpu, and the Gpu does not know its entry point; use requestDawnGpu from 'webgpu-batchnorm/dawn' (or pass options.gpu to Gpu.fromDevice)",
      );
    }
    const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
    // A factory tfjs-backend-webgpu registered on import (a browser's), never started: ours takes its place.
    if (findBackendFactory(BACKEND)) removeBackend(BACKEND);
    registerBackend(BACKEND, () => new WebGPUBackend(gpu.device, gpu.device.adapterInfo));
  }
  if (!(await setBackend(BACKEND))) throw new Error("startTfjsWebGpu: TensorFlow.js could not start its webgpu backend on the Gpu's device");
}
