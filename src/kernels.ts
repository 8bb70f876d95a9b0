// The kernels: each one's WGSL source and its bindings, by name, in one record. The WGSL binding
// declarations, the bind group layout and the bind groups all come from that record, so nothing keeps
// positional lists in step by hand. Pipelines are composed from a typed variant and cached per device
// (a lost device takes its pipelines with it).
import applySource from '../shaders/apply.wgsl?raw';
import backwardApplySource from '../shaders/backward-apply.wgsl?raw';
import backwardFinalizeSource from '../shaders/backward-finalize.wgsl?raw';
import backwardReduceSource from '../shaders/backward-reduce.wgsl?raw';
import elemScalarSource from '../shaders/elem-scalar.wgsl?raw';
import elemVec4Source from '../shaders/elem-vec4.wgsl?raw';
import finalizeSource from '../shaders/finalize.wgsl?raw';
import paramsSource from '../shaders/params.wgsl?raw';
import sliceWalkSource from '../shaders/slice-walk.wgsl?raw';
import statsSource from '../shaders/stats.wgsl?raw';
import sumSharedSource from '../shaders/workgroup-sum-shared.wgsl?raw';
import sumSubgroupSource from '../shaders/workgroup-sum-subgroup.wgsl?raw';
import { WORKGROUP_SIZE } from './dispatch.js';
import type { Gpu } from './gpu.js';
import { ShaderStage } from './webgpu-constants.js';

/** How a kernel sees one binding: its address space and access, and its WGSL type. */
interface BindingDeclaration {
  readonly access: 'uniform' | 'read' | 'read_write';
  readonly type: string;
}

const uniform = (type: string): BindingDeclaration => ({ access: 'uniform', type });
const read = (type: string): BindingDeclaration => ({ access: 'read', type });
const readWrite = (type: string): BindingDeclaration => ({ access: 'read_write', type });

/**
 * Every kernel's source and bindings; binding n is the n-th entry. `Elem` is f32 or vec4<f32> (the
 * variant's), `Partial` and the coefficient layouts are declared by the kernels that use them.
 */
const KERNELS = {
  stats: {
    source: statsSource,
    bindings: { params: uniform('Params'), x: read('array<Elem>'), partials: readWrite('array<Partial>') },
  },
  finalize: {
    source: finalizeSource,
    bindings: {
      params: uniform('Params'),
      partials: read('array<Partial>'),
      weight: read('array<f32>'),
      bias: read('array<f32>'),
      runningMean: readWrite('array<f32>'),
      runningVar: readWrite('array<f32>'),
      saveMean: readWrite('array<f32>'),
      saveInvstd: readWrite('array<f32>'),
      scaleShift: readWrite('array<vec2<f32>>'),
    },
  },
  apply: {
    source: applySource,
    bindings: { params: uniform('Params'), x: read('array<Elem>'), scaleShift: read('array<vec2<f32>>'), y: readWrite('array<Elem>') },
  },
  'backward-reduce': {
    source: backwardReduceSource,
    bindings: {
      params: uniform('Params'),
      x: read('array<Elem>'),
      dy: read('array<Elem>'),
      mean: read('array<f32>'),
      partials: readWrite('array<Partial>'),
    },
  },
  'backward-finalize': {
    source: backwardFinalizeSource,
    bindings: {
      params: uniform('Params'),
      partials: read('array<Partial>'),
      weight: read('array<f32>'),
      mean: read('array<f32>'),
      spread: read('array<f32>'),
      dweight: readWrite('array<f32>'),
      dbias: readWrite('array<f32>'),
      coefficients: readWrite('array<vec4<f32>>'),
    },
  },
  'backward-apply': {
    source: backwardApplySource,
    bindings: {
      params: uniform('Params'),
      x: read('array<Elem>'),
      dy: read('array<Elem>'),
      coefficients: read('array<vec4<f32>>'),
      dx: readWrite('array<Elem>'),
    },
  },
} as const satisfies Record<string, { source: string; bindings: Record<string, BindingDeclaration> }>;

export type KernelName = keyof typeof KERNELS;
export type BindingName<K extends KernelName> = keyof (typeof KERNELS)[K]['bindings'] & string;

