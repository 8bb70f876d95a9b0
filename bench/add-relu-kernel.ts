// The unfused sequence of the benchmark's residual comparison: batchNorm writes y into a buffer of this
// kernel's, then add-relu.wgsl reads y and the residual z and writes relu(y + z), as a framework without
// the fused op runs it. The fused side is batchNorm with `residual: z` and activation 'relu'; both are
// timed interleaved on the same device (bench/benchmark.ts).
import { Tensor, type EncoderOptions, type Gpu } from '../src/index.js';
import addReluSource from './add-relu.wgsl?raw';
import { VEC4_BYTES, vec4Windows, WORKGROUP_SIZE, type Vec4Window } from './copy-kernel.js';

interface AddReluWindow {
  readonly bindGroup: GPUBindGroup;
  readonly grid: Vec4Window['grid'];
}

/** relu(y + z) over a tensor's worth of f32 values (rounded up to whole vec4s), in buffers of its own. */
export class AddReluKernel {
  /** The residual z, for the fused call's `residual` and this kernel's second input. */
  readonly z: Tensor;
  /** Where the unfused sequence's batchNorm writes y (its `out.y`), which this kernel reads. */
  readonly y: Tensor;
  readonly #gpu: Gpu;
  readonly #buffers: GPUBuffer[];
  readonly #result: GPUBuffer;
  readonly #pipeline: GPUComputePipeline;
  readonly #windows: AddReluWindow[] = [];

  constructor(gpu: Gpu, shape: readonly number[], z: Float32Array) {
    const { device } = gpu;
    this.#gpu = gpu;
    const vec4s = Math.ceil(z.length / 4);
    const buffer = (label: string) =>
      device.createBuffer({ label, size: vec4s * VEC4_BYTES, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    const [zBuffer, yBuffer, result] = [buffer('bench residual z'), buffer('bench unfused y'), buffer('bench add+relu result')];
    this.#buffers = [zBuffer, yBuffer, result];
    this.#result = result;
    device.queue.writeBuffer(zBuffer, 0, z.buffer, z.byteOffset, z.byteLength);
    this.z = Tensor.fromBuffer(gpu, zBuffer, shape, { label: 'bench residual z' });
    this.y = Tensor.fromBuffer(gpu, yBuffer, shape, { label: 'bench unfused y' });
    this.#pipeline = device.createComputePipeline({
      label: 'bench add+relu',
      layout: 'auto',
      compute: { module: device.createShaderModule({ label: 'bench add+relu', code: addReluSource }), entryPoint: 'main', constants: { WORKGROUP_SIZE } },
    });
    for (const { range, grid } of vec4Windows(gpu, vec4s)) {
      this.#windows.push({
        bindGroup: device.createBindGroup({
          label: 'bench add+relu',
          layout: this.#pipeline.getBindGroupLayout(0),
          entries: [yBuffer, zBuffer, result].map((b, binding) => ({ binding, resource: { buffer: b, ...range } })),
        }),
        grid,
      });
    }
  }

  /** Records relu(y + z) into the recording's encoder, as one compute pass. */
  record({ encoder, timestampWrites }: EncoderOptions): void {
    if (!encoder) throw new Error('internal: the add+relu kernel records into a trial encoder');
    const pass = encoder.beginComputePass(timestampWrites ? { label: 'bench add+relu', timestampWrites } : { label: 'bench add+relu' });
    pass.setPipeline(this.#pipeline);
    for (const { bindGroup, grid } of this.#windows) {
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(grid.x, grid.y);
    }
    pass.end();
  }

  /** The last result, once the work that wrote it has been submitted. */
  async result(): Promise<Float32Array> {
    const { device } = this.#gpu;
    const elements = this.y.size;
    const readback = device.createBuffer({ label: 'bench add+relu readback', size: elements * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    try {
      const encoder = device.createCommandEncoder({ label: 'bench add+relu readback' });
      encoder.copyBufferToBuffer(this.#result, 0, readback, 0, elements * 4);
      device.queue.submit([encoder.finish()]);
      await this.#gpu.untilLost(readback.mapAsync(GPUMapMode.READ));
      return new Float32Array(readback.getMappedRange().slice(0));
    } finally {
      readback.destroy();
    }
  }

  destroy(): void {
    this.z.destroy();
    this.y.destroy();
    for (const buffer of this.#buffers) buffer.destroy();
  }
}
