// Shared GPU set-up for the browser tests: one device per reduction path, and error scopes around each test.
import { GPU_PLANS } from '../support/gpu-plans.js';
import { requestGpu, type Gpu } from '../../src/index.js';

/** Runs a test's body inside validation, out-of-memory and internal error scopes: any GPU error fails it. */
export { inErrorScopes } from '../../bench/error-scopes.js';

const devices = new Map<string, Promise<Gpu>>();

/**
 * A device with subgroups on (the adapter must offer them: SwiftShader and current GPUs do) or forced off
 * (the workgroup-memory fallback), optionally with a small maxBindingBytes that forces chunking. Its
 * reductions are planned as on a GPU (GPU_PLANS), so the
 * sweeps cover the multi-pass plans and the kernels that GPUs run, unless `plans` is 'adapter' (this
 * adapter's own defaults: SwiftShader's are few workgroups of 64, and most shapes take the one-dispatch plans). Devices are shared by the tests of a file. A missing
 * adapter throws, failing the run.
 */
export function testGpu(subgroups: boolean, maxBindingBytes?: number, plans: 'gpu' | 'adapter' = 'gpu'): Promise<Gpu> {
  const key = `${subgroups}/${maxBindingBytes}/${plans}`;
  let gpu = devices.get(key);
  if (!gpu) {
    gpu = requestGpu({
      disableFeatures: subgroups ? [] : ['subgroups'],
      ...(maxBindingBytes === undefined ? {} : { maxBindingBytes }),
      ...(plans === 'gpu' ? GPU_PLANS : {}),
    }).then((g) => {
      if (subgroups && !g.features.subgroups) throw new Error("this adapter has no 'subgroups'; the subgroup path cannot be tested");
      return g;
    });
    devices.set(key, gpu);
  }
  return gpu;
}
