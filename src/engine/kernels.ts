// The kernels: each one's WGSL source and its bindings, by name, in one record. The WGSL binding
// declarations, the bind group layout and the bind groups all come from that record, so nothing keeps
// positional lists in step by hand. Pipelines are composed from a typed variant and cached per device
// (a lost device takes its pipelines with it).
import activationSource from '../../shaders/activation.wgsl?raw';
import affineSource from '../../shaders/affine.wgsl?raw';
import applySource from '../../shaders/apply.wgsl?raw';
import backwardApplySource from '../../shaders/backward-apply.wgsl?raw';
import backwardCoefficientsSource from '../../shaders/backward-coefficients.wgsl?raw';
import backwardFinalizeSource from '../../shaders/backward-finalize.wgsl?raw';
import backwardFusedRowsSource from '../../shaders/backward-fused-rows.wgsl?raw';
import backwardFusedSource from '../../shaders/backward-fused.wgsl?raw';
import backwardReduceRowsSource from '../../shaders/backward-reduce-rows.wgsl?raw';
import backwardReduceSource from '../../shaders/backward-reduce.wgsl?raw';
import backwardSumsSource from '../../shaders/backward-sums.wgsl?raw';
import channelMeanSource from '../../shaders/channel-mean.wgsl?raw';
import channelStatisticsSource from '../../shaders/channel-statistics.wgsl?raw';
import elemScalarSource from '../../shaders/elem-scalar.wgsl?raw';
import elemSumsSource from '../../shaders/elem-sums.wgsl?raw';
import elemVec4Source from '../../shaders/elem-vec4.wgsl?raw';
import finalizeSource from '../../shaders/finalize.wgsl?raw';
import gatherStatisticsSource from '../../shaders/gather-statistics.wgsl?raw';
import globalCoefficientsSource from '../../shaders/global-coefficients.wgsl?raw';
import gradientCombineSource from '../../shaders/gradient-combine.wgsl?raw';
import gradientCenterSource from '../../shaders/gradient-center.wgsl?raw';
import gradientTotalsSource from '../../shaders/gradient-totals.wgsl?raw';
import foldBlockSource from '../../shaders/fold-block.wgsl?raw';
import foldVec4Source from '../../shaders/fold-vec4.wgsl?raw';
import fenceSource from '../../shaders/fence.wgsl?raw';
import accumulateTwoSumSource from '../../shaders/accumulate-two-sum.wgsl?raw';
import accumulateKahanSource from '../../shaders/accumulate-kahan.wgsl?raw';
import noFenceSource from '../../shaders/no-fence.wgsl?raw';
import inputCoefficientsSource from '../../shaders/input-coefficients.wgsl?raw';
import inputGradientSource from '../../shaders/input-gradient.wgsl?raw';
import mergeInvocationSource from '../../shaders/merge-invocation.wgsl?raw';
import maskAffineSource from '../../shaders/mask-affine.wgsl?raw';
import mergeWorkgroupSource from '../../shaders/merge-workgroup.wgsl?raw';
import momentsSource from '../../shaders/moments.wgsl?raw';
import allPositionsSource from '../../shaders/all-positions.wgsl?raw';
import maskCountSource from '../../shaders/mask-count.wgsl?raw';
import maskedCountSource from '../../shaders/masked-count.wgsl?raw';
import countOutputSource from '../../shaders/count-output.wgsl?raw';
import countPartialSource from '../../shaders/count-partial.wgsl?raw';
import positionMaskSource from '../../shaders/position-mask.wgsl?raw';
import rowsBlockMaskedSource from '../../shaders/rows-block-masked.wgsl?raw';
import rowsBlockSource from '../../shaders/rows-block.wgsl?raw';
import sliceBlockMaskedSource from '../../shaders/slice-block-masked.wgsl?raw';
import sliceBlockSource from '../../shaders/slice-block.wgsl?raw';
import noResidualSource from '../../shaders/no-residual.wgsl?raw';
import paramsSource from '../../shaders/params.wgsl?raw';
import pivotSource from '../../shaders/pivot.wgsl?raw';
import renormGradientSource from '../../shaders/renorm-gradient.wgsl?raw';
import renormSource from '../../shaders/renorm.wgsl?raw';
import reluMaskStoredSource from '../../shaders/relu-mask-stored.wgsl?raw';
import reluMaskSource from '../../shaders/relu-mask.wgsl?raw';
import residualAddSource from '../../shaders/residual-add.wgsl?raw';
import residualGradientSource from '../../shaders/residual-gradient.wgsl?raw';
import rowsGradientSumsSource from '../../shaders/rows-gradient-sums.wgsl?raw';
import rowsStatisticsSource from '../../shaders/rows-statistics.wgsl?raw';
import rowsWalkSource from '../../shaders/rows-walk.wgsl?raw';
import scaleShiftFoldedSource from '../../shaders/scale-shift-folded.wgsl?raw';
import scaleShiftGivenSource from '../../shaders/scale-shift-given.wgsl?raw';
import scaleShiftRunningSource from '../../shaders/scale-shift-running.wgsl?raw';
import sliceGradientSumsSource from '../../shaders/slice-gradient-sums.wgsl?raw';
import sliceStatisticsSource from '../../shaders/slice-statistics.wgsl?raw';
import sliceWalkSource from '../../shaders/slice-walk.wgsl?raw';
import spreadSource from '../../shaders/spread.wgsl?raw';
import statsApplyRowsSource from '../../shaders/stats-apply-rows.wgsl?raw';
import statsApplySource from '../../shaders/stats-apply.wgsl?raw';
import statsRowsSource from '../../shaders/stats-rows.wgsl?raw';
import statisticsCombineSource from '../../shaders/statistics-combine.wgsl?raw';
import statsSource from '../../shaders/stats.wgsl?raw';
import twoSumSource from '../../shaders/two-sum.wgsl?raw';
import welfordSource from '../../shaders/welford.wgsl?raw';
import sumSharedSource from '../../shaders/workgroup-sum-shared.wgsl?raw';
import sumSubgroupSource from '../../shaders/workgroup-sum-subgroup.wgsl?raw';
import { FINALIZE_WORKGROUP_SIZE, FOLD_BLOCK_VALUES, ROWS_CHANNEL_LANES } from './dispatch.js';
import { HALF_BITS_WGSL, storesPositiveWgsl, windowedAccessor, windowedArrayType, type Storage } from './element-storage.js';
import { DEFAULT_NUMERICS, type Gpu, type Numerics } from '../runtime/gpu.js';
import { LruMap } from '../runtime/lru.js';
import { FLAGS } from './params.js';
import { ShaderStage } from '../runtime/webgpu-constants.js';

