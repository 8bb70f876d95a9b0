// The `webgpu-batchnorm/dawn` entry: a Gpu on Dawn in Node.js (src/platforms/dawn.ts).
/**
 * WebGPU in Node.js through Dawn (the npm package `webgpu`, an optional peer dependency):
 * `import { requestDawnGpu } from 'webgpu-batchnorm/dawn'`. On Linux, Dawn's Vulkan backend needs a Vulkan loader
 * (`libvulkan.so.1`) and a driver: a GPU's, or SwiftShader's CPU driver named by `VK_ICD_FILENAMES`.
 *
 * @module webgpu-batchnorm/dawn
 */
export { dawnEntryPoint, requestDawnGpu } from './platforms/dawn.js';
