// The main entry. The float64 CPU references are the separate entry `webgpu-batchnorm/reference`
// (src/reference-entry.ts). Its declarations reference no WebGPU types package: TypeScript 7's DOM library
// declares WebGPU itself; TypeScript before 7 gets index-with-webgpu-types.d.ts instead (package.json's
// `types@<7` condition).
export { DeviceLostError, Gpu, GpuOperationError, requestGpu } from './gpu.js';
export type { GpuFeatures, GpuOptions, OptionalFeature, RequestGpuOptions } from './gpu.js';
export { Tensor } from './tensor.js';
export type { DType, TensorData, TensorOptions, WrapOptions } from './tensor.js';
export { DEFAULT_EPS, DEFAULT_MOMENTUM } from './defaults.js';
export type { EncoderOptions } from './runner.js';
export { batchNorm } from './batch-norm.js';
export type {
  BatchNormInferenceOptions,
  BatchNormInferenceResult,
  BatchNormOptions,
  BatchNormResult,
  BatchNormTrainingOptions,
  BatchNormTrainingResult,
} from './batch-norm.js';
export { batchNormBackward } from './batch-norm-backward.js';
export type {
  BatchNormBackwardCommon,
  BatchNormBackwardInference,
  BatchNormBackwardOptions,
  BatchNormBackwardResult,
  BatchNormBackwardWeightedResult,
  BatchNormBackwardTraining,
} from './batch-norm-backward.js';
export { BatchNorm } from './batch-norm-module.js';
export type {
  BatchNormForwardOptions,
  BatchNormModuleBackwardOptions,
  BatchNormModuleOptions,
  BatchNormStateDict,
  BatchNormStateDictInput,
  KerasBatchNormOptions,
  NonFiniteName,
  RunningVarEstimator,
  StateValues,
} from './batch-norm-module.js';
