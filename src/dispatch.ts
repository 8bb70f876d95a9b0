// Dispatch planning: how many workgroups each pass needs and how they are laid out.
import type { Chunk } from './chunking.js';
import type { ChannelLayout } from './shape.js';

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

/** One window of x (a chunk of whole samples) as the reduction and apply passes see it. */
export interface WindowPlan {
  readonly chunk: Chunk;
  /** Elem offset of the window's first value in its binding, and its number of Elems. */
  readonly base: number;
  readonly total: number;
  readonly slices: number;
  readonly sliceLen: number;
  /** Index of this window's first slice among a channel's partials. */
  readonly partialFirst: number;
  readonly reduceGrid: Grid;
  readonly applyGrid: Grid;
}

export interface PassPlan {
  /** vec4 loads when each contiguous run (H*W...) is a whole number of vec4s. */
  readonly vec4: boolean;
  /** Elems per contiguous run. */
  readonly spatialElems: number;
  readonly windows: readonly WindowPlan[];
  /** Partials per channel over all windows. */
  readonly partialStride: number;
  readonly finalizeGrid: Grid;
}

/** Plans the reduce -> finalize -> apply passes of a batch-norm operation over `chunks` of x. */
export function planPasses(layout: ChannelLayout, chunks: readonly Chunk[], maxPerDimension: number): PassPlan {
  const vec4 = layout.spatial % 4 === 0;
  const elemBytes = vec4 ? 16 : 4;
  const spatialElems = layout.spatial / (vec4 ? 4 : 1);
  let partialFirst = 0;
  const windows = chunks.map((chunk): WindowPlan => {
    const { slices, sliceLen } = planSlices(layout.channels, chunk.batchCount * spatialElems);
    const total = chunk.batchCount * layout.channels * spatialElems;
    const window: WindowPlan = {
      chunk,
      base: chunk.baseBytes / elemBytes,
      total,
      slices,
      sliceLen,
      partialFirst,
      reduceGrid: foldGrid(layout.channels * slices, maxPerDimension),
      applyGrid: foldGrid(Math.ceil(total / WORKGROUP_SIZE), maxPerDimension),
    };
    partialFirst += slices;
    return window;
  });
  return { vec4, spatialElems, windows, partialStride: partialFirst, finalizeGrid: foldGrid(layout.channels, maxPerDimension) };
}
