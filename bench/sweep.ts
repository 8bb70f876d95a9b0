// The tensor shapes the benchmark sweeps: small synthetic cases, where launch overhead dominates,
// BatchNorm1d cases and many channels of few values each, up to the batch-norm layers of ResNet-50 at
// batch 32 and one case above 3e7 elements.
import { numElements } from '../src/runtime/shape.js';

export interface SweepShape {
  readonly label: string;
  readonly shape: readonly [number, number, number, number];
}

export const SWEEP: readonly SweepShape[] = [
  { label: 'small 2x8x8x8', shape: [2, 8, 8, 8] },
  { label: 'small 4x16x12x12', shape: [4, 16, 12, 12] },
  // BatchNorm1d with many channels and two values each: one value per channel in each row, the shape the
  // rows kernels and the per-invocation finalize exist for (10 s per call on SwiftShader before them).
  { label: 'BatchNorm1d 2x16384', shape: [2, 16384, 1, 1] },
  // Many channels of 9 and 16 values each: one workgroup per channel cost 0.75 ms a channel on SwiftShader
  // before the rows kernels took them (src/engine/dispatch.ts reducesByRows).
  { label: 'many channels 2x4096x3x3', shape: [2, 4096, 3, 3] },
  { label: 'small 8x16x28x28', shape: [8, 16, 28, 28] },
  // One ResNet-50 layer1 block at batch 1: latency, a few microseconds of memory traffic on a GPU.
  { label: 'ResNet-50 layer1 (N=1)', shape: [1, 64, 56, 56] },
  { label: 'many channels 2x4096x4x4', shape: [2, 4096, 4, 4] },
  { label: 'BatchNorm1d (N, C, L) 1x70000x9', shape: [1, 70000, 9, 1] },
  { label: 'mid 16x64x32x32', shape: [16, 64, 32, 32] },
  // BatchNorm1d on (N, C): each channel is strided by C, the layout least kind to the reductions' loads.
  { label: 'BatchNorm1d 4096x512', shape: [4096, 512, 1, 1] },
  { label: 'many channels 64x512x8x8', shape: [64, 512, 8, 8] },
  { label: 'ResNet-50 layer4 (N=32)', shape: [32, 2048, 7, 7] },
  { label: '512 channels 32x512x14x14', shape: [32, 512, 14, 14] },
  { label: 'wide 8x32x128x128', shape: [8, 32, 128, 128] },
  { label: 'ResNet-50 layer3 (N=32)', shape: [32, 1024, 14, 14] },
  { label: 'ResNet-50 layer2 (N=32)', shape: [32, 512, 28, 28] },
  { label: 'ResNet-50 layer1 (N=32)', shape: [32, 256, 56, 56] },
  { label: 'ResNet-50 bn1 (N=32)', shape: [32, 64, 112, 112] },
  { label: 'ResNet-50 bn1 (N=48)', shape: [48, 64, 112, 112] },
];

/** Shapes for interactive runs: ResNet-50 layers at batch 8 and a few small cases. */
export const INTERACTIVE_PRESETS: readonly SweepShape[] = [
  { label: 'tiny 2x4x4x4', shape: [2, 4, 4, 4] },
  { label: 'small 8x16x14x14', shape: [8, 16, 14, 14] },
  { label: 'odd spatial 4x6x5x7', shape: [4, 6, 5, 7] },
  { label: 'ResNet-50 bn1 (N=8)', shape: [8, 64, 112, 112] },
  { label: 'ResNet-50 layer1 (N=8)', shape: [8, 256, 56, 56] },
  { label: 'ResNet-50 layer2 (N=8)', shape: [8, 512, 28, 28] },
  { label: 'ResNet-50 layer3 (N=8)', shape: [8, 1024, 14, 14] },
  { label: 'ResNet-50 layer4 (N=8)', shape: [8, 2048, 7, 7] },
];

/** The sweep cut at `maxElements` (inclusive). */
export function sweepUpTo(maxElements: number): SweepShape[] {
  return SWEEP.filter((s) => numElements(s.shape) <= maxElements);
}