/**
 * Shared WGSL a kernel is composed with. 'elem' is the element type (vec4 or scalar, by the variant;
 * scalar for kernels without that choice), 'workgroup-sum' the reduction (subgroups or workgroup
 * memory) and 'merge' the finalize's merge of a channel's partials (a workgroup or an invocation per
 * channel), by the variant; by the Gpu's numerics (Numerics), 'fold' how the statistics loops fold their
 * loads into a Welford state (a block of 16 values per merge, or the former merge per Elem), and
 * 'elem-sums' (with accumulate-*.wgsl) how the loops' compensated sums take each value (TwoSum or
 * Kahan). The fences (fence.wgsl or no-fence.wgsl) join every kernel that has Elems or TwoSums. The others
 * are fixed texts.
 */
type Part =
  | 'elem' | 'workgroup-sum' | 'merge' | 'fold' | 'two-sum' | 'elem-sums' | 'welford' | 'pivot' | 'slice-walk' | 'slice-statistics' | 'rows-walk'
  | 'channel-statistics' | 'affine' | 'spread' | 'mask-affine' | 'relu-mask' | 'relu-mask-stored' | 'activation' | 'scale-shift-folded' | 'scale-shift-running'
  | 'gradient-center' | 'slice-gradient-sums' | 'backward-coefficients' | 'input-gradient' | 'rows-statistics' | 'rows-gradient-sums'
  | 'channel-mean' | 'statistics-combine' | 'gradient-combine' | 'gradient-totals' | 'input-coefficients' | 'scale-shift-given'
  | 'no-residual' | 'residual-add' | 'residual-gradient' | 'rows-block' | 'rows-block-masked' | 'position-mask' | 'all-positions'
  | 'masked-count' | 'count-output' | 'count-partial' | 'slice-block' | 'slice-block-masked';

const FIXED_PARTS: Record<Exclude<Part, 'elem' | 'workgroup-sum' | 'merge' | 'fold' | 'elem-sums'>, string> = {
  'two-sum': twoSumSource,
  welford: welfordSource,
  pivot: pivotSource,
  'slice-walk': sliceWalkSource,
  'slice-statistics': sliceStatisticsSource,
  'rows-walk': rowsWalkSource,
  'channel-statistics': channelStatisticsSource,
  affine: affineSource,
  spread: spreadSource,
  'gradient-center': gradientCenterSource,
  'mask-affine': maskAffineSource,
  'relu-mask': reluMaskSource,
  'relu-mask-stored': reluMaskStoredSource,
  activation: activationSource,
  'scale-shift-folded': scaleShiftFoldedSource,
  'scale-shift-running': scaleShiftRunningSource,
  'slice-gradient-sums': sliceGradientSumsSource,
  'backward-coefficients': backwardCoefficientsSource,
  'input-gradient': inputGradientSource,
  'rows-statistics': rowsStatisticsSource,
  'rows-gradient-sums': rowsGradientSumsSource,
  'channel-mean': channelMeanSource,
  'statistics-combine': statisticsCombineSource,
  'gradient-combine': gradientCombineSource,
  'gradient-totals': gradientTotalsSource,
  'input-coefficients': inputCoefficientsSource,
  'scale-shift-given': scaleShiftGivenSource,
  'no-residual': noResidualSource,
  'residual-add': residualAddSource,
  'residual-gradient': residualGradientSource,
  'rows-block': rowsBlockSource,
  'rows-block-masked': rowsBlockMaskedSource,
  'position-mask': positionMaskSource,
  'all-positions': allPositionsSource,
  'masked-count': maskedCountSource,
  'count-output': countOutputSource,
  'count-partial': countPartialSource,
  'slice-block': sliceBlockSource,
  'slice-block-masked': sliceBlockMaskedSource,
};

