// The roofline of the benchmark: copy.wgsl copying a tensor's worth of f32 values, timed like the library's
// calls on the same device (bench/gpu-timing.ts), so that every bandwidth figure can be given as a
// fraction of what a plain copy of that size moves there. Its output is checked once, bit for bit.
import type { EncoderOptions, Gpu } from '../src/index.js';
import copySource from './copy.wgsl?raw';
import { inErrorScopes } from './error-scopes.js';

/** Invocations per workgroup of the benchmark's own kernels (copy, add+ReLU), one vec4 each. */
export const WORKGROUP_SIZE = 256;
export const VEC4_BYTES = 16;

/** A window of a vec4 kernel: the byte range each buffer binds, and the grid over it. */
export interface Vec4Window {
  readonly range: { readonly offset: number; readonly size: number };
  readonly grid: { readonly x: number; readonly y: number };
}

/** Windows of whole vec4s that fit one binding (gpu.maxBindingBytes), at offsets the device allows. */
export function vec4Windows(gpu: Gpu, vec4s: number): Vec4Window[] {
  const { limits } = gpu.device;
  const alignment = limits.minStorageBufferOffsetAlignment / VEC4_BYTES;
  const windowVec4s = Math.floor(gpu.maxBindingBytes / VEC4_BYTES / alignment) * alignment;
  const windows: Vec4Window[] = [];
  for (let first = 0; first < vec4s; first += windowVec4s) {
    const count = Math.min(windowVec4s, vec4s - first);
    const groups = Math.ceil(count / WORKGROUP_SIZE);
    const x = Math.min(groups, limits.maxComputeWorkgroupsPerDimension);
    windows.push({ range: { offset: first * VEC4_BYTES, size: count * VEC4_BYTES }, grid: { x, y: Math.ceil(groups / x) } });
  }
  return windows;
}

interface CopyWindow {
  readonly bindGroup: GPUBindGroup;
  readonly grid: Vec4Window['grid'];
}

/** Copies `values.length` f32 values (rounded up to whole vec4s) from one buffer to another. */
export class CopyKernel {
  readonly elements: number;
  readonly #gpu: Gpu;
  readonly #values: Float32Array;
  readonly #source: GPUBuffer;
  readonly #target: GPUBuffer;
  readonly #pipeline: GPUComputePipeline;
  readonly #windows: CopyWindow[] = [];

  /** A copy kernel for `values`, made and checked inside error scopes; it throws rather than time a broken copy. */
  static async checked(gpu: Gpu, values: Float32Array): Promise<CopyKernel> {
    let kernel: CopyKernel | null = null;
    try {
      return await inErrorScopes(gpu, async () => {
        kernel = new CopyKernel(gpu, values);
        await kernel.check();
        return kernel;
      });
    } catch (error) {
      (kernel as CopyKernel | null)?.destroy();
      throw error;
    }
  }

  private constructor(gpu: Gpu, values: Float32Array) {
    const { device } = gpu;
    this.#gpu = gpu;
    this.#values = values;
    this.elements = values.length;
    const vec4s = Math.ceil(values.length / 4);
    const bytes = vec4s * VEC4_BYTES;
    this.#source = device.createBuffer({ label: 'bench copy source', size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    this.#target = device.createBuffer({ label: 'bench copy target', size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(this.#source, 0, values.buffer, values.byteOffset, values.byteLength);
    this.#pipeline = device.createComputePipeline({
      label: 'bench copy',
      layout: 'auto',
      compute: { module: device.createShaderModule({ label: 'bench copy', code: copySource }), entryPoint: 'main', constants: { WORKGROUP_SIZE } },
    });
    for (const { range, grid } of vec4Windows(gpu, vec4s)) {
      this.#windows.push({
        bindGroup: device.createBindGroup({
          label: 'bench copy',
          layout: this.#pipeline.getBindGroupLayout(0),
          entries: [
            { binding: 0, resource: { buffer: this.#source, ...range } },
            { binding: 1, resource: { buffer: this.#target, ...range } },
          ],
        }),
        grid,
      });
    }
  }

  /** Records one copy into the recording's encoder, as one compute pass. */
  record({ encoder, timestampWrites }: EncoderOptions): void {
    if (!encoder) throw new Error('internal: the copy kernel records into a trial encoder');
    const pass = encoder.beginComputePass(timestampWrites ? { label: 'bench copy', timestampWrites } : { label: 'bench copy' });
    pass.setPipeline(this.#pipeline);
    for (const { bindGroup, grid } of this.#windows) {
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(grid.x, grid.y);
    }
    pass.end();
  }

  /** Copies once and throws unless every value arrived bit for bit (a wrong copy would make every fraction wrong). */
  async check(): Promise<void> {
    const { device } = this.#gpu;
    const bytes = this.#values.byteLength;
    const readback = device.createBuffer({ label: 'bench copy readback', size: Math.ceil(bytes / 4) * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    try {
      const encoder = device.createCommandEncoder({ label: 'bench copy check' });
      device.queue.writeBuffer(this.#target, 0, new Uint8Array(this.#target.size)); // no earlier copy can pass for this one
      this.record({ encoder });
      encoder.copyBufferToBuffer(this.#target, 0, readback, 0, readback.size);
      device.queue.submit([encoder.finish()]);
      await this.#gpu.untilLost(readback.mapAsync(GPUMapMode.READ));
      const copied = new Uint32Array(readback.getMappedRange().slice(0), 0, this.elements);
      const expected = new Uint32Array(this.#values.buffer, this.#values.byteOffset, this.elements);
      const wrong = copied.findIndex((bits, i) => bits !== expected[i]);
      readback.unmap();
      if (wrong >= 0) throw new Error(`the copy kernel's output differs from its input at value ${wrong} of ${this.elements}`);
    } finally {
      readback.destroy();
    }
  }

  destroy(): void {
    this.#source.destroy();
    this.#target.destroy();
  }
}
