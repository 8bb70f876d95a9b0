// Dawn (the `webgpu` npm package) for the Node.js scripts, bench-node.ts and gpu-check.ts, and the native
// f16 tests (test/dawn/). The device comes from the library's own `webgpu-batchnorm/dawn` entry (src/platforms/dawn.ts).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dawnEntryPoint } from '../src/dawn.js';
import { provideNavigatorGpu } from '../src/platforms/navigator-gpu.js';

export { requestDawnGpu } from '../src/dawn.js';

// Without a GPU, Dawn's Vulkan backend needs an ICD and a loader: use Chromium's SwiftShader and its
// libvulkan. The loader path is read at process start, so the script runs itself again with both set.
const CHROMIUM_LIB = '/usr/lib/chromium';
const SWIFTSHADER_ICD = `${CHROMIUM_LIB}/vk_swiftshader_icd.json`;

/** No GPU device node, no ICD set, and SwiftShader's at hand. */
function needsSwiftShader(): boolean {
  const hasGpuDevice = ['/dev/nvidiactl', '/dev/dri'].some((path) => existsSync(path));
  return !process.env.VK_ICD_FILENAMES && !hasGpuDevice && existsSync(SWIFTSHADER_ICD);
}

/** Re-runs this script on SwiftShader (and exits with its status) when there is no GPU and no ICD is set. */
export function reexecOnSwiftShaderWithoutGpu(scriptName: string): void {
  if (!needsSwiftShader()) return;
  console.log(`${scriptName}: no GPU device node found; running on SwiftShader from ${CHROMIUM_LIB}`);
  const env = {
    ...process.env,
    VK_ICD_FILENAMES: SWIFTSHADER_ICD,
    LD_LIBRARY_PATH: [CHROMIUM_LIB, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
  };
  const child = spawnSync(process.execPath, process.argv.slice(1), { env, stdio: 'inherit' });
  process.exit(child.status ?? 1);
}

/**
 * `navigator.gpu` as a browser has it, from Dawn: TensorFlow.js's webgpu backend refuses to start without
 * it (Node.js 20 has no navigator at all). Call before TensorFlow.js is imported.
 */
export function installNavigatorGpu(): void {
  provideNavigatorGpu(dawnEntryPoint());
}

/**
 * Dawn's queue.writeBuffer rejects a view into a SharedArrayBuffer ("Invalid argument"), which is what
 * ONNX Runtime Web's wasm memory is: such data is copied into an ArrayBuffer first. Only the Node.js
 * runner installs this, on its own device.
 */
export function copySharedWritesOnDawn(device: GPUDevice): void {
  const queue = device.queue;
  const writeBuffer = queue.writeBuffer.bind(queue);
  const unshared = (data: GPUAllowSharedBufferSource): GPUAllowSharedBufferSource => {
    if (data instanceof SharedArrayBuffer) return new Uint8Array(data).slice().buffer;
    if (ArrayBuffer.isView(data) && data.buffer instanceof SharedArrayBuffer) {
      // A typed array keeps its type (dataOffset and size count its elements); a DataView becomes bytes.
      return data instanceof DataView ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice() : (data as Uint8Array).slice();
    }
    return data;
  };
  // The arguments as given (an explicit undefined for an optional one is not what Dawn's binding expects).
  queue.writeBuffer = (...args: Parameters<GPUQueue['writeBuffer']>) => {
    args[2] = unshared(args[2]);
    return writeBuffer(...args);
  };
}
