// The `webgpu-batchnorm/reference` entry: float64 CPU references of the forward and backward passes (what
// the tests, the demo's check and the benchmark compare the GPU against), of the SyncBatchNorm building
// blocks, and of Keras's batch renormalization. Plain JavaScript, no WebGPU.
/**
 * Float64 CPU references of batch norm's forward and backward (with Keras's mask), of the SyncBatchNorm
 * building blocks (batchNormStatsReference and the others), and of Keras 3's batch renormalization
 * (kerasRenormReference and its backward, which BatchNorm's renorm is checked against): what the tests,
 * the demo's check and the benchmark compare the GPU against. Plain JavaScript, no WebGPU:
 * `import { batchNormReference } from 'webgpu-batchnorm/reference'`.
 *
 * @module webgpu-batchnorm/reference
 */
export { batchNormReference, channelMoments } from './reference/forward.js';
export type { ReferenceForwardOptions, ReferenceForwardResult, ReferenceValues } from './reference/forward.js';
export { batchNormBackwardReference } from './reference/backward.js';
export type { ReferenceBackwardCommon, ReferenceBackwardOptions, ReferenceBackwardResult } from './reference/backward.js';
export {
  batchNormBackwardElemtReference,
  batchNormBackwardReduceReference,
  batchNormElemtReference,
  batchNormGatherStatsReference,
  batchNormStatsReference,
} from './reference/sync.js';
export type {
  ReferenceBackwardElemtOptions,
  ReferenceBackwardElemtResult,
  ReferenceBackwardReduceResult,
  ReferenceBackwardSyncCommon,
  ReferenceElemtOptions,
  ReferenceElemtResult,
  ReferenceGatherStatsOptions,
  ReferenceGatherStatsResult,
  ReferenceStatsOptions,
  ReferenceStatsResult,
} from './reference/sync.js';
export { kerasRenormBackwardReference, kerasRenormInitialWeights, kerasRenormReference } from './reference/renorm.js';
export type {
  KerasRenormBackwardOptions,
  KerasRenormBackwardResult,
  KerasRenormInitialOptions,
  KerasRenormOptions,
  KerasRenormState,
  KerasRenormStepResult,
  KerasRenormWeights,
  RenormClipping,
} from './reference/renorm.js';