/**
 * How a kernel sees one binding: its address space and access, and its WGSL type. A windowed binding
 * (a tensor of x's shape, bound one window at a time) has its type and accessor from its storage
 * (src/engine/element-storage.ts): kernels read and write it through loadX(i) / storeY(i, v).
 */
interface BindingDeclaration {
  readonly access: 'uniform' | 'read' | 'read_write';
  readonly type: string;
  readonly windowed?: true;
}

const uniform = (type: string): BindingDeclaration => ({ access: 'uniform', type });
const read = (type: string): BindingDeclaration => ({ access: 'read', type });
const readWrite = (type: string): BindingDeclaration => ({ access: 'read_write', type });

const windowed: BindingDeclaration = { access: 'read', type: 'array<Elem>', windowed: true };
const windowedOutput: BindingDeclaration = { access: 'read_write', type: 'array<Elem>', windowed: true };
const perChannel = read('array<f32>');
/** A mask of x's positions (position-mask.wgsl), bound whole. */
const mask = read('array<f32>');

/** What the training forward's statistics step writes: saved and running statistics. */
const trainingStatisticsBindings = {
  weight: perChannel,
  bias: perChannel,
  runningMean: readWrite('array<f32>'),
  runningVar: readWrite('array<f32>'),
  saveMean: readWrite('array<f32>'),
  saveInvstd: readWrite('array<f32>'),
} as const;

/** What every backward reduction reads: x and dy, and what recomputes the forward's ReLU mask. */
const backwardInputBindings = {
  params: uniform('Params'),
  x: windowed,
  dy: windowed,
  weight: perChannel,
  bias: perChannel,
  mean: perChannel,
  spread: perChannel,
} as const;

/** Both backward reductions (slices and rows) read the same. */
const backwardReduceBindings = { ...backwardInputBindings, partials: readWrite('array<Partial>') } as const;

/**
 * The backward reductions of a forward with a residual: the ReLU mask is the stored y's sign
 * (relu-mask-stored.wgsl), so they read y instead of the weight and bias that recompute it.
 */
const residualReduceBindings = {
  params: uniform('Params'),
  x: windowed,
  dy: windowed,
  y: windowed,
  mean: perChannel,
  spread: perChannel,
  partials: readWrite('array<Partial>'),
} as const;

/** The one-dispatch backwards with a residual: y for the mask instead of the bias, and dz written beside dx. */
const residualFusedBindings = {
  params: uniform('Params'),
  x: windowed,
  dy: windowed,
  y: windowed,
  weight: perChannel,
  mean: perChannel,
  spread: perChannel,
  dweight: readWrite('array<f32>'),
  dbias: readWrite('array<f32>'),
  dx: windowedOutput,
  dz: windowedOutput,
} as const;

// Parts of the kernel families; a '-residual' kernel is its family's kernel with the residual's parts and
// bindings (z read in the forward's apply; y read for the mask and dz written in the backward).
const STATS_APPLY_PARTS = ['elem', 'two-sum', 'elem-sums', 'welford', 'fold', 'pivot', 'all-positions', 'slice-walk', 'slice-block', 'workgroup-sum', 'slice-statistics', 'channel-mean', 'channel-statistics', 'affine', 'activation'] as const;
const STATS_APPLY_ROWS_PARTS = ['elem', 'two-sum', 'elem-sums', 'welford', 'fold', 'pivot', 'all-positions', 'rows-walk', 'rows-block', 'rows-statistics', 'channel-mean', 'channel-statistics', 'affine', 'activation'] as const;
const BACKWARD_SLICE_PARTS = ['elem', 'two-sum', 'elem-sums', 'slice-walk', 'workgroup-sum', 'spread', 'gradient-center', 'slice-gradient-sums'] as const;
const BACKWARD_ROWS_PARTS = ['elem', 'two-sum', 'elem-sums', 'rows-walk', 'spread', 'gradient-center', 'rows-gradient-sums'] as const;
const RECOMPUTED_MASK = ['affine', 'mask-affine', 'relu-mask'] as const;
const BACKWARD_FINALIZE_PARTS = [
  'two-sum', 'gradient-combine', 'merge', 'affine', 'spread', 'gradient-center', 'gradient-totals', 'input-coefficients', 'backward-coefficients',
] as const;

