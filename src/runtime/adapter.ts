// What the adapter says about itself that the plans use: whether it is a software rasterizer (a CPU
// running the "GPU" work: SwiftShader, llvmpipe, WARP), and from that how many workgroups a reduction
// should aim for and how many invocations each has.

const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|\bwarp\b/i;

/** Whether the adapter says it is a fallback adapter; Dawn for Node and older browsers may not say (false). */
export function isFallbackAdapter(info: GPUAdapterInfo): boolean {
  return (info as { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
}

/** A software adapter: its "GPU" work runs on the CPU. Absent info (older runtimes) reads as hardware. */
export function isSoftwareAdapter(info: GPUAdapterInfo | undefined): boolean {
  if (!info) return false;
  return isFallbackAdapter(info) || SOFTWARE_ADAPTER.test([info.vendor, info.architecture, info.device, info.description].join(' '));
}

/**
 * Workgroups a reduction aims for on a GPU: enough to fill a large one (an H100 has 132 SMs, each
 * holding 8 workgroups of 256). This is the default wherever the adapter says nothing: too many
 * workgroups cost a GPU little, too few leave it idle.
 */
export const GPU_REDUCTION_WORKGROUPS = 1024;
/**
 * On a software adapter a few workgroups keep every core busy, and each one more costs its scheduling
 * and its share of the merge; with so few, most channels fit one slice and take the one-dispatch plans.
 */
export const SOFTWARE_REDUCTION_WORKGROUPS = 16;

/** The reduction target for the adapter a device came from. */
export function reductionWorkgroupsFor(info: GPUAdapterInfo | undefined): number {
  return isSoftwareAdapter(info) ? SOFTWARE_REDUCTION_WORKGROUPS : GPU_REDUCTION_WORKGROUPS;
}

/** The workgroup sizes the kernels are built for: powers of two, each a multiple of the rows kernels' 64 channel lanes. */
export const WORKGROUP_SIZES = [64, 128, 256] as const;
export type WorkgroupSize = (typeof WORKGROUP_SIZES)[number];
/** Invocations per workgroup of the statistics, gradient-sum and apply kernels on a GPU. */
export const GPU_WORKGROUP_SIZE: WorkgroupSize = 256;
/**
 * On a software adapter the invocations of a workgroup run one after another (a few SIMD lanes at a
 * time), so each one's fixed cost (the compensated workgroup merges, the last short block) is paid in
 * full: a quarter as many invocations, each with four times the values, cost 0.46-0.73x as much per
 * element as 256 on SwiftShader and 0.67-0.96x on lavapipe for NCHW tensors (16x64x32x32, 8x16x28x28;
 * CPU time, 2026-12-07).
 */
export const SOFTWARE_WORKGROUP_SIZE: WorkgroupSize = 64;

/** The workgroup size for the adapter a device came from. */
export function workgroupSizeFor(info: GPUAdapterInfo | undefined): WorkgroupSize {
  return isSoftwareAdapter(info) ? SOFTWARE_WORKGROUP_SIZE : GPU_WORKGROUP_SIZE;
}
