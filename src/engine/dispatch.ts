// Dispatch planning: how many workgroups each pass needs and how they are laid out.
//
// The plans (PassPlan), per operation:
//   training forward   one window, one slice (or row block) per channel: stats-apply, 1 dispatch
//                      otherwise: statistics per window, finalize, apply per window (2w + 1)
//   inference forward  apply per window, reading the running statistics (w)
//   backward           one window, one slice (or row block) per channel: backward-fused, 1 dispatch
//                      (where the device allows its 9 storage buffers; 3 passes otherwise)
//                      otherwise: reduce per window (not in inference without a weight), finalize, apply
// What justifies the one-dispatch plans, measured on an NVIDIA H200 through Dawn (Vulkan), 2026-11-27,
// ms per call of calls recorded into one encoder (timestamp-query), median of 3 trials; three passes
// at commit 5192ef5 and one dispatch at d10728c, one after the other in one device session:
//   shape (one dispatch)    forward 3 passes -> 1    backward 3 passes -> 1
//   2x8x8x8                 0.0080 -> 0.0041         0.0082 -> 0.0040
//   4x16x12x12              0.0083 -> 0.0043         0.0083 -> 0.0041
//   2x16384 (rows)          0.0082 -> 0.0035         0.0081 -> 0.0031
//   1x64x56x56              0.0224 -> 0.0161         0.0235 -> 0.0174
//   64x512x8x8              0.0554 -> 0.0402         0.0514 -> 0.0405
//   32x512x14x14            0.0440 -> 0.0204         0.0513 -> 0.0230
//   32x2048x7x7             0.110  -> 0.108          0.100  -> 0.0774
//   8x16x28x28 (16 groups)  0.0105 -> 0.0073         0.0114 -> 0.0164
// Small tensors are launch-bound, and each dispatch boundary costs about 4 us there. The same session
// timed unchanged three-pass shapes up to 2.3x apart between the two runs (32x512x28x28 forward
// 0.068 and 0.160 ms), so differences under ~2x at 3M elements and more are within its noise.
import type { Chunk } from './chunking.js';
import type { ChannelLayout } from '../runtime/shape.js';

/**
 * What a Gpu's plans follow (from its adapter, or its options): the workgroups a reduction aims for, and
 * the invocations per workgroup of the statistics, gradient-sum and apply kernels (src/runtime/adapter.ts).
 */
export interface PlanTarget {
  readonly reductionWorkgroups: number;
  readonly workgroupSize: number;
  /** Every statistics invocation gets at least one whole fold block (minElemsPerInvocation); the Gpu's. */
  readonly wholeFoldBlock: boolean;
}
/** Each statistics invocation gets at least this many elements, so a workgroup does real work. */
export const MIN_ELEMS_PER_INVOCATION = 8;
/**
 * Values the statistics loops fold into an invocation's state at a time (fold-block.wgsl's BLOCK_VALUES,
 * declared from here; a power of 4, so that its square root is exact). An invocation also gets at least
 * one whole block: one with less pays a short block's exact division and the workgroup's merges for a
 * few values, and that fixed cost, not the values, was most of the time of small tensors on the CPU
 * adapters (256x64 forward on SwiftShader: 2.2x 87b235f's with 8 values a row lane, 0.9x with 16).
 */
export const FOLD_BLOCK_VALUES = 16;

/**
 * The least Elems of `lanes` values each (1, or 4 for vec4 loads) a statistics invocation gets: with
 * `wholeFoldBlock` (the default) at least one fold block, else MIN_ELEMS_PER_INVOCATION alone, as before it
 * (kept selectable until a GPU run has compared the two: on a GPU, where this minimum decides the number
 * of the rows kernels' blocks, it halves it).
 */
export function minElemsPerInvocation(lanes: number, wholeFoldBlock: boolean): number {
  return wholeFoldBlock ? Math.max(MIN_ELEMS_PER_INVOCATION, FOLD_BLOCK_VALUES / lanes) : MIN_ELEMS_PER_INVOCATION;
}
/**
 * Tensors with at most this many values after the channel axis (channels-last: 1; BatchNorm1d on (N, C):
 * 1) reduce with the rows kernels, whose consecutive invocations take consecutive channels of a row:
 * the slice kernels would have each workgroup read runs of this few values at a stride of C*inner.
 * A first guess to tune on a GPU.
 */
