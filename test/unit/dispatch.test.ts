import { describe, expect, it } from 'vitest';
import {
  GPU_REDUCTION_WORKGROUPS,
  GPU_WORKGROUP_SIZE,
  isSoftwareAdapter,
  reductionWorkgroupsFor,
  SOFTWARE_REDUCTION_WORKGROUPS,
  SOFTWARE_WORKGROUP_SIZE,
  workgroupSizeFor,
} from '../../src/runtime/adapter.js';
import { planChunks } from '../../src/engine/chunking.js';
import {
  FINALIZE_PER_INVOCATION_MAX_PARTIALS,
  FINALIZE_WORKGROUP_SIZE,
  foldGrid,
  FOLD_BLOCK_VALUES,
  MIN_ELEMS_PER_INVOCATION,
  mostChannelValues,
  planPasses,
  planRowBlocks,
  planSlices,
  ROWS_CHANNEL_LANES,
  ROWS_MAX_SPATIAL,
  type PlanTarget,
} from '../../src/engine/dispatch.js';

const GPU_TARGET: PlanTarget = { reductionWorkgroups: GPU_REDUCTION_WORKGROUPS, workgroupSize: GPU_WORKGROUP_SIZE, wholeFoldBlock: true };
const SOFTWARE_TARGET: PlanTarget = { reductionWorkgroups: SOFTWARE_REDUCTION_WORKGROUPS, workgroupSize: SOFTWARE_WORKGROUP_SIZE, wholeFoldBlock: true };

describe('foldGrid', () => {
  it('keeps 1-D dispatches within the limit', () => {
    expect(foldGrid(65535, 65535)).toEqual({ x: 65535, y: 1 });
  });

  it('folds larger dispatches into 2-D that cover every workgroup with little padding', () => {
    for (const groups of [65536, 100_000, 1_000_003, 65535 * 65535]) {
      const { x, y } = foldGrid(groups, 65535);
      expect(x).toBeLessThanOrEqual(65535);
      expect(y).toBeLessThanOrEqual(65535);
      expect(x * y).toBeGreaterThanOrEqual(groups);
      expect(x * y - groups).toBeLessThan(y);
    }
  });

  it('says when even 2-D is not enough', () => {
    expect(() => foldGrid(65535 * 65535 + 1, 65535)).toThrow(/maxComputeWorkgroupsPerDimension/);
  });
});

describe('planSlices', () => {
  const minSlice = GPU_WORKGROUP_SIZE * MIN_ELEMS_PER_INVOCATION;

  it('covers every element of a channel exactly once', () => {
    for (const [channels, len] of [[1, 1], [1, minSlice - 1], [1, minSlice + 1], [3, 10_000_000], [64, 100_352], [2048, 9]]) {
      const { slices, sliceLen } = planSlices(channels!, len!, GPU_TARGET, 4);
      expect(slices * sliceLen).toBeGreaterThanOrEqual(len!);
      expect((slices - 1) * sliceLen).toBeLessThan(len!);
    }
  });

  it('splits small-C, large channels to fill the GPU', () => {
    expect(planSlices(1, 50_000_000, GPU_TARGET, 4).slices).toBe(GPU_REDUCTION_WORKGROUPS);
    expect(planSlices(1, 50_000_000, SOFTWARE_TARGET, 4).slices).toBe(SOFTWARE_REDUCTION_WORKGROUPS);
  });

  it('does not split channels too short to keep every invocation busy', () => {
    expect(planSlices(1, minSlice * 2 - 1, GPU_TARGET, 4).slices).toBe(1);
    expect(planSlices(2048, 1_000_000, GPU_TARGET, 4).slices).toBe(1);
  });

  it('gives every invocation at least one whole fold block of scalar elements', () => {
    for (const len of [FOLD_BLOCK_VALUES * GPU_WORKGROUP_SIZE * 2 - 1, 1_000_000, 50_000_000]) {
      const { slices, sliceLen } = planSlices(1, len, GPU_TARGET, 1);
      if (slices > 1) expect(sliceLen / GPU_WORKGROUP_SIZE).toBeGreaterThanOrEqual(FOLD_BLOCK_VALUES);
    }
    expect(planSlices(1, FOLD_BLOCK_VALUES * GPU_WORKGROUP_SIZE * 2 - 1, GPU_TARGET, 1).slices).toBe(1);
  });

  it('without wholeFoldBlock, as before it: MIN_ELEMS_PER_INVOCATION alone, for slices and row lanes', () => {
    const before = { ...GPU_TARGET, wholeFoldBlock: false };
    const len = FOLD_BLOCK_VALUES * GPU_WORKGROUP_SIZE * 2 - 1; // one slice with whole blocks, three without
    expect(planSlices(1, len, before, 1).slices).toBe(3);
    expect(planSlices(1, len, before, 1).sliceLen / GPU_WORKGROUP_SIZE).toBeGreaterThanOrEqual(MIN_ELEMS_PER_INVOCATION);
    const rowLanes = GPU_WORKGROUP_SIZE / ROWS_CHANNEL_LANES;
    expect(planRowBlocks(64, 16384, before).sliceLen / rowLanes).toBe(MIN_ELEMS_PER_INVOCATION);
    expect(planRowBlocks(64, 16384, GPU_TARGET).sliceLen / rowLanes).toBe(FOLD_BLOCK_VALUES);
  });
});

