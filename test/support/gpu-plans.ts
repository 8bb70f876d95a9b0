// The plans a hardware GPU gets by default, as Gpu options: tests run them on the CPU adapters too, whose
// own defaults (few workgroups of 64 invocations) take the one-dispatch plans for most shapes.
import { GPU_REDUCTION_WORKGROUPS, GPU_WORKGROUP_SIZE } from '../../src/runtime/adapter.js';

export const GPU_PLANS = { reductionWorkgroups: GPU_REDUCTION_WORKGROUPS, workgroupSize: GPU_WORKGROUP_SIZE } as const;