export const ROWS_MAX_SPATIAL = 8;
/** Channels per rows-kernel workgroup; the other workgroupSize / ROWS_CHANNEL_LANES invocations take rows. */
export const ROWS_CHANNEL_LANES = 64;
/** Invocations per finalize workgroup (a power of two). */
export const FINALIZE_WORKGROUP_SIZE = 64;
/**
 * Channels with at most this many partials are finalized one invocation each (FINALIZE_WORKGROUP_SIZE
 * channels a workgroup); more partials get a workgroup each, whose invocations merge them in a tree.
 */
export const FINALIZE_PER_INVOCATION_MAX_PARTIALS = 16;

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
  /** Elements per slice (the last slice of a channel may be shorter); for the rows kernels, values per block. */
  readonly sliceLen: number;
}

/**
 * Cuts each channel's `channelLen` elements (of `lanes` values each) into slices: enough of them that
 * C*slices reaches the target's reductionWorkgroups, but never so many that an invocation has fewer than
 * minElemsPerInvocation elements to reduce.
 */
export function planSlices(channels: number, channelLen: number, target: PlanTarget, lanes: number): SlicePlan {
  const maxSlices = Math.max(1, Math.floor(channelLen / (target.workgroupSize * minElemsPerInvocation(lanes, target.wholeFoldBlock))));
  const wanted = Math.min(Math.ceil(target.reductionWorkgroups / channels), maxSlices);
  const sliceLen = Math.ceil(channelLen / wanted);
  return { slices: Math.ceil(channelLen / sliceLen), sliceLen };
}

/**
 * Whether a window's reduction takes the rows kernels (CHANNEL_LANES channels a workgroup, a few row lanes
 * each) rather than the slice kernels (a workgroup per channel): where few values follow the channel
 * (ROWS_MAX_SPATIAL), or where channels fill a rows workgroup's channel lanes and each has fewer Elems
 * in a window (`channelElems`, the most of any window) than a slice workgroup has invocations. A slice
 * workgroup would then leave invocations without a value and pay its two workgroup-wide merges for a
 * handful of values: the cost would follow the channels (0.75 ms each on SwiftShader for [1,70000,9]),
 * where a rows workgroup shares that cost among CHANNEL_LANES channels and its lanes each walk a quarter
 * of their channel's values, so that it follows the elements.
 */
export function reducesByRows(channels: number, spatial: number, channelElems: number, workgroupSize: number): boolean {
  return spatial <= ROWS_MAX_SPATIAL || (channels >= ROWS_CHANNEL_LANES && channelElems < workgroupSize);
}

/**
 * Cuts a window's `positions` values of each channel (its outer rows times the values after the channel)
 * into blocks for the rows kernels: enough that channel groups times blocks reaches the target's reductionWorkgroups,
 * but each of a workgroup's row lanes gets at least minElemsPerInvocation values. A block may start
 * and end inside a row: its row lanes walk its values, not its rows.
 */
export function planRowBlocks(channels: number, positions: number, target: PlanTarget): SlicePlan {
  const channelGroups = Math.ceil(channels / ROWS_CHANNEL_LANES);
  const rowLanes = target.workgroupSize / ROWS_CHANNEL_LANES;
  const minPositions = rowLanes * minElemsPerInvocation(1, target.wholeFoldBlock);
  const wanted = Math.min(Math.ceil(target.reductionWorkgroups / channelGroups), Math.max(1, Math.floor(positions / minPositions)));
  const sliceLen = Math.ceil(positions / wanted);
  return { slices: Math.ceil(positions / sliceLen), sliceLen };
}

/** One window of x (whole samples, or any aligned range of values: chunking.ts) as the passes see it. */
export interface WindowPlan {
  readonly chunk: Chunk;
  /** Elem offset of the window's first value in its binding, and in its sample (C*spatial values). */
  readonly base: number;
  readonly offset: number;
  /** The window's number of Elems. */
  readonly total: number;
  readonly slices: number;
  readonly sliceLen: number;
  /** Index of this window's first slice among a channel's partials. */
  readonly partialFirst: number;
  /** Index in a mask (x's shape without the channel axis) of the window's first sample's first position. */
  readonly maskFirst: number;
  readonly reduceGrid: Grid;
  readonly applyGrid: Grid;
}

