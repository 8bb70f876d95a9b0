// Dispatch planning: how many workgroups each pass needs and how they are laid out.

/** Invocations per workgroup of the statistics and apply kernels (a power of two). */
export const WORKGROUP_SIZE = 256;
/** Aim for this many statistics workgroups: enough to fill a large GPU (an H100 has 132 SMs). */
export const TARGET_STATS_WORKGROUPS = 1024;
/** Each statistics invocation gets at least this many elements, so a workgroup does real work. */
export const MIN_ELEMS_PER_INVOCATION = 8;

export interface Grid {
  readonly x: number;
  readonly y: number;
}

/** Lays `groups` workgroups out as x*y >= groups, folding into 2-D above `maxPerDimension`. */
export function foldGrid(groups: number, maxPerDimension: number): Grid {
  if (groups <= maxPerDimension) return { x: Math.max(groups, 1), y: 1 };
  const y = Math.ceil(groups / maxPerDimension);
  if (y > maxPerDimension) {
    throw new RangeError(`${groups} workgroups exceed the device's limit of ${maxPerDimension}^2 (maxComputeWorkgroupsPerDimension)`);
  }
  return { x: Math.ceil(groups / y), y };
}

export interface SlicePlan {
  /** Slices per channel. */
  readonly slices: number;
  /** Elements per slice (the last slice of a channel may be shorter). */
  readonly sliceLen: number;
}

/**
 * Cuts each channel's `channelLen` elements into slices: enough of them that C*slices fills the GPU,
 * but never so many that an invocation has fewer than MIN_ELEMS_PER_INVOCATION elements to reduce.
 */
export function planSlices(channels: number, channelLen: number): SlicePlan {
  const maxSlices = Math.max(1, Math.floor(channelLen / (WORKGROUP_SIZE * MIN_ELEMS_PER_INVOCATION)));
  const wanted = Math.min(Math.ceil(TARGET_STATS_WORKGROUPS / channels), maxSlices);
  const sliceLen = Math.ceil(channelLen / wanted);
  return { slices: Math.ceil(channelLen / sliceLen), sliceLen };
}