/** What the backward finalize reads and writes: the merged sums give dweight, dbias and dx's coefficients. */
const backwardFinalizeBindings = {
  params: uniform('Params'),
  partials: read('array<Partial>'),
  weight: perChannel,
  bias: perChannel,
  mean: perChannel,
  spread: perChannel,
  dweight: readWrite('array<f32>'),
  dbias: readWrite('array<f32>'),
  coefficients: readWrite('array<Coefficients>'),
} as const;

/** The backward's elementwise pass: dx from dy, x and the coefficients; with a residual y (the mask) and dz too. */
const backwardApplyBindings = {
  params: uniform('Params'),
  x: windowed,
  dy: windowed,
  coefficients: read('array<Coefficients>'),
  dx: windowedOutput,
} as const;
const backwardApplyResidualBindings = {
  params: uniform('Params'),
  x: windowed,
  dy: windowed,
  y: windowed,
  coefficients: read('array<Coefficients>'),
  dx: windowedOutput,
  dz: windowedOutput,
} as const;
const STORED_MASK = ['relu-mask-stored'] as const;

/**
 * Every kernel's source, the shared parts it is composed with, and its bindings; binding n is the n-th
 * entry. `Partial` and the coefficient layouts are declared by the kernels that use them.
 */
const KERNELS = {
  stats: {
    source: statsSource,
    parts: ['elem', 'two-sum', 'elem-sums', 'welford', 'fold', 'pivot', 'all-positions', 'slice-walk', 'slice-block', 'workgroup-sum', 'slice-statistics'],
    bindings: { params: uniform('Params'), x: windowed, partials: readWrite('array<Partial>') },
  },
  // Statistics over the positions a mask keeps (position-mask.wgsl), by slices; scalar Elems.
  'stats-masked': {
    source: statsSource,
    parts: ['elem', 'two-sum', 'elem-sums', 'welford', 'fold', 'pivot', 'slice-walk', 'position-mask', 'slice-block-masked', 'workgroup-sum', 'slice-statistics'],
    bindings: { params: uniform('Params'), x: windowed, mask, partials: readWrite('array<Partial>') },
  },
  'stats-apply': {
    source: statsApplySource,
    parts: [...STATS_APPLY_PARTS, 'no-residual'],
    bindings: { params: uniform('Params'), x: windowed, ...trainingStatisticsBindings, y: windowedOutput },
  },
  'stats-apply-residual': {
    source: statsApplySource,
    parts: [...STATS_APPLY_PARTS, 'residual-add'],
    bindings: { params: uniform('Params'), x: windowed, ...trainingStatisticsBindings, z: windowed, y: windowedOutput },
  },
  'stats-rows': {
    source: statsRowsSource,
    parts: ['elem', 'two-sum', 'elem-sums', 'welford', 'fold', 'pivot', 'all-positions', 'rows-walk', 'rows-block', 'rows-statistics'],
    bindings: { params: uniform('Params'), x: windowed, partials: readWrite('array<Partial>') },
  },
  // Statistics over the positions a mask keeps (position-mask.wgsl).
  'stats-rows-masked': {
    source: statsRowsSource,
    parts: ['elem', 'two-sum', 'elem-sums', 'welford', 'fold', 'pivot', 'rows-walk', 'position-mask', 'rows-block-masked', 'rows-statistics'],
    bindings: { params: uniform('Params'), x: windowed, mask, partials: readWrite('array<Partial>') },
  },
  'stats-apply-rows': {
    source: statsApplyRowsSource,
    parts: [...STATS_APPLY_ROWS_PARTS, 'no-residual'],
    bindings: { params: uniform('Params'), x: windowed, ...trainingStatisticsBindings, y: windowedOutput },
  },
  'stats-apply-rows-residual': {
    source: statsApplyRowsSource,
    parts: [...STATS_APPLY_ROWS_PARTS, 'residual-add'],
    bindings: { params: uniform('Params'), x: windowed, ...trainingStatisticsBindings, z: windowed, y: windowedOutput },
  },
  finalize: {
    source: finalizeSource,
    parts: ['two-sum', 'welford', 'statistics-combine', 'merge', 'channel-mean', 'channel-statistics', 'affine'],
    bindings: { params: uniform('Params'), partials: read('array<Partial>'), ...trainingStatisticsBindings, scaleShift: readWrite('array<vec2<f32>>') },
  },
  apply: {
    source: applySource,
    parts: ['elem', 'activation', 'scale-shift-folded', 'no-residual'],
    bindings: { params: uniform('Params'), x: windowed, scaleShift: read('array<vec2<f32>>'), y: windowedOutput },
  },
  'apply-residual': {
    source: applySource,
    parts: ['elem', 'activation', 'scale-shift-folded', 'residual-add'],
    bindings: { params: uniform('Params'), x: windowed, scaleShift: read('array<vec2<f32>>'), z: windowed, y: windowedOutput },
  },
  'apply-running': {
    source: applySource,
    parts: ['elem', 'activation', 'affine', 'scale-shift-running', 'no-residual'],
    bindings: { params: uniform('Params'), x: windowed, weight: perChannel, bias: perChannel, runningMean: perChannel, runningVar: perChannel, y: windowedOutput },
  },
  'apply-running-residual': {
    source: applySource,
    parts: ['elem', 'activation', 'affine', 'scale-shift-running', 'residual-add'],
    bindings: {
      params: uniform('Params'),
      x: windowed,
      weight: perChannel,
      bias: perChannel,
      runningMean: perChannel,
      runningVar: perChannel,
      z: windowed,
      y: windowedOutput,
    },
  },
  'backward-reduce': {
    source: backwardReduceSource,
    parts: [...BACKWARD_SLICE_PARTS, ...RECOMPUTED_MASK],
    bindings: backwardReduceBindings,
  },
  'backward-reduce-residual': {
    source: backwardReduceSource,
    parts: [...BACKWARD_SLICE_PARTS, ...STORED_MASK],
    bindings: residualReduceBindings,
  },
  'backward-fused': {
    source: backwardFusedSource,
    parts: [...BACKWARD_SLICE_PARTS, ...RECOMPUTED_MASK, 'gradient-totals', 'input-coefficients', 'backward-coefficients', 'no-residual', 'all-positions', 'input-gradient'],
    bindings: { ...backwardInputBindings, dweight: readWrite('array<f32>'), dbias: readWrite('array<f32>'), dx: windowedOutput },
  },
  'backward-fused-residual': {
    source: backwardFusedSource,
    parts: [...BACKWARD_SLICE_PARTS, ...STORED_MASK, 'gradient-totals', 'input-coefficients', 'backward-coefficients', 'residual-gradient', 'all-positions', 'input-gradient'],
    bindings: residualFusedBindings,
  },
  'backward-reduce-rows': {
    source: backwardReduceRowsSource,
    parts: [...BACKWARD_ROWS_PARTS, ...RECOMPUTED_MASK],
    bindings: backwardReduceBindings,
  },
  'backward-reduce-rows-residual': {
    source: backwardReduceRowsSource,
    parts: [...BACKWARD_ROWS_PARTS, ...STORED_MASK],
    bindings: residualReduceBindings,
  },
  'backward-fused-rows': {
    source: backwardFusedRowsSource,
    parts: [...BACKWARD_ROWS_PARTS, ...RECOMPUTED_MASK, 'gradient-totals', 'input-coefficients', 'backward-coefficients', 'no-residual', 'all-positions', 'input-gradient'],
    bindings: { ...backwardInputBindings, dweight: readWrite('array<f32>'), dbias: readWrite('array<f32>'), dx: windowedOutput },
  },
  'backward-fused-rows-residual': {
    source: backwardFusedRowsSource,
    parts: [...BACKWARD_ROWS_PARTS, ...STORED_MASK, 'gradient-totals', 'input-coefficients', 'backward-coefficients', 'residual-gradient', 'all-positions', 'input-gradient'],
    bindings: residualFusedBindings,
  },
  'backward-finalize': {
    source: backwardFinalizeSource,
    parts: [...BACKWARD_FINALIZE_PARTS, 'all-positions'],
    bindings: backwardFinalizeBindings,
  },
  // The coefficients of a masked forward's backward: the count is the mask's, in the partials' last element
  // (mask-count-partial).
  'backward-finalize-masked': {
    source: backwardFinalizeSource,
    parts: [...BACKWARD_FINALIZE_PARTS, 'masked-count'],
    bindings: backwardFinalizeBindings,
  },
  'mask-count': {
    source: maskCountSource,
    parts: ['count-output'],
    bindings: { params: uniform('Params'), mask, maskCount: readWrite('array<f32>') },
  },
  'mask-count-partial': {
    source: maskCountSource,
    parts: ['count-partial'],
    bindings: { params: uniform('Params'), mask, partials: readWrite('array<Partial>') },
  },
  'backward-apply': {
    source: backwardApplySource,
    parts: ['elem', 'relu-mask', 'no-residual', 'all-positions', 'input-gradient'],
    bindings: backwardApplyBindings,
  },
  'backward-apply-residual': {
    source: backwardApplySource,
    parts: ['elem', 'relu-mask-stored', 'residual-gradient', 'all-positions', 'input-gradient'],
    bindings: backwardApplyResidualBindings,
  },
  // dx where a mask left positions out of the statistics: they get only the direct term (position-mask.wgsl).
  'backward-apply-masked': {
    source: backwardApplySource,
    parts: ['elem', 'relu-mask', 'no-residual', 'position-mask', 'input-gradient'],
    bindings: { ...backwardApplyBindings, mask },
  },
  'backward-apply-masked-residual': {
    source: backwardApplySource,
    parts: ['elem', 'relu-mask-stored', 'residual-gradient', 'position-mask', 'input-gradient'],
    bindings: { ...backwardApplyResidualBindings, mask },
  },
  // The SyncBatchNorm building blocks (src/ops/sync-batch-norm.ts), with the reductions above as their pass 1.
  moments: {
    source: momentsSource,
    parts: ['two-sum', 'welford', 'statistics-combine', 'merge', 'channel-mean'],
    bindings: { params: uniform('Params'), partials: read('array<Partial>'), mean: readWrite('array<f32>'), variance: readWrite('array<f32>') },
  },
  'gather-statistics': {
    source: gatherStatisticsSource,
    parts: ['two-sum', 'welford', 'statistics-combine', 'channel-mean', 'channel-statistics'],
    bindings: {
      params: uniform('Params'),
      counts: perChannel,
      means: perChannel,
      variances: perChannel,
      runningMean: readWrite('array<f32>'),
      runningVar: readWrite('array<f32>'),
      saveMean: readWrite('array<f32>'),
      saveInvstd: readWrite('array<f32>'),
    },
  },
  'apply-given': {
    source: applySource,
    parts: ['elem', 'activation', 'affine', 'scale-shift-given', 'no-residual'],
    bindings: { params: uniform('Params'), x: windowed, weight: perChannel, bias: perChannel, mean: perChannel, invstd: perChannel, y: windowedOutput },
  },
  'apply-given-residual': {
    source: applySource,
    parts: ['elem', 'activation', 'affine', 'scale-shift-given', 'residual-add'],
    bindings: { params: uniform('Params'), x: windowed, weight: perChannel, bias: perChannel, mean: perChannel, invstd: perChannel, z: windowed, y: windowedOutput },
  },
  'backward-sums': {
    source: backwardSumsSource,
    parts: ['two-sum', 'gradient-combine', 'merge', 'spread', 'gradient-center', 'gradient-totals'],
    bindings: {
      params: uniform('Params'),
      partials: read('array<Partial>'),
      mean: perChannel,
      spread: perChannel,
      dweight: readWrite('array<f32>'),
      dbias: readWrite('array<f32>'),
      sumDy: readWrite('array<f32>'),
      sumDyXmu: readWrite('array<f32>'),
    },
  },
  'global-coefficients': {
    source: globalCoefficientsSource,
    parts: ['affine', 'spread', 'input-coefficients'],
    bindings: {
      params: uniform('Params'),
      weight: perChannel,
      bias: perChannel,
      mean: perChannel,
      spread: perChannel,
      sumDy: perChannel,
      sumDyXmu: perChannel,
      counts: perChannel,
      coefficients: readWrite('array<Coefficients>'),
    },
  },
  // Batch renormalization (src/ops/batch-renorm.ts), with 'stats' as its pass 1 and 'apply-given' as its pass 3.
  renorm: {
    source: renormSource,
    parts: ['two-sum', 'welford', 'statistics-combine', 'merge', 'channel-mean'],
    bindings: {
      params: uniform('Params'),
      partials: read('array<Partial>'),
      weight: perChannel,
      bias: perChannel,
      settings: read('RenormSettings'),
      runningMean: readWrite('array<f32>'),
      runningVar: readWrite('array<f32>'),
      renorm: readWrite('array<f32>'),
    },
  },
  'renorm-gradient': {
    source: renormGradientSource,
    parts: [],
    bindings: { params: uniform('Params'), r: perChannel, d: perChannel, dbias: perChannel, dweight: readWrite('array<f32>') },
  },
} as const satisfies Record<string, { source: string; parts: readonly Part[]; bindings: Record<string, BindingDeclaration> }>;