describe('planRowBlocks', () => {
  const rowLanes = GPU_WORKGROUP_SIZE / ROWS_CHANNEL_LANES;

  it('covers every value of a channel once, and gives each row lane at least one whole fold block', () => {
    for (const [channels, positions] of [[3, 1000], [16384, 2], [130, 36], [4, 800_000], [64, 62], [70_000, 9], [4096, 1000]]) {
      const { slices, sliceLen } = planRowBlocks(channels!, positions!, GPU_TARGET);
      expect(slices * sliceLen).toBeGreaterThanOrEqual(positions!);
      expect((slices - 1) * sliceLen).toBeLessThan(positions!);
      if (slices > 1) expect(sliceLen / rowLanes).toBeGreaterThanOrEqual(Math.max(MIN_ELEMS_PER_INVOCATION, FOLD_BLOCK_VALUES));
    }
  });

  it('splits many rows of few channels to fill the GPU, and keeps many channels in one block', () => {
    expect(planRowBlocks(3, 10_000_000, GPU_TARGET).slices).toBe(GPU_REDUCTION_WORKGROUPS);
    expect(planRowBlocks(16384, 2, GPU_TARGET).slices).toBe(1);
    expect(planRowBlocks(70_000, 9, GPU_TARGET).slices).toBe(1);
  });
});

