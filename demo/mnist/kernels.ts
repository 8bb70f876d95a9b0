// The training demo's own kernels (the network around the library's batch norm): dense layer, sigmoid,
// softmax cross-entropy, SGD and a column gather. Each WGSL module's bindings are one record, by name, from
// which the module's binding declarations, each entry point's bind group layout and the bind groups all
// come. Pipelines are cached per device, so a lost device takes its pipelines with it.
import columnSource from './column.wgsl?raw';
import denseSource from './dense.wgsl?raw';
import sgdSource from './sgd.wgsl?raw';
import sigmoidSource from './sigmoid.wgsl?raw';
import softmaxCrossEntropySource from './softmax-cross-entropy.wgsl?raw';
import { BufferUsage, ShaderStage } from '../../src/runtime/webgpu-constants.js';

/** Invocations per workgroup of every kernel here (the WGSL's WORKGROUP_SIZE override). */
const WORKGROUP_SIZE = 64;

// Batches and parameters are copied in, readbacks copied out.
const STORAGE_USAGE = BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC;
const UNIFORM_USAGE = BufferUsage.UNIFORM | BufferUsage.COPY_DST;

interface BindingDeclaration {
  readonly space: 'uniform' | 'storage, read' | 'storage, read_write';
  readonly type: string;
}

/** The bind group layout's buffer type of each WGSL address space and access. */
const BUFFER_TYPE = {
  uniform: 'uniform',
  'storage, read': 'read-only-storage',
  'storage, read_write': 'storage',
} as const satisfies Record<BindingDeclaration['space'], GPUBufferBindingType>;

const uniform = (type: string): BindingDeclaration => ({ space: 'uniform', type });
const input: BindingDeclaration = { space: 'storage, read', type: 'array<f32>' };
const output: BindingDeclaration = { space: 'storage, read_write', type: 'array<f32>' };

/** Each WGSL module and its bindings, in binding order. */
export const MODULES = {
  dense: {
    source: denseSource,
    bindings: { dims: uniform('Dims'), x: input, weight: input, bias: input, y: output, dy: input, dx: output, dweight: output, dbias: output },
  },
  sigmoid: {
    source: sigmoidSource,
    bindings: { preActivation: input, activation: output, savedActivation: input, dActivation: input, dPreActivation: output },
  },
  softmaxCrossEntropy: {
    source: softmaxCrossEntropySource,
    bindings: {
      dims: uniform('Dims'),
      logits: input,
      labels: { space: 'storage, read', type: 'array<u32>' },
      rowLoss: output,
      dlogits: output,
    },
  },
  sgd: { source: sgdSource, bindings: { hyperparameters: uniform('Hyperparameters'), gradient: input, parameter: output } },
  column: { source: columnSource, bindings: { dims: uniform('Dims'), matrixValues: input, columnValues: output } },
} as const satisfies Record<string, { source: string; bindings: Record<string, BindingDeclaration> }>;

type ModuleName = keyof typeof MODULES;
type BindingOf<M extends ModuleName> = keyof (typeof MODULES)[M]['bindings'] & string;

interface KernelRecord<M extends ModuleName = ModuleName> {
  readonly module: M;
  readonly entryPoint: string;
  /** The bindings this entry point uses: its bind group layout and bind groups hold exactly these. */
  readonly bindings: readonly BindingOf<M>[];
}

const kernel = <M extends ModuleName, const B extends readonly BindingOf<M>[]>(module: M, entryPoint: string, bindings: B) =>
  ({ module, entryPoint, bindings }) satisfies KernelRecord<M>;

export const KERNELS = {
  denseForward: kernel('dense', 'forward', ['dims', 'x', 'weight', 'bias', 'y']),
  denseBackwardInput: kernel('dense', 'backwardInput', ['dims', 'dy', 'weight', 'dx']),
  denseBackwardWeight: kernel('dense', 'backwardWeight', ['dims', 'dy', 'x', 'dweight', 'dbias']),
  sigmoidForward: kernel('sigmoid', 'forward', ['preActivation', 'activation']),
  sigmoidBackward: kernel('sigmoid', 'backward', ['savedActivation', 'dActivation', 'dPreActivation']),
  softmaxCrossEntropy: kernel('softmaxCrossEntropy', 'main', ['dims', 'logits', 'labels', 'rowLoss', 'dlogits']),
  sgd: kernel('sgd', 'main', ['hyperparameters', 'gradient', 'parameter']),
  column: kernel('column', 'main', ['dims', 'matrixValues', 'columnValues']),
} as const;

export type KernelName = keyof typeof KERNELS;
/** A kernel's buffers by binding name: a whole buffer, or a region of one. */
export type Resources<K extends KernelName> = Record<(typeof KERNELS)[K]['bindings'][number], GPUBuffer | GPUBufferBinding>;

/** The module's WGSL with its binding declarations, generated from its record. */
export function moduleCode(name: ModuleName): string {
  const { source, bindings } = MODULES[name];
  const declarations = Object.entries(bindings).map(
    ([binding, { space, type }], index) => `@group(0) @binding(${index}) var<${space}> ${binding}: ${type};`,
  );
  return `${declarations.join('\n')}\n${source}`;
}