export type KernelName = keyof typeof KERNELS;
export type BindingName<K extends KernelName> = keyof (typeof KERNELS)[K]['bindings'] & string;

/**
 * Every compiled kernel is one of these, composed with its Gpu's numerics (Numerics); the cache key and
 * the WGSL both derive from the two. Kernels that touch tensors of x's shape have a `storage` (f32, native
 * f16 or packed f16); `vec4` picks four values per element where runs allow it, `subgroups` the workgroup
 * reduction, `perInvocation` the finalize's merge.
 */
export type KernelVariant =
  | { readonly kernel: 'stats'; readonly storage: Storage; readonly vec4: boolean; readonly subgroups: boolean }
  | { readonly kernel: 'stats-masked'; readonly storage: Storage; readonly subgroups: boolean }
  | { readonly kernel: 'stats-apply' | 'stats-apply-residual'; readonly storage: Storage; readonly vec4: boolean; readonly subgroups: boolean }
  | { readonly kernel: 'stats-rows' | 'stats-rows-masked'; readonly storage: Storage }
  | { readonly kernel: 'stats-apply-rows' | 'stats-apply-rows-residual'; readonly storage: Storage }
  | { readonly kernel: 'finalize'; readonly perInvocation: boolean }
  | { readonly kernel: 'apply' | 'apply-residual'; readonly storage: Storage; readonly vec4: boolean }
  | { readonly kernel: 'apply-running' | 'apply-running-residual'; readonly storage: Storage; readonly vec4: boolean }
  | { readonly kernel: 'backward-reduce' | 'backward-reduce-residual'; readonly storage: Storage; readonly vec4: boolean; readonly subgroups: boolean }
  | { readonly kernel: 'backward-fused' | 'backward-fused-residual'; readonly storage: Storage; readonly vec4: boolean; readonly subgroups: boolean }
  | { readonly kernel: 'backward-reduce-rows' | 'backward-reduce-rows-residual'; readonly storage: Storage }
  | { readonly kernel: 'backward-fused-rows' | 'backward-fused-rows-residual'; readonly storage: Storage }
  | { readonly kernel: 'backward-finalize' | 'backward-finalize-masked'; readonly perInvocation: boolean }
  | { readonly kernel: 'mask-count' | 'mask-count-partial' }
  | { readonly kernel: 'backward-apply' | 'backward-apply-residual'; readonly storage: Storage; readonly vec4: boolean }
  | { readonly kernel: 'backward-apply-masked' | 'backward-apply-masked-residual'; readonly storage: Storage }
  | { readonly kernel: 'moments'; readonly perInvocation: boolean }
  | { readonly kernel: 'gather-statistics' }
  | { readonly kernel: 'apply-given' | 'apply-given-residual'; readonly storage: Storage; readonly vec4: boolean }
  | { readonly kernel: 'backward-sums'; readonly perInvocation: boolean }
  | { readonly kernel: 'global-coefficients' }
  | { readonly kernel: 'renorm'; readonly perInvocation: boolean }
  | { readonly kernel: 'renorm-gradient' };

