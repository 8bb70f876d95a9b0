// Dawn (the `webgpu` npm package) for the Node.js scripts: bench-node.ts and gpu-check.ts.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { create, globals } from 'webgpu';
import { requestGpu, type Gpu, type RequestGpuOptions } from '../src/index.js';

// Without a GPU, Dawn's Vulkan backend needs an ICD and a loader: use Chromium's SwiftShader and its
// libvulkan. The loader path is read at process start, so the script runs itself again with both set.
const CHROMIUM_LIB = '/usr/lib/chromium';
const SWIFTSHADER_ICD = `${CHROMIUM_LIB}/vk_swiftshader_icd.json`;

/** Re-runs this script on SwiftShader (and exits with its status) when there is no GPU and no ICD is set. */
export function reexecOnSwiftShaderWithoutGpu(scriptName: string): void {
  const hasGpuDevice = ['/dev/nvidiactl', '/dev/dri'].some((path) => existsSync(path));
  if (process.env.VK_ICD_FILENAMES || hasGpuDevice || !existsSync(SWIFTSHADER_ICD)) return;
  console.log(`${scriptName}: no GPU device node found; running on SwiftShader from ${CHROMIUM_LIB}`);
  const env = {
    ...process.env,
    VK_ICD_FILENAMES: SWIFTSHADER_ICD,
    LD_LIBRARY_PATH: [CHROMIUM_LIB, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
  };
  const child = spawnSync(process.execPath, process.argv.slice(1), { env, stdio: 'inherit' });
  process.exit(child.status ?? 1);
}

// One entry point for the process: requestGpu keeps it referenced in each Gpu wrapper (Dawn crashes
// natively once it is collected while a device made from it is in use).
let entryPoint: GPU | undefined;

/** A device on Dawn; WebGPU's globals (GPUBufferUsage, ...) are installed on first use. */
export function requestDawnGpu(options: Omit<RequestGpuOptions, 'gpu'> = {}): Promise<Gpu> {
  if (!entryPoint) {
    Object.assign(globalThis, globals);
    entryPoint = create([]);
  }
  return requestGpu({ ...options, gpu: entryPoint });
}
