export { DeviceLostError, Gpu, GpuOperationError, requestGpu } from './gpu.js';
export type { GpuFeatures, GpuOptions, OptionalFeature, RequestGpuOptions } from './gpu.js';
export { Tensor } from './tensor.js';
export type { DType, TensorData, TensorOptions, WrapOptions } from './tensor.js';
export { DEFAULT_EPS, DEFAULT_MOMENTUM } from './defaults.js';
export type { Recording } from './runner.js';
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
  BatchNormModuleOptions,
  BatchNormStateDict,
  BatchNormStateDictInput,
  KerasBatchNormOptions,
  RunningVarEstimator,
  StateValues,
} from './batch-norm-module.js';
export { batchNormReference, channelMoments } from './reference.js';
export type { ReferenceForwardOptions, ReferenceForwardResult } from './reference.js';
export { batchNormBackwardReference } from './reference-backward.js';
export type { ReferenceBackwardOptions, ReferenceBackwardResult } from './reference-backward.js';