/** The declarations of a kernel's bindings, in binding order. */
export function bindingsOf(kernel: KernelName): readonly (readonly [string, BindingDeclaration])[] {
  return Object.entries(KERNELS[kernel].bindings);
}

/**
 * Whether the device allows as many storage buffers in one shader as the kernel binds (the one-dispatch
 * backwards bind 9; WebGPU's default limit is 8, which requestGpu raises to the adapter's).
 */
export function fitsDevice(gpu: Gpu, kernel: KernelName): boolean {
  const storageBuffers = bindingsOf(kernel).filter(([, { access }]) => access !== 'uniform').length;
  return storageBuffers <= gpu.device.limits.maxStorageBuffersPerShaderStage;
}

/** Whether the kernel writes the binding (storage, read_write). */
export function isWritable(kernel: KernelName, binding: string): boolean {
  return (KERNELS[kernel].bindings as Record<string, BindingDeclaration>)[binding]?.access === 'read_write';
}

/** Every field a variant can have, in a fixed order: the same variant gives the same key whatever its field order. */
const VARIANT_FIELDS = ['kernel', 'storage', 'vec4', 'subgroups', 'perInvocation'] as const;

/** The numerics a kernel's code depends on: the fences where it has Elems or TwoSums, the others where it has their parts. */
function numericsOf(kernelParts: readonly Part[], numerics: Numerics): Partial<Numerics> {
  const has = (...parts: Part[]) => parts.some((p) => kernelParts.includes(p));
  return {
    ...(has('fold') ? { statisticsMerge: numerics.statisticsMerge } : {}),
    ...(has('elem-sums') ? { compensation: numerics.compensation } : {}),
    ...(has('elem', 'two-sum') ? { fences: numerics.fences } : {}),
  };
}