/** Every compiled kernel is one of these; the cache key and the WGSL both derive from it. */
export type KernelVariant =
  | { readonly kernel: 'stats'; readonly vec4: boolean; readonly subgroups: boolean }
  | { readonly kernel: 'finalize' }
  | { readonly kernel: 'apply'; readonly vec4: boolean }
  | { readonly kernel: 'backward-reduce'; readonly vec4: boolean; readonly subgroups: boolean }
  | { readonly kernel: 'backward-finalize' }
  | { readonly kernel: 'backward-apply'; readonly vec4: boolean };

/** The declarations of a kernel's bindings, in binding order. */
export function bindingsOf(kernel: KernelName): readonly (readonly [string, BindingDeclaration])[] {
  return Object.entries(KERNELS[kernel].bindings);
}

/** Whether the kernel writes the binding (storage, read_write). */
export function isWritable(kernel: KernelName, binding: string): boolean {
  return (KERNELS[kernel].bindings as Record<string, BindingDeclaration>)[binding]?.access === 'read_write';
}

export function variantKey(variant: KernelVariant): string {
  return Object.entries(variant)
    .sort(([a], [b]) => (a < b ? -1 : 1)) // the same variant gives the same key whatever its field order
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(',');
}

/** The substitution step: the variant picks the Elem type and the reduction, nothing else changes. */
export function composeShader(variant: KernelVariant): string {
  const parts: string[] = [];
  if ('subgroups' in variant && variant.subgroups) parts.push('enable subgroups;');
  parts.push('override WORKGROUP_SIZE: u32;', paramsSource);
  if ('vec4' in variant) parts.push(variant.vec4 ? elemVec4Source : elemScalarSource);
  // The reduction kernels (the ones with a subgroup choice) walk channel slices and sum over workgroups.
  if ('subgroups' in variant) parts.push(sliceWalkSource, variant.subgroups ? sumSubgroupSource : sumSharedSource);
  parts.push(
    bindingsOf(variant.kernel)
      .map(([name, { access, type }], binding) => {
        const space = access === 'uniform' ? 'uniform' : `storage, ${access}`;
        return `@group(0) @binding(${binding}) var<${space}> ${name}: ${type};`;
      })
      .join('\n'),
    KERNELS[variant.kernel].source,
  );
  return parts.join('\n');
}

export interface Kernel {
  readonly variant: KernelVariant;
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
  readonly label: string;
}

const cache = new WeakMap<GPUDevice, Map<string, Kernel>>();

export function getKernel(gpu: Gpu, variant: KernelVariant): Kernel {
  const { device } = gpu;
  let kernels = cache.get(device);
  if (!kernels) cache.set(device, (kernels = new Map()));
  const key = variantKey(variant);
  let kernel = kernels.get(key);
  if (!kernel) {
    if ('subgroups' in variant && variant.subgroups && !gpu.features.subgroups) {
      throw new Error("the subgroup kernels need the WebGPU feature 'subgroups', which this device does not have");
    }
    const label = `batchnorm ${key}`;
    const layout = device.createBindGroupLayout({
      label,
      entries: bindingsOf(variant.kernel).map(([, { access }], binding) => ({
        binding,
        visibility: ShaderStage.COMPUTE,
        buffer: { type: access === 'uniform' ? 'uniform' : access === 'read' ? 'read-only-storage' : 'storage' },
      })),
    });
    const pipeline = device.createComputePipeline({
      label,
      layout: device.createPipelineLayout({ label, bindGroupLayouts: [layout] }),
      compute: {
        module: device.createShaderModule({ label, code: composeShader(variant) }),
        entryPoint: 'main',
        constants: { WORKGROUP_SIZE },
      },
    });
    kernel = { variant, pipeline, layout, label };
    kernels.set(key, kernel);
  }
  return kernel;
}

/** A bind group for `kernel` from its resources by binding name. */
export function bindGroup(gpu: Gpu, kernel: Kernel, resources: Readonly<Record<string, GPUBufferBinding>>): GPUBindGroup {
  return gpu.device.createBindGroup({
    label: kernel.label,
    layout: kernel.layout,
    entries: bindingsOf(kernel.variant.kernel).map(([name], binding) => {
      const resource = resources[name];
      if (!resource) throw new Error(`internal: no resource for binding '${name}' of ${kernel.label}`);
      return { binding, resource };
    }),
  });
}