function bindingIndex(module: ModuleName, binding: string): number {
  return Object.keys(MODULES[module].bindings).indexOf(binding);
}

interface Pipeline {
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
}

const pipelines = new WeakMap<GPUDevice, Map<KernelName, Pipeline>>();
const shaderModules = new WeakMap<GPUDevice, Map<ModuleName, GPUShaderModule>>();

function pipelineOf(device: GPUDevice, name: KernelName): Pipeline {
  let perDevice = pipelines.get(device);
  if (!perDevice) pipelines.set(device, (perDevice = new Map()));
  const cached = perDevice.get(name);
  if (cached) return cached;
  const { module, entryPoint, bindings } = KERNELS[name];
  let modules = shaderModules.get(device);
  if (!modules) shaderModules.set(device, (modules = new Map()));
  let shader = modules.get(module);
  if (!shader) modules.set(module, (shader = device.createShaderModule({ label: `mnist ${module}`, code: moduleCode(module) })));
  const declarations: Record<string, BindingDeclaration> = MODULES[module].bindings;
  const layout = device.createBindGroupLayout({
    label: `mnist ${name}`,
    entries: bindings.map((binding) => ({
      binding: bindingIndex(module, binding),
      visibility: ShaderStage.COMPUTE,
      buffer: { type: BUFFER_TYPE[declarations[binding]!.space] },
    })),
  });
  const pipeline = device.createComputePipeline({
    label: `mnist ${name}`,
    layout: device.createPipelineLayout({ label: `mnist ${name}`, bindGroupLayouts: [layout] }),
    compute: { module: shader, entryPoint, constants: { WORKGROUP_SIZE } },
  });
  const created = { pipeline, layout };
  perDevice.set(name, created);
  return created;
}

/** A kernel launch ready to record, as often as needed: pipeline, bind group and grid. */
export interface Dispatch {
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  readonly workgroups: number;
}

/** The launch of `kernel` over `invocations` invocations (one per output element, or per row) with these buffers. */
export function prepareDispatch<K extends KernelName>(device: GPUDevice, name: K, resources: Resources<K>, invocations: number): Dispatch {
  const { pipeline, layout } = pipelineOf(device, name);
  const { module, bindings } = KERNELS[name];
  const workgroups = Math.ceil(invocations / WORKGROUP_SIZE);
  if (!(workgroups >= 1 && workgroups <= device.limits.maxComputeWorkgroupsPerDimension)) {
    throw new RangeError(`mnist ${name}: ${invocations} invocations need ${workgroups} workgroups; this device allows 1 to ${device.limits.maxComputeWorkgroupsPerDimension}`);
  }
  const byName = resources as Record<string, GPUBuffer | GPUBufferBinding>;
  const bindGroup = device.createBindGroup({
    label: `mnist ${name}`,
    layout,
    entries: bindings.map((binding) => {
      const resource = byName[binding]!;
      return { binding: bindingIndex(module, binding), resource: 'buffer' in resource ? resource : { buffer: resource } };
    }),
  });
  return { pipeline, bindGroup, workgroups };
}

/**
 * Records dispatches into compute passes of one encoder. The library's batch norm records a compute pass
 * of its own into the same encoder, so the open pass is ended before it gets the encoder.
 */
export class PassRecorder {
  readonly #encoder: GPUCommandEncoder;
  readonly #label: string;
  #pass: GPUComputePassEncoder | null = null;

  constructor(encoder: GPUCommandEncoder, label: string) {
    this.#encoder = encoder;
    this.#label = label;
  }

  dispatch({ pipeline, bindGroup, workgroups }: Dispatch): void {
    this.#pass ??= this.#encoder.beginComputePass({ label: this.#label });
    this.#pass.setPipeline(pipeline);
    this.#pass.setBindGroup(0, bindGroup);
    this.#pass.dispatchWorkgroups(workgroups);
  }

  /** The encoder with no pass open, for a call that records its own pass (the library's `encoder` option). */
  get encoder(): GPUCommandEncoder {
    this.end();
    return this.#encoder;
  }

  end(): void {
    this.#pass?.end();
    this.#pass = null;
  }
}

/** A storage buffer of `contents` bytes, or holding `contents`. */
export function storageBuffer(device: GPUDevice, label: string, contents: number | Float32Array | Uint32Array): GPUBuffer {
  const size = typeof contents === 'number' ? contents : contents.byteLength;
  const buffer = device.createBuffer({ label, size, usage: STORAGE_USAGE, mappedAtCreation: typeof contents !== 'number' });
  if (typeof contents !== 'number') {
    new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(contents.buffer, contents.byteOffset, contents.byteLength));
    buffer.unmap();
  }
  return buffer;
}

/** A uniform buffer holding `data` (a Dims or Hyperparameters record), padded to 16 bytes. */
export function uniformBuffer(device: GPUDevice, label: string, data: Uint32Array | Float32Array): GPUBuffer {
  const buffer = device.createBuffer({ label, size: Math.ceil(data.byteLength / 16) * 16, usage: UNIFORM_USAGE, mappedAtCreation: true });
  new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  buffer.unmap();
  return buffer;
}