/** The cache key of a variant composed with `numerics`: only the numerics its code depends on. */
export function variantKey(variant: KernelVariant, numerics: Numerics = DEFAULT_NUMERICS): string {
  const fields = { ...variant, ...numericsOf(KERNELS[variant.kernel].parts, numerics) } as Partial<Record<string, string | boolean>>;
  return [...VARIANT_FIELDS, ...Object.keys(DEFAULT_NUMERICS)]
    .filter((f) => f in fields)
    .map((f) => `${f}=${String(fields[f])}`)
    .join(',');
}

/**
 * The substitution step: the variant picks the Elem type, the reductions and the finalize's merge, the
 * numerics the fold, the loops' compensation and the fences; nothing else changes.
 */
// fold-block.wgsl's block, from the one constant the dispatch plans use too; deviations are scaled by
// 1/sqrt(BLOCK_VALUES) before squaring (exact: a power of 4).
const FOLD_BLOCK_CONSTANTS = `const BLOCK_VALUES: u32 = ${FOLD_BLOCK_VALUES}u;\nconst DEVIATION_SCALE: f32 = ${1 / Math.sqrt(FOLD_BLOCK_VALUES)};`;

export function composeShader(variant: KernelVariant, numerics: Numerics = DEFAULT_NUMERICS): string {
  const kernel = KERNELS[variant.kernel];
  const used = numericsOf(kernel.parts, numerics);
  const parts: string[] = [];
  const storage = 'storage' in variant ? variant.storage : 'f32';
  const vec4 = 'vec4' in variant && variant.vec4;
  if (storage === 'f16') parts.push('enable f16;');
  if ('subgroups' in variant && variant.subgroups) parts.push('enable subgroups;');
  parts.push(
    'override WORKGROUP_SIZE: u32;\noverride FINALIZE_SIZE: u32;\noverride CHANNEL_LANES: u32;',
    Object.entries(FLAGS).map(([name, bit]) => `const FLAG_${name}: u32 = ${bit}u;`).join('\n'),
    paramsSource,
  );
  for (const part of kernel.parts as readonly Part[]) {
    if (part === 'elem') parts.push(vec4 ? elemVec4Source : elemScalarSource);
    else if (part === 'workgroup-sum') parts.push('subgroups' in variant && variant.subgroups ? sumSubgroupSource : sumSharedSource);
    else if (part === 'merge') parts.push('perInvocation' in variant && variant.perInvocation ? mergeInvocationSource : mergeWorkgroupSource);
    else if (part === 'fold') parts.push(used.statisticsMerge === 'vec4' ? foldVec4Source : `${FOLD_BLOCK_CONSTANTS}\n${foldBlockSource}`);
    else if (part === 'elem-sums') parts.push(elemSumsSource, used.compensation === 'kahan' ? accumulateKahanSource : accumulateTwoSumSource);
    else parts.push(FIXED_PARTS[part]);
  }
  if (used.fences !== undefined) parts.push(used.fences ? fenceSource : noFenceSource);
  if (storage !== 'f32') parts.push(HALF_BITS_WGSL);
  if ((kernel.parts as readonly Part[]).includes('relu-mask')) parts.push(storesPositiveWgsl(storage, vec4));
  const declarations = bindingsOf(variant.kernel).map(([name, { access, type, windowed }], binding) => {
    const space = access === 'uniform' ? 'uniform' : `storage, ${access}`;
    const element = windowed ? { name, writable: access === 'read_write', storage, vec4 } : null;
    const declaration = `@group(0) @binding(${binding}) var<${space}> ${name}: ${element ? windowedArrayType(element) : type};`;
    return element ? `${declaration}\n${windowedAccessor(element)}` : declaration;
  });
  parts.push(declarations.join('\n'), kernel.source);
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
  // Gpus sharing a device may differ in their workgroup size, a pipeline constant.
  const key = `${variantKey(variant, gpu.numerics)} wg${gpu.workgroupSize}`;
  let kernel = kernels.get(key);
  if (!kernel) {
    if ('subgroups' in variant && variant.subgroups && !gpu.features.subgroups) {
      throw new Error("the subgroup kernels need the WebGPU feature 'subgroups', which this device does not have");
    }
    if ('storage' in variant && variant.storage === 'f16' && !gpu.features.shaderF16) {
      throw new Error("the native f16 kernels need the WebGPU feature 'shader-f16', which this device does not have");
    }
    const label = `batchnorm ${key}`;
    gpu.beforeCreating();
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
        module: device.createShaderModule({ label, code: composeShader(variant, gpu.numerics) }),
        entryPoint: 'main',
        constants: { WORKGROUP_SIZE: gpu.workgroupSize, FINALIZE_SIZE: FINALIZE_WORKGROUP_SIZE, CHANNEL_LANES: ROWS_CHANNEL_LANES },
      },
    });
    kernel = { variant, pipeline, layout, label };
    kernels.set(key, kernel);
  }
  return kernel;
}

