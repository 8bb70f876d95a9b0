// The pipeline cache: composes each kernel's WGSL from its typed variant, declares its bind group
// layout once, and caches pipelines per device (a lost device takes its pipelines with it).
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

/** Every compiled kernel is one of these; the cache key and the WGSL both derive from it. */
export type KernelVariant =
  | { readonly kernel: 'stats'; readonly vec4: boolean; readonly subgroups: boolean }
  | { readonly kernel: 'finalize' }
  | { readonly kernel: 'apply'; readonly vec4: boolean }
  | { readonly kernel: 'backward-reduce'; readonly vec4: boolean; readonly subgroups: boolean }
  | { readonly kernel: 'backward-finalize' }
  | { readonly kernel: 'backward-apply'; readonly vec4: boolean };

const KERNEL_SOURCES: Record<KernelVariant['kernel'], string> = {
  stats: statsSource,
  finalize: finalizeSource,
  apply: applySource,
  'backward-reduce': backwardReduceSource,
  'backward-finalize': backwardFinalizeSource,
  'backward-apply': backwardApplySource,
};

/** Binding types in binding order; binding 0 is always the Params uniform. */
const KERNEL_BINDINGS: Record<KernelVariant['kernel'], readonly GPUBufferBindingType[]> = {
  stats: ['uniform', 'read-only-storage', 'storage'],
  finalize: ['uniform', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'storage', 'storage', 'storage', 'storage', 'storage'],
  apply: ['uniform', 'read-only-storage', 'read-only-storage', 'storage'],
  'backward-reduce': ['uniform', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'storage'],
  'backward-finalize': ['uniform', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'storage', 'storage', 'storage'],
  'backward-apply': ['uniform', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'storage'],
};

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
  parts.push(`override WORKGROUP_SIZE: u32 = ${WORKGROUP_SIZE}u;`, paramsSource);
  if ('vec4' in variant) parts.push(variant.vec4 ? elemVec4Source : elemScalarSource);
  // The reduction kernels (the ones with a subgroup choice) walk channel slices and sum over workgroups.
  if ('subgroups' in variant) parts.push(sliceWalkSource, variant.subgroups ? sumSubgroupSource : sumSharedSource);
  parts.push(KERNEL_SOURCES[variant.kernel]);
  return parts.join('\n');
}

export interface Kernel {
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
      entries: KERNEL_BINDINGS[variant.kernel].map((type, binding) => ({
        binding,
        visibility: 4, // GPUShaderStage.COMPUTE, spec-fixed
        buffer: { type },
      })),
    });
    const pipeline = device.createComputePipeline({
      label,
      layout: device.createPipelineLayout({ label, bindGroupLayouts: [layout] }),
      compute: { module: device.createShaderModule({ label, code: composeShader(variant) }), entryPoint: 'main' },
    });
    kernel = { pipeline, layout, label };
    kernels.set(key, kernel);
  }
  return kernel;
}

/** Binds `resources` (whole buffers or windows of them) in binding order to the kernel's layout. */
export function bindBuffers(gpu: Gpu, kernel: Kernel, resources: readonly (GPUBuffer | GPUBufferBinding)[]): GPUBindGroup {
  return gpu.device.createBindGroup({
    label: kernel.label,
    layout: kernel.layout,
    entries: resources.map((r, binding) => ({ binding, resource: 'buffer' in r ? r : { buffer: r } })),
  });
}
