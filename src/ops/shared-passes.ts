// Passes that several operations share: the statistics pass every training operation starts with
// (batchNorm's multi-pass plan, batchNormStats, the renorm forward), per-channel partials of x by rows or
// slices as the plan says, over every position or over those a mask keeps; and the pass writing dx from
// per-channel coefficients (batchNormBackward's multi-pass plan, batchNormBackwardElemt).
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

/**
 * The pass writing the role 'dx' from 'dy', 'x' and `coefficients` (and 'dz', reading 'y', where the residual's
 * kernel runs), giving the positions a mask left out only the direct term when `masked`.
 */
export function inputGradientPass(masked: boolean, residualKernel: boolean, storage: Storage, vec4: boolean, coefficients: Resource): PassSpec {
  const apply = { params, x: windowOf('x'), dy: windowOf('dy'), coefficients, dx: windowOf('dx') };
  const withResidual = { ...apply, y: windowOf('y'), dz: windowOf('dz') };
  if (masked) {
    return residualKernel
      ? pass({ kernel: 'backward-apply-masked-residual', storage }, 'apply', { ...withResidual, mask: whole('mask') })
      : pass({ kernel: 'backward-apply-masked', storage }, 'apply', { ...apply, mask: whole('mask') });
  }
  return residualKernel
    ? pass({ kernel: 'backward-apply-residual', storage, vec4 }, 'apply', withResidual)
    : pass({ kernel: 'backward-apply', storage, vec4 }, 'apply', apply);
}