/** Bind groups kept per kernel, the least recently used beyond it dropped. */
const BIND_GROUPS_PER_KERNEL = 64;
const bindGroupCaches = new WeakMap<Kernel, LruMap<string, GPUBindGroup>>();
const bufferIds = new WeakMap<GPUBuffer, number>();
let nextBufferId = 0;

function bufferId(buffer: GPUBuffer): number {
  let id = bufferIds.get(buffer);
  if (id === undefined) bufferIds.set(buffer, (id = nextBufferId++));
  return id;
}

/**
 * A bind group for `kernel` from its resources by binding name. Creating one costs about 10 us in a
 * browser (a round trip to its GPU process), a steady-state call needs the same few again and again, so
 * they are cached by the identity, offset and size of each buffer bound. A buffer is never reused for
 * another allocation, so a cached group never binds a buffer other than the one it was made for.
 */
export function bindGroup(gpu: Gpu, kernel: Kernel, resources: Readonly<Record<string, GPUBufferBinding>>): GPUBindGroup {
  const entries = bindingsOf(kernel.variant.kernel).map(([name], binding) => {
    const resource = resources[name];
    if (!resource) throw new Error(`internal: no resource for binding '${name}' of ${kernel.label}`);
    return { binding, resource };
  });
  const key = entries.map(({ resource: r }) => `${bufferId(r.buffer)}:${r.offset ?? 0}:${r.size ?? -1}`).join(',');
  let groups = bindGroupCaches.get(kernel);
  if (!groups) bindGroupCaches.set(kernel, (groups = new LruMap(BIND_GROUPS_PER_KERNEL)));
  return groups.getOrCreate(key, () => gpu.device.createBindGroup({ label: kernel.label, layout: kernel.layout, entries }));
}
