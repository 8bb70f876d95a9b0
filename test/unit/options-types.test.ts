// Compile-time: every options type lists exactly the keys its run-time check (readOptions) accepts, so a
// key the types offer is never refused at run time as unknown, and a key the check accepts is typed.
// `tsc --noEmit` (the first step of `npm test`) fails on a mismatch; the test bodies only carry the checks.
import { describe, expectTypeOf, it } from 'vitest';
import { INFERENCE_KEYS, OUT_KEYS as BACKWARD_OUT_KEYS, TRAINING_KEYS } from '../../src/ops/batch-norm-backward.js';
import {
  BACKWARD_OPTION_KEYS,
  FORWARD_OPTION_KEYS,
  FORWARD_OUT_KEYS,
  KERAS_OPTION_KEYS,
  MODULE_OPTION_KEYS,
} from '../../src/modules/batch-norm-module.js';
import { OPTION_KEYS, OUT_KEYS } from '../../src/ops/batch-norm.js';
import { GPU_OPTION_KEYS, REQUEST_OPTION_KEYS } from '../../src/runtime/gpu.js';
import type {
  BatchNormBackwardCommon,
  BatchNormBackwardInference,
  BatchNormBackwardTraining,
  BatchNormForwardOptions,
  BatchNormModuleBackwardOptions,
  BatchNormModuleOptions,
  BatchNormOptions,
  GpuOptions,
  BatchNormBackwardElemtOptions,
  BatchNormBackwardReduceOptions,
  BatchNormElemtOptions,
  BatchNormGatherStatsOptions,
  BatchNormStatsOptions,
  KerasBatchNormOptions,
  KerasSyncBatchNormOptions,
  RequestGpuOptions,
  SyncBatchNormBackwardOptions,
  SyncBatchNormForwardOptions,
  SyncBatchNormOptions,
  TensorOptions,
  WrapOptions,
} from '../../src/index.js';
import { TENSOR_OPTION_KEYS, WRAP_OPTION_KEYS } from '../../src/runtime/tensor.js';
import {
  BACKWARD_ELEMT_KEYS,
  BACKWARD_ELEMT_OUT_KEYS,
  BACKWARD_REDUCE_KEYS,
  BACKWARD_REDUCE_OUT_KEYS,
  ELEMT_KEYS,
  ELEMT_OUT_KEYS,
  GATHER_KEYS,
  GATHER_OUT_KEYS,
  STATS_KEYS,
  STATS_OUT_KEYS,
} from '../../src/ops/sync-batch-norm.js';
import {
  SYNC_BACKWARD_OPTION_KEYS,
  SYNC_BACKWARD_OUT_KEYS,
  SYNC_FORWARD_OPTION_KEYS,
  SYNC_FORWARD_OUT_KEYS,
  SYNC_KERAS_OPTION_KEYS,
  SYNC_MODULE_OPTION_KEYS,
} from '../../src/modules/sync-batch-norm-module.js';

import {
  BACKWARD_KEYS as RENORM_BACKWARD_KEYS,
  INITIAL_KEYS as RENORM_INITIAL_KEYS,
  STATE_KEYS as RENORM_STATE_KEYS,
  STEP_KEYS as RENORM_STEP_KEYS,
  type KerasRenormBackwardOptions,
  type KerasRenormInitialOptions,
  type KerasRenormOptions,
  type KerasRenormState,
  type KerasRenormWeights,
} from '../../src/reference/renorm.js';

type Keys<T> = keyof T & string;
type Listed<L extends readonly string[]> = L[number];
type OutKeys<T extends { out?: unknown }> = Keys<NonNullable<T['out']>>;