describe('planPasses', () => {
  const plan = (layout: { batch: number; channels: number; spatial: number }, reduces = true, target = GPU_TARGET) =>
    planPasses(layout, planChunks(layout, 2 ** 27, 256), 65535, reduces, target);

  it('reduces with the rows kernels where few values follow the channel, and with slices (vec4 where it can) elsewhere', () => {
    expect(plan({ batch: 8, channels: 64, spatial: 1 })).toMatchObject({ rows: true, vec4: false });
    expect(plan({ batch: 8, channels: 64, spatial: ROWS_MAX_SPATIAL })).toMatchObject({ rows: true, vec4: false });
    expect(plan({ batch: 128, channels: 64, spatial: 12 })).toMatchObject({ rows: false, vec4: true });
    expect(plan({ batch: 8, channels: 64, spatial: 49 })).toMatchObject({ rows: false, vec4: false });
    expect(plan({ batch: 8, channels: 3, spatial: 16 })).toMatchObject({ rows: false, vec4: true });
    const rows = plan({ batch: 2, channels: 16384, spatial: 1 });
    expect(rows.windows[0]!.reduceGrid.x).toBe(16384 / ROWS_CHANNEL_LANES);
  });

  it('gives many channels of few values each (9 to 16 after the channel, or 200 in one row) to the rows kernels, a workgroup per CHANNEL_LANES channels', () => {
    // One workgroup per channel cost 0.75 ms a channel on SwiftShader ([1,70000,9]: 67 s forward, 38 s backward).
    const layouts = [
      { batch: 2, channels: 4096, spatial: 9 },
      { batch: 2, channels: 4096, spatial: 16 },
      { batch: 1, channels: 70_000, spatial: 9 },
      { batch: 3, channels: 4096, spatial: 13 },
      { batch: 1, channels: 1000, spatial: 200 },
    ];
    for (const layout of layouts) {
      for (const target of [GPU_TARGET, SOFTWARE_TARGET]) {
        const p = plan(layout, true, target);
        const groups = Math.ceil(layout.channels / ROWS_CHANNEL_LANES) * p.windows[0]!.slices;
        expect(p, JSON.stringify(layout)).toMatchObject({ rows: true, vec4: false, spatialElems: layout.spatial });
        expect(p.windows[0]!.reduceGrid.x * p.windows[0]!.reduceGrid.y).toBeGreaterThanOrEqual(groups);
        expect(groups).toBeLessThan(layout.channels);
      }
    }
    // 252 vec4s a channel: fewer than a GPU's slice workgroup has invocations (rows), four for each of a
    // software adapter's 64 (slices).
    const between = { batch: 63, channels: 64, spatial: 16 };
    expect(plan(between, true, GPU_TARGET)).toMatchObject({ rows: true, vec4: false, spatialElems: 16 });
    expect(plan(between, true, SOFTWARE_TARGET)).toMatchObject({ rows: false, vec4: true, spatialElems: 4 });
    // The shapes reduce, finalize and apply in one dispatch on a software adapter.
    for (const layout of layouts.slice(0, 3)) expect(plan(layout, true, SOFTWARE_TARGET).singlePass).toBe(true);
    // A slice workgroup's invocations each get a value, or too few channels to fill a rows workgroup: slices.
    expect(plan({ batch: 64, channels: 64, spatial: 16 })).toMatchObject({ rows: false, vec4: true });
    expect(plan({ batch: 29, channels: 4096, spatial: 9 })).toMatchObject({ rows: false, vec4: false });
    expect(plan({ batch: 2, channels: 63, spatial: 9 })).toMatchObject({ rows: false });
  });

  it('finalizes a channel per invocation with few partials or none to merge, per workgroup with many', () => {
    const few = plan({ batch: 2, channels: 16384, spatial: 1 });
    expect(few.partialStride).toBeLessThanOrEqual(FINALIZE_PER_INVOCATION_MAX_PARTIALS);
    expect(few).toMatchObject({ finalizePerInvocation: true, finalizeGrid: { x: 16384 / FINALIZE_WORKGROUP_SIZE, y: 1 } });
    const many = plan({ batch: 64, channels: 2, spatial: 112 * 112 });
    expect(many.partialStride).toBeGreaterThan(FINALIZE_PER_INVOCATION_MAX_PARTIALS);
    expect(many).toMatchObject({ finalizePerInvocation: false, finalizeGrid: { x: 2, y: 1 } });
    expect(plan({ batch: 64, channels: 2, spatial: 112 * 112 }, false).finalizePerInvocation).toBe(true);
  });

  it('runs the training forward and the backward in one dispatch where every channel is one slice (one row block) of one window', () => {
    // ResNet-50's later layers and small tensors: a workgroup reaches a whole channel.
    for (const layout of [{ batch: 32, channels: 2048, spatial: 49 }, { batch: 1, channels: 64, spatial: 56 * 56 }, { batch: 2, channels: 8, spatial: 64 }]) {
      const p = plan(layout);
      expect(p, JSON.stringify(layout)).toMatchObject({ singlePass: true, rows: false, partialStride: 1 });
      expect(p.windows[0]!.reduceGrid.x).toBe(layout.channels);
    }
    // BatchNorm1d with few rows: a workgroup reaches CHANNEL_LANES whole channels.
    for (const layout of [{ batch: 60, channels: 100, spatial: 1 }, { batch: 2, channels: 16384, spatial: 1 }]) {
      const p = plan(layout);
      expect(p, JSON.stringify(layout)).toMatchObject({ singlePass: true, rows: true, partialStride: 1 });
      expect(p.windows[0]!.reduceGrid.x).toBe(Math.ceil(layout.channels / ROWS_CHANNEL_LANES));
    }
    // Channels long enough to be sliced (or rows to be blocked), and windowed tensors keep three passes.
    expect(plan({ batch: 32, channels: 64, spatial: 112 * 112 }).singlePass).toBe(false);
    expect(plan({ batch: 4096, channels: 512, spatial: 1 }).singlePass).toBe(false);
    const layout = { batch: 8, channels: 4, spatial: 16 };
    expect(planPasses(layout, planChunks(layout, 256, 256), 65535, true, GPU_TARGET)).toMatchObject({ singlePass: false, windows: { length: 8 } });
  });

  it('aims reductions at fewer workgroups on a software adapter, where more channels fit one slice each', () => {
    const layout = { batch: 16, channels: 64, spatial: 32 * 32 };
    expect(plan(layout).singlePass).toBe(false);
    expect(plan(layout, true, SOFTWARE_TARGET).singlePass).toBe(true);
  });
});

