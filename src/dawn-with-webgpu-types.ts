// The `webgpu-batchnorm/dawn` entry's types for TypeScript before 6 (see index-with-webgpu-types.ts).
/// <reference types="@webgpu/types" preserve="true" />
export * from './dawn.js';
