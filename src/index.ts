export { DeviceLostError, Gpu, GpuOperationError, requestGpu } from './gpu.js';
export type { GpuFeatures, GpuOptions, OptionalFeature, RequestGpuOptions } from './gpu.js';
export { Tensor } from './tensor.js';
export type { DType } from './tensor.js';
export { batchNorm, DEFAULT_EPS, DEFAULT_MOMENTUM } from './batch-norm.js';
export type { BatchNormOptions, BatchNormResult } from './batch-norm.js';
export { batchNormBackward } from './batch-norm-backward.js';
export type {
  BatchNormBackwardInference,
  BatchNormBackwardOptions,
  BatchNormBackwardResult,
  BatchNormBackwardTraining,
} from './batch-norm-backward.js';
export { BatchNorm } from './batch-norm-module.js';
export type { BatchNormModuleOptions } from './batch-norm-module.js';
export { batchNormReference, channelMoments } from './reference.js';
export type { ReferenceForwardOptions, ReferenceForwardResult } from './reference.js';
export { batchNormBackwardReference } from './reference-backward.js';
export type { ReferenceBackwardOptions, ReferenceBackwardResult } from './reference-backward.js';