describe('windows that cut samples', () => {
  it('bounds the values of any one channel in a window: exact for whole samples, at most a run more otherwise', () => {
    const layout = { batch: 5, channels: 3, spatial: 10 };
    expect(mostChannelValues(layout, 2 * 30)).toBe(20);
    expect(mostChannelValues(layout, 7)).toBe(7);
    expect(mostChannelValues(layout, 25)).toBe(10);
    expect(mostChannelValues(layout, 30 + 12)).toBe(20);
  });

  it('gives each window its offset in its sample, in Elems, and slices that reach every channel value it holds', () => {
    const layout = { batch: 1, channels: 3, spatial: 1600 }; // 19200 bytes a sample, 1024-byte windows of 64 vec4s
    const plan = planPasses(layout, planChunks(layout, 1024, 256), 65535, true, GPU_TARGET);
    expect(plan).toMatchObject({ vec4: true, rows: false, singlePass: false });
    expect(plan.windows.map((w) => w.offset)).toEqual(plan.windows.map((_, i) => i * 64));
    for (const w of plan.windows) expect(w.slices * w.sliceLen).toBeGreaterThanOrEqual(Math.min(w.total, 400));
    const straddling = { batch: 30, channels: 3, spatial: 1 }; // channels-last: sample 21 straddles byte 256
    const rows = planPasses(straddling, planChunks(straddling, 256, 256), 65535, true, GPU_TARGET);
    expect(rows.windows.map((w) => [w.offset, w.total])).toEqual([[0, 64], [1, 26]]);
  });
});

describe('adapter classes', () => {
  const info = (fields: Partial<GPUAdapterInfo>) => ({ vendor: '', architecture: '', device: '', description: '', ...fields }) as GPUAdapterInfo;

  it('take SwiftShader, llvmpipe, WARP and fallback adapters for software; GPUs and absent info for hardware', () => {
    expect(isSoftwareAdapter(info({ vendor: 'google', architecture: 'swiftshader' }))).toBe(true);
    expect(isSoftwareAdapter(info({ description: 'llvmpipe (LLVM 15.0.7, 256 bits)' }))).toBe(true);
    expect(isSoftwareAdapter(info({ description: 'Microsoft Basic Render Driver' }))).toBe(true);
    expect(isSoftwareAdapter(info({ vendor: 'nvidia', isFallbackAdapter: true } as Partial<GPUAdapterInfo>))).toBe(true);
    expect(isSoftwareAdapter(info({ vendor: 'nvidia', device: 'nvidia-h200' }))).toBe(false);
    expect(isSoftwareAdapter(undefined)).toBe(false);
    expect(reductionWorkgroupsFor(undefined)).toBe(GPU_REDUCTION_WORKGROUPS);
    expect(reductionWorkgroupsFor(info({ architecture: 'swiftshader' }))).toBe(SOFTWARE_REDUCTION_WORKGROUPS);
    expect(workgroupSizeFor(undefined)).toBe(GPU_WORKGROUP_SIZE);
    expect(workgroupSizeFor(info({ description: 'llvmpipe (LLVM 15.0.7, 256 bits)' }))).toBe(SOFTWARE_WORKGROUP_SIZE);
  });
});
