// The package's types for TypeScript before 7, whose DOM library has no WebGPU: the main entry's API with
// @webgpu/types brought in (package.json's `types@<7` condition points here). TypeScript 7's DOM library
// declares WebGPU itself, and @webgpu/types beside it clashes (TS2300 duplicate identifiers), so the main
// entry's declarations reference nothing.
/// <reference types="@webgpu/types" preserve="true" />
export * from './index.js';
