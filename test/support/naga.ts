// WGSL validated in Node by naga (wgpu's WGSL front end and validator, as WebAssembly): no GPU needed.
import { NagaError, parseWgsl, validate } from 'naga-wasm';

/** Parses and validates `code`; throws naga's formatted diagnostic, prefixed with `what`. */
export function validateWgsl(code: string, what: string): void {
  try {
    const module = parseWgsl(code);
    try {
      validate(module).free();
    } finally {
      module.free();
    }
  } catch (error) {
    throw new Error(`${what}: ${error instanceof NagaError ? error.formatted : String(error)}`);
  }
}
