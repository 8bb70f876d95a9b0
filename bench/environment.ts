// What a result was measured on: the adapter (from the device's adapterInfo), whether it is a software
// rasterizer (SwiftShader, llvmpipe, WARP), the features and limits that matter for batch norm, and the runtime.
import { isFallbackAdapter, isSoftwareAdapter } from '../src/runtime/adapter.js';
import type { Gpu } from '../src/index.js';

export const EMULATION_NOTE = 'CPU emulation, not a GPU timing';

export interface AdapterDescription {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
  readonly isFallbackAdapter: boolean;
  /** A software adapter: its "GPU" times are CPU times. */
  readonly emulated: boolean;
  /** One line naming the adapter, with the emulation note where it applies. */
  readonly label: string;
}

export interface Environment {
  readonly adapter: AdapterDescription;
  readonly runtime: string;
  readonly features: Gpu['features'];
  readonly limits: Readonly<Record<string, number>>;
}

/** Limits that bound batch norm: tensor size per binding, buffers per pass, grid and workgroup size. */
export const RELEVANT_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupsPerDimension',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupStorageSize',
  'minSubgroupSize',
  'maxSubgroupSize',
] as const;

export function describeAdapter(info: GPUAdapterInfo): AdapterDescription {
  const emulated = isSoftwareAdapter(info);
  const name = [info.vendor, info.architecture, info.device || info.description].filter((s) => s).join(' ') || 'unknown adapter';
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    isFallbackAdapter: isFallbackAdapter(info),
    emulated,
    label: emulated ? `${name} (${EMULATION_NOTE})` : name,
  };
}

export function describeEnvironment(gpu: Gpu, runtime: string): Environment {
  const limits: Record<string, number> = {};
  const deviceLimits = gpu.device.limits as unknown as Record<string, number | undefined>;
  for (const name of RELEVANT_LIMITS) {
    const value = deviceLimits[name];
    if (typeof value === 'number') limits[name] = value;
  }
  return { adapter: describeAdapter(gpu.device.adapterInfo), runtime, features: gpu.features, limits };
}

/** A file-name-safe slug of the adapter, e.g. "google-swiftshader". */
export function adapterSlug(adapter: AdapterDescription): string {
  const slug = [adapter.vendor, adapter.architecture, adapter.device]
    .join('-')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return slug || 'unknown-adapter';
}