describe('options types list exactly the keys the run-time checks accept', () => {
  it('the renorm references (a step\'s weights are the next step\'s state)', () => {
    expectTypeOf<Keys<KerasRenormOptions>>().toEqualTypeOf<Listed<typeof RENORM_STEP_KEYS>>();
    expectTypeOf<Keys<KerasRenormState>>().toEqualTypeOf<Listed<typeof RENORM_STATE_KEYS>>();
    expectTypeOf<Keys<KerasRenormWeights>>().toEqualTypeOf<Listed<typeof RENORM_STATE_KEYS>>();
    expectTypeOf<KerasRenormWeights>().toExtend<KerasRenormState>();
    expectTypeOf<Keys<KerasRenormInitialOptions>>().toEqualTypeOf<Listed<typeof RENORM_INITIAL_KEYS>>();
    expectTypeOf<Keys<KerasRenormBackwardOptions>>().toEqualTypeOf<Listed<typeof RENORM_BACKWARD_KEYS>>();
  });
  it('batchNorm', () => {
    expectTypeOf<Keys<BatchNormOptions>>().toEqualTypeOf<Listed<typeof OPTION_KEYS>>();
    expectTypeOf<OutKeys<BatchNormOptions>>().toEqualTypeOf<Listed<typeof OUT_KEYS>>();
  });
  it('batchNormBackward', () => {
    expectTypeOf<Keys<BatchNormBackwardTraining & BatchNormBackwardCommon>>().toEqualTypeOf<Listed<typeof TRAINING_KEYS>>();
    expectTypeOf<Keys<BatchNormBackwardInference & BatchNormBackwardCommon>>().toEqualTypeOf<Listed<typeof INFERENCE_KEYS>>();
    expectTypeOf<OutKeys<BatchNormBackwardCommon>>().toEqualTypeOf<Listed<typeof BACKWARD_OUT_KEYS>>();
  });
  it('BatchNorm: constructor, keras, forward and backward', () => {
    expectTypeOf<Keys<BatchNormModuleOptions>>().toEqualTypeOf<Listed<typeof MODULE_OPTION_KEYS>>();
    expectTypeOf<Keys<KerasBatchNormOptions>>().toEqualTypeOf<Listed<typeof KERAS_OPTION_KEYS>>();
    expectTypeOf<Keys<BatchNormForwardOptions>>().toEqualTypeOf<Listed<typeof FORWARD_OPTION_KEYS>>();
    expectTypeOf<OutKeys<BatchNormForwardOptions>>().toEqualTypeOf<Listed<typeof FORWARD_OUT_KEYS>>();
    expectTypeOf<Keys<BatchNormModuleBackwardOptions>>().toEqualTypeOf<Listed<typeof BACKWARD_OPTION_KEYS>>();
    // The module's backward writes the functional backward's outputs.
    expectTypeOf<OutKeys<BatchNormModuleBackwardOptions>>().toEqualTypeOf<Listed<typeof BACKWARD_OUT_KEYS>>();
  });
  it('the SyncBatchNorm building blocks', () => {
    expectTypeOf<Keys<BatchNormStatsOptions>>().toEqualTypeOf<Listed<typeof STATS_KEYS>>();
    expectTypeOf<OutKeys<BatchNormStatsOptions>>().toEqualTypeOf<Listed<typeof STATS_OUT_KEYS>>();
    expectTypeOf<Keys<BatchNormGatherStatsOptions>>().toEqualTypeOf<Listed<typeof GATHER_KEYS>>();
    expectTypeOf<OutKeys<BatchNormGatherStatsOptions>>().toEqualTypeOf<Listed<typeof GATHER_OUT_KEYS>>();
    expectTypeOf<Keys<BatchNormElemtOptions>>().toEqualTypeOf<Listed<typeof ELEMT_KEYS>>();
    expectTypeOf<OutKeys<BatchNormElemtOptions>>().toEqualTypeOf<Listed<typeof ELEMT_OUT_KEYS>>();
    expectTypeOf<Keys<BatchNormBackwardReduceOptions>>().toEqualTypeOf<Listed<typeof BACKWARD_REDUCE_KEYS>>();
    expectTypeOf<OutKeys<BatchNormBackwardReduceOptions>>().toEqualTypeOf<Listed<typeof BACKWARD_REDUCE_OUT_KEYS>>();
    expectTypeOf<Keys<BatchNormBackwardElemtOptions>>().toEqualTypeOf<Listed<typeof BACKWARD_ELEMT_KEYS>>();
    expectTypeOf<OutKeys<BatchNormBackwardElemtOptions>>().toEqualTypeOf<Listed<typeof BACKWARD_ELEMT_OUT_KEYS>>();
  });
  it('SyncBatchNorm: constructor, keras, forward and backward', () => {
    expectTypeOf<Keys<SyncBatchNormOptions>>().toEqualTypeOf<Listed<typeof SYNC_MODULE_OPTION_KEYS>>();
    expectTypeOf<Keys<KerasSyncBatchNormOptions>>().toEqualTypeOf<Listed<typeof SYNC_KERAS_OPTION_KEYS>>();
    expectTypeOf<Keys<SyncBatchNormForwardOptions>>().toEqualTypeOf<Listed<typeof SYNC_FORWARD_OPTION_KEYS>>();
    expectTypeOf<OutKeys<SyncBatchNormForwardOptions>>().toEqualTypeOf<Listed<typeof SYNC_FORWARD_OUT_KEYS>>();
    expectTypeOf<Keys<SyncBatchNormBackwardOptions>>().toEqualTypeOf<Listed<typeof SYNC_BACKWARD_OPTION_KEYS>>();
    // The module's backward writes the functional backward's outputs, dz included (it takes a residual).
    expectTypeOf<OutKeys<SyncBatchNormBackwardOptions>>().toEqualTypeOf<Listed<typeof SYNC_BACKWARD_OUT_KEYS>>();
    expectTypeOf<Listed<typeof SYNC_BACKWARD_OUT_KEYS>>().toEqualTypeOf<Listed<typeof BACKWARD_OUT_KEYS>>();
  });
  it('requestGpu, Gpu.fromDevice, Tensor.fromArray/empty and Tensor.fromBuffer', () => {
    expectTypeOf<Keys<RequestGpuOptions>>().toEqualTypeOf<Listed<typeof REQUEST_OPTION_KEYS>>();
    expectTypeOf<Keys<GpuOptions>>().toEqualTypeOf<Listed<typeof GPU_OPTION_KEYS>>();
    expectTypeOf<Keys<TensorOptions>>().toEqualTypeOf<Listed<typeof TENSOR_OPTION_KEYS>>();
    expectTypeOf<Keys<WrapOptions>>().toEqualTypeOf<Listed<typeof WRAP_OPTION_KEYS>>();
  });
});
