// Variants: named Gpu options the benchmark compares on one device, interleaved trial by trial at each
// shape (bench/statistics.ts), so that the GPU's clock treats them alike. Each variant is a Gpu
// wrapper (Gpu.fromDevice) over the run's device with its options; the run's own Gpu keeps the library's
// defaults and serves the peers and the composition measurement. The first variant is the baseline of
// the CPU speed-ups and of every ratio between variants.
import { DEFAULT_NUMERICS, type Numerics } from '../src/runtime/gpu.js';
import { Gpu, type GpuOptions } from '../src/index.js';

/** Gpu options a variant may set: everything but the entry point, which the run's Gpu holds. */
export type VariantOptions = Readonly<Omit<GpuOptions, 'gpu'>>;

export interface GpuVariant {
  readonly label: string;
  readonly options: VariantOptions;
}

/** A run without variants: the library as the run's Gpu has it. */
export const DEFAULT_VARIANTS: readonly GpuVariant[] = [{ label: 'default', options: {} }];

/**
 * The numerical choices `--compare-numerics` runs (src/runtime/gpu.ts Numerics), the library's default
 * first (the baseline): the former per-vec4 statistics merge, Kahan's update instead of TwoSum for every value,
 * no fences, and Kahan's update without fences. One GPU run of them says which to keep.
 */
export const NUMERICS_VARIANTS: readonly Numerics[] = [
  DEFAULT_NUMERICS,
  { ...DEFAULT_NUMERICS, statisticsMerge: 'vec4' },
  { ...DEFAULT_NUMERICS, compensation: 'kahan' },
  { ...DEFAULT_NUMERICS, fences: false },
  { ...DEFAULT_NUMERICS, compensation: 'kahan', fences: false },
];

/** A short label: the choices that differ from the default ('default' for none). */
function numericsLabel(numerics: Numerics): string {
  const changed = (Object.keys(DEFAULT_NUMERICS) as (keyof Numerics)[]).filter((k) => numerics[k] !== DEFAULT_NUMERICS[k]);
  return changed.length === 0 ? 'default' : changed.map((k) => `${k} ${String(numerics[k])}`).join(', ');
}

/**
 * `--compare-numerics`: NUMERICS_VARIANTS as Gpu variants (the internal GpuOptions statisticsMerge,
 * compensation, fences), then the default numerics with the plans of before every statistics invocation
 * got a whole fold block (the internal wholeFoldBlock: false), which a GPU has not compared either.
 */
export function numericsVariants(): GpuVariant[] {
  return [
    ...NUMERICS_VARIANTS.map((numerics) => ({ label: numericsLabel(numerics), options: { ...numerics } })),
    { label: 'wholeFoldBlock false', options: { wholeFoldBlock: false } },
  ];
}

/**
 * Variants from JSON, an object of labels to Gpu options, e.g.
 * `{"1024 workgroups": {"reductionWorkgroups": 1024}, "256": {"reductionWorkgroups": 256}}`.
 * The options are checked where the Gpu is made (Gpu.fromDevice names an unknown or bad one).
 */
export function parseVariants(json: string): GpuVariant[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    throw new SyntaxError(`variants must be JSON (an object of labels to Gpu options): ${error instanceof Error ? error.message : String(error)}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new TypeError(`variants must be an object of labels to Gpu options, got ${Array.isArray(parsed) ? 'an array' : typeof parsed}`);
  }
  const variants = Object.entries(parsed as Record<string, unknown>).map(([label, options]) => {
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw new TypeError(`variant '${label}': its Gpu options must be an object, got ${JSON.stringify(options)}`);
    }
    if ('gpu' in options) throw new TypeError(`variant '${label}': 'gpu' is the run's own; a variant sets the other Gpu options`);
    return { label, options: options as VariantOptions };
  });
  return checkVariants(variants);
}

/** At least one variant, labels non-empty and distinct. */
export function checkVariants(variants: readonly GpuVariant[]): GpuVariant[] {
  if (variants.length === 0) throw new RangeError('at least one variant is needed');
  const labels = new Set<string>();
  for (const { label } of variants) {
    if (label.trim() === '') throw new RangeError('a variant needs a label');
    if (labels.has(label)) throw new RangeError(`two variants are labelled '${label}'`);
    labels.add(label);
  }
  return [...variants];
}

/**
 * The variant's Gpu over the run's device: the run's Gpu's maxBindingBytes, reduction target, workgroup
 * size and turned-off features, then the variant's options over them. Destroying it frees its scratch, not the device.
 */
export function variantGpu(gpu: Gpu, variant: GpuVariant): Gpu {
  const offered = ['subgroups', 'shader-f16', 'timestamp-query'] as const;
  const on = { subgroups: gpu.features.subgroups, 'shader-f16': gpu.features.shaderF16, 'timestamp-query': gpu.features.timestampQuery };
  const inherited: VariantOptions = {
    // Only when set below the device's limit (which need not be a multiple of 4, as the option must).
    ...(gpu.maxBindingBytes < gpu.device.limits.maxStorageBufferBindingSize ? { maxBindingBytes: gpu.maxBindingBytes } : {}),
    reductionWorkgroups: gpu.reductionWorkgroups,
    workgroupSize: gpu.workgroupSize,
    wholeFoldBlock: gpu.wholeFoldBlock,
    disableFeatures: offered.filter((f) => gpu.device.features.has(f) && !on[f]),
  };
  return Gpu.fromDevice(gpu.device, { ...inherited, ...variant.options });
}
