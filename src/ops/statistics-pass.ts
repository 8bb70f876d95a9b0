// The statistics pass every training operation starts with (batchNorm's multi-pass plan, batchNormStats,
// the renorm forward): per-channel partials of x, by rows or slices as the plan says, over every
// position or over those a mask keeps.
import type { PassPlan } from '../engine/dispatch.js';
import type { Storage } from '../engine/element-storage.js';
import { pass, params, whole, windowOf, type PassSpec, type Resource } from '../engine/runner.js';
import type { Gpu } from '../runtime/gpu.js';

/** The pass writing `partials` from the role 'x' (and 'mask', when `masked`). */
export function statisticsPass(gpu: Gpu, plan: PassPlan, storage: Storage, partials: Resource, masked: boolean): PassSpec {
  const reduce = { params, x: windowOf('x'), partials };
  const { subgroups } = gpu.features;
  if (masked) {
    const mask = whole('mask');
    return plan.rows
      ? pass({ kernel: 'stats-rows-masked', storage }, 'reduce', { ...reduce, mask })
      : pass({ kernel: 'stats-masked', storage, subgroups }, 'reduce', { ...reduce, mask });
  }
  return plan.rows
    ? pass({ kernel: 'stats-rows', storage }, 'reduce', reduce)
    : pass({ kernel: 'stats', storage, vec4: plan.vec4, subgroups }, 'reduce', reduce);
}
