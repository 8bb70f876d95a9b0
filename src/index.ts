// The main entry. The float64 CPU references are the separate entry `webgpu-batchnorm/reference`
// (src/reference.ts). Its declarations reference no WebGPU types package: TypeScript 6's and 7's DOM
// libraries declare WebGPU themselves; TypeScript before 6 gets index-with-webgpu-types.d.ts instead (package.json's
// `types@<6` condition).
/**
 * Batch normalization over WebGPU with PyTorch's semantics: the functional forward {@link batchNorm} and
 * backward {@link batchNormBackward}, and the module {@link BatchNorm} (nn.BatchNorm1d/2d/3d, or Keras's
 * BatchNormalization through {@link BatchNorm.keras}), on {@link Tensor}s of a {@link Gpu} from
 * {@link requestGpu}, `requestDawnGpu` (Node.js, `webgpu-batchnorm/dawn`) or {@link Gpu.fromDevice}.
 * Across replicas (data-parallel training): {@link SyncBatchNorm} over a process group ({@link SyncGroup},
 * {@link createLocalGroup}), and its building blocks {@link batchNormStats}, {@link batchNormGatherStats},
 * {@link batchNormElemt}, {@link batchNormBackwardReduce} and {@link batchNormBackwardElemt}.
 *
 * ## Ownership and cleanup
 *
 * | What | Whose | Freed by |
 * | --- | --- | --- |
 * | a tensor you make ({@link Tensor.fromArray}, {@link Tensor.empty}) | yours | {@link Tensor.destroy} |
 * | a tensor wrapping your buffer ({@link Tensor.fromBuffer}) | the buffer stays yours | you: destroy() drops only the wrapper |
 * | an output of {@link batchNorm}, {@link batchNormBackward}, {@link BatchNorm.forward}, {@link BatchNorm.backward} | yours (or the `out` tensor you passed) | {@link Tensor.destroy} |
 * | a module's `weight`, `bias`, `runningMean`, `runningVar` (with renorm, `runningStddev`, `renormMean`, `renormStddev`) and saved statistics | the module | {@link BatchNorm.destroy}, {@link SyncBatchNorm.destroy} |
 * | a Gpu's device from {@link requestGpu} | the Gpu | {@link Gpu.destroy}, which also ends every tensor on it |
 * | a Gpu's device from {@link Gpu.fromDevice} | yours | you; {@link Gpu.destroy} frees only the library's scratch |
 *
 * Call destroy() when you are done with a tensor or module: WebGPU frees GPU memory at once on destroy(),
 * but only whenever the garbage collector gets to an object you merely drop. Destroy after submitting
 * the work that uses it: work already submitted finishes first, while work recorded into your encoder
 * and not yet submitted would fail at submit. Every destroy() is idempotent; {@link Gpu.liveBuffers}
 * counts the buffers the library still holds.
 *
 * @module webgpu-batchnorm
 */
export { DeviceLostError, Gpu, GpuOperationError, requestGpu } from './runtime/gpu.js';
export type { GpuFeatures, GpuOptions, OptionalFeature, RequestGpuOptions } from './runtime/gpu.js';
export { Tensor } from './runtime/tensor.js';
export type { DType, TensorData, TensorOptions, WrapOptions } from './runtime/tensor.js';
export { DEFAULT_EPS, DEFAULT_MOMENTUM } from './runtime/defaults.js';
export type { EncoderOptions } from './engine/runner.js';
export type { Activation, RenormClipping } from './runtime/validate.js';
export { batchNorm } from './ops/batch-norm.js';
export type {
  BatchNormInferenceOptions,
  BatchNormInferenceResult,
  BatchNormOptions,
  BatchNormResult,
  BatchNormTrainingOptions,
  BatchNormTrainingResult,
} from './ops/batch-norm.js';
export { batchNormBackward } from './ops/batch-norm-backward.js';
export type {
  BatchNormBackwardCommon,
  BatchNormBackwardInference,
  BatchNormBackwardOptions,
  BatchNormBackwardResidualResult,
  BatchNormBackwardResult,
  BatchNormBackwardWeightedResult,
  BatchNormBackwardTraining,
} from './ops/batch-norm-backward.js';
export {
  batchNormBackwardElemt,
  batchNormBackwardReduce,
  batchNormElemt,
  batchNormGatherStats,
  batchNormStats,
} from './ops/sync-batch-norm.js';
export type {
  BatchNormBackwardElemtOptions,
  BatchNormBackwardElemtResult,
  BatchNormBackwardReduceOptions,
  BatchNormBackwardReduceResult,
  BatchNormBackwardReduceWeightedResult,
  BatchNormBackwardSyncCommon,
  BatchNormElemtOptions,
  BatchNormElemtResult,
  BatchNormGatherStatsOptions,
  BatchNormGatherStatsResult,
  BatchNormStatsOptions,
  BatchNormStatsResult,
} from './ops/sync-batch-norm.js';
export { createLocalGroup, DEFAULT_SYNC_TIMEOUT_MS } from './modules/sync-group.js';
export type { LocalGroup, SyncGroup, SyncGroupOptions } from './modules/sync-group.js';
export { SyncBatchNorm } from './modules/sync-batch-norm-module.js';
export type {
  KerasSyncBatchNormOptions,
  SyncBatchNormBackwardOptions,
  SyncBatchNormForwardOptions,
  SyncBatchNormOptions,
} from './modules/sync-batch-norm-module.js';
export { BatchNorm } from './modules/batch-norm-module.js';
export type {
  BatchNormBaseOptions,
  BatchNormForwardOptions,
  BatchNormModuleBackwardOptions,
  BatchNormModuleGradients,
  BatchNormModuleOptions,
  BatchNormStateDict,
  BatchNormStateDictInput,
  KerasBatchNormBaseOptions,
  KerasBatchNormOptions,
  ModuleParameter,
  NonFiniteName,
  RunningVarEstimator,
  StateValues,
} from './modules/batch-norm-module.js';
