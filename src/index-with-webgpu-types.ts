// The package's types for TypeScript before 6, whose DOM library has no WebGPU: the main entry's API with
// @webgpu/types brought in (package.json's `types@<6` condition points here). TypeScript 6's and 7's DOM
// libraries declare WebGPU themselves, and @webgpu/types beside them clashes (TS2300 duplicate identifiers), so the main
// entry's declarations reference nothing.
/// <reference types="@webgpu/types" preserve="true" />
export * from './index.js';