/**
 * The most values of any one channel in a window of `count` values (batchCount*spatial for a window of
 * whole samples): a window that cuts samples holds, past its whole periods of C*spatial values, at most
 * a run's worth more of any channel (exact enough to size slices: a channel may get fewer).
 */
export function mostChannelValues(layout: ChannelLayout, count: number): number {
  const sampleValues = layout.channels * layout.spatial;
  return Math.floor(count / sampleValues) * layout.spatial + Math.min(count % sampleValues, layout.spatial);
}

export interface PassPlan {
  /** Reduce with the rows kernels (reducesByRows) rather than the slice kernels. */
  readonly rows: boolean;
  /** vec4 loads when each contiguous run (H*W...) is a whole number of vec4s (slice kernels only). */
  readonly vec4: boolean;
  /** Elems per contiguous run. */
  readonly spatialElems: number;
  readonly windows: readonly WindowPlan[];
  /** Partials per channel over all windows. */
  readonly partialStride: number;
  /** Finalize each channel in one invocation (few partials, or none to merge) rather than a workgroup. */
  readonly finalizePerInvocation: boolean;
  /**
   * One window, and one slice (one block of rows) per channel: a workgroup reaches all of its channels'
   * values, so the training forward and the backward reduce, finalize and apply in one dispatch
   * (stats-apply*.wgsl, backward-fused*.wgsl) with the reduction's grid.
   */
  readonly singlePass: boolean;
  readonly finalizeGrid: Grid;
}

/**
 * Plans the reduce -> finalize -> apply passes of a batch-norm operation over `chunks` of x, whose
 * values take `bytesPerValue` bytes; `reduces` says whether the operation runs the reduction (inference
 * forward, and inference backward without a weight, do not); the workgroups follow `target`. A `masked`
 * operation (statistics over the positions a mask keeps) takes scalar Elems: its statistics loops pack
 * the kept values of each block (rows-block-masked.wgsl, slice-block-masked.wgsl).
 */
export function planPasses(
  layout: ChannelLayout,
  chunks: readonly Chunk[],
  maxPerDimension: number,
  reduces: boolean,
  target: PlanTarget,
  bytesPerValue = 4,
  masked = false,
): PassPlan {
  const runsOfVec4 = layout.spatial % 4 === 0 && !masked; // a mask keeps positions, not vec4s
  const mostValues = chunks.reduce((most, c) => Math.max(most, mostChannelValues(layout, c.count)), 0);
  const rows = reducesByRows(layout.channels, layout.spatial, mostValues / (runsOfVec4 ? 4 : 1), target.workgroupSize);
  const vec4 = !rows && runsOfVec4;
  const lanes = vec4 ? 4 : 1;
  const spatialElems = layout.spatial / lanes;
  let partialFirst = 0;
  const windows = chunks.map((chunk): WindowPlan => {
    const channelValues = mostChannelValues(layout, chunk.count);
    const { slices, sliceLen } = rows
      ? planRowBlocks(layout.channels, channelValues, target)
      : planSlices(layout.channels, channelValues / lanes, target, lanes);
    const reduceGroups = (rows ? Math.ceil(layout.channels / ROWS_CHANNEL_LANES) : layout.channels) * slices;
    const total = chunk.count / lanes;
    const window: WindowPlan = {
      chunk,
      base: chunk.baseBytes / (lanes * bytesPerValue),
      offset: (chunk.start % (layout.channels * layout.spatial)) / lanes,
      total,
      slices,
      sliceLen,
      partialFirst,
      maskFirst: Math.floor(chunk.start / (layout.channels * layout.spatial)) * layout.spatial,
      reduceGrid: foldGrid(reduceGroups, maxPerDimension),
      applyGrid: foldGrid(Math.ceil(total / target.workgroupSize), maxPerDimension),
    };
    partialFirst += slices;
    return window;
  });
  const finalizePerInvocation = !reduces || partialFirst <= FINALIZE_PER_INVOCATION_MAX_PARTIALS;
  const finalizeGroups = finalizePerInvocation ? Math.ceil(layout.channels / FINALIZE_WORKGROUP_SIZE) : layout.channels;
  const singlePass = windows.length === 1 && windows[0]!.slices === 1;
  return {
    rows,
    vec4,
    spatialElems,
    windows,
    partialStride: partialFirst,
    finalizePerInvocation,
    finalizeGrid: foldGrid(finalizeGroups, maxPerDimension),
    singlePass,
  };
}
