// Per-device scratch buffers reused across calls, so a steady-state call allocates no GPU memory.
// Sharing them between calls is safe because every call writes and submits its work before it returns,
// and the queue runs submissions (and writeBuffer) in order.
import { BufferUsage, type Gpu } from './gpu.js';

export class Scratch {
  readonly #gpu: Gpu;
  readonly #buffers = new Map<string, GPUBuffer>();

  constructor(gpu: Gpu) {
    this.#gpu = gpu;
  }

  /** A storage buffer of at least `bytes`, grown (to the next power of two) when a call needs more. */
  storage(name: string, bytes: number): GPUBuffer {
    return this.#get(name, bytes, BufferUsage.STORAGE | BufferUsage.COPY_SRC);
  }

  /** A uniform buffer of at least `bytes`. */
  uniform(name: string, bytes: number): GPUBuffer {
    return this.#get(name, bytes, BufferUsage.UNIFORM | BufferUsage.COPY_DST);
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

  #get(name: string, bytes: number, usage: number): GPUBuffer {
    const existing = this.#buffers.get(name);
    if (existing && existing.size >= bytes) return existing;
    // Destroying a buffer that submitted work still uses is safe: WebGPU frees it after that work.
    if (existing) this.#gpu.destroyBuffer(existing);
    const size = Math.max(16, 2 ** Math.ceil(Math.log2(bytes)));
    const buffer = this.#gpu.createBuffer({ label: `scratch ${name}`, size, usage });
    this.#buffers.set(name, buffer);
    return buffer;
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
