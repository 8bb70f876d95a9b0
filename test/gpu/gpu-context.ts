// Shared GPU set-up for the browser tests: one device per reduction path, and error scopes around each test.
import { requestGpu, type Gpu } from '../../src/index.js';

let withSubgroups: Promise<Gpu> | undefined;
let withoutSubgroups: Promise<Gpu> | undefined;

/**
 * A device with subgroups on (the adapter must offer them: SwiftShader and current GPUs do) or forced off
 * (the workgroup-memory fallback). A missing adapter throws, failing the run.
 */
export function testGpu(subgroups: boolean): Promise<Gpu> {
  if (subgroups) {
    withSubgroups ??= requestGpu().then((gpu) => {
      if (!gpu.features.subgroups) throw new Error("this adapter has no 'subgroups'; the subgroup path cannot be tested");
      return gpu;
    });
    return withSubgroups;
  }
  withoutSubgroups ??= requestGpu({ disableFeatures: ['subgroups'] });
  return withoutSubgroups;
}

/** Runs `body` inside validation, out-of-memory and internal error scopes; any GPU error fails the test. */
export async function inErrorScopes<T>(gpu: Gpu, body: () => Promise<T>): Promise<T> {
  const filters: GPUErrorFilter[] = ['validation', 'out-of-memory', 'internal'];
  for (const filter of filters) gpu.device.pushErrorScope(filter);
  let result: T;
  try {
    result = await body();
  } finally {
    const errors = await Promise.all(filters.map(() => gpu.device.popErrorScope()));
    const messages = errors.filter((e): e is GPUError => e !== null).map((e) => e.message);
    if (messages.length > 0) throw new Error(`GPU error(s): ${messages.join(' | ')}`);
  }
  return result;
}
