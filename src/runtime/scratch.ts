// Per-device scratch buffers (partials, per-channel coefficients) reused across calls, so a steady-state
// call allocates no GPU memory. Sharing them between calls is safe because each call's passes write a
// scratch buffer before they read it, all within one compute pass, and the GPU runs passes in the order
// they were submitted (recorded calls included: a caller's encoder runs them in recording order).
import type { Gpu } from './gpu.js';
import { BufferUsage } from './webgpu-constants.js';

export class Scratch {
  readonly #gpu: Gpu;
  readonly #buffers = new Map<string, GPUBuffer>();

  constructor(gpu: Gpu) {
    this.#gpu = gpu;
  }

  /** A storage buffer of at least `bytes`, grown (to the next power of two) when a call needs more. */
  storage(name: string, bytes: number): GPUBuffer {
    const existing = this.#buffers.get(name);
    if (existing && existing.size >= bytes) return existing;
    // The smaller buffer may still be used by work recorded into a caller's encoder and not yet
    // submitted: release it to the garbage collector rather than destroy it.
    if (existing) this.#gpu.releaseBuffer(existing);
    const size = Math.max(16, 2 ** Math.ceil(Math.log2(bytes)));
    const buffer = this.#gpu.createBuffer({ label: `scratch ${name}`, size, usage: BufferUsage.STORAGE });
    this.#buffers.set(name, buffer);
    return buffer;
  }

  /** A tiny storage buffer bound where an optional tensor is absent (the kernel ignores it). */
  placeholder(name: string): GPUBuffer {
    return this.storage(`placeholder ${name}`, 16);
  }

  /** Frees every scratch buffer (the next call recreates what it needs). */
  release(): void {
    for (const buffer of this.#buffers.values()) this.#gpu.destroyBuffer(buffer);
    this.#buffers.clear();
  }
}

const scratchByGpu = new WeakMap<Gpu, Scratch>();

export function scratchFor(gpu: Gpu): Scratch {
  let scratch = scratchByGpu.get(gpu);
  if (!scratch) {
    const created = new Scratch(gpu);
    gpu.onDestroy(() => {
      created.release();
      scratchByGpu.delete(gpu);
    });
    scratchByGpu.set(gpu, (scratch = created));
  }
  return scratch;
}
