// The harness's guard around GPU work it checks or times (the demo's run, the peer comparison, the tests):
// validation, out-of-memory and internal error scopes, so a GPU error fails the run with its message
// instead of passing as data.
import type { Gpu } from '../src/index.js';

const FILTERS: readonly GPUErrorFilter[] = ['validation', 'out-of-memory', 'internal'];

/** Runs `body` inside the three error scopes; a GPU error rejects with its messages (before the body's own error). */
export async function inErrorScopes<T>(gpu: Gpu, body: () => Promise<T>): Promise<T> {
  for (const filter of FILTERS) gpu.device.pushErrorScope(filter);
  let result: T;
  try {
    result = await body();
  } finally {
    const errors = await Promise.all(FILTERS.map(() => gpu.device.popErrorScope()));
    const messages = errors.filter((e): e is GPUError => e !== null).map((e) => e.message);
    if (messages.length > 0) throw new Error(`GPU error(s): ${messages.join(' | ')}`);
  }
  return result;
}
