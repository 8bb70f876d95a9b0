// The seeded shape sweep shared by the forward and backward GPU tests: random shapes of rank 2 to 5 plus
// the shapes that break kernels (H*W % 4 != 0, N=1, H*W=1, C=1, many channels, slice boundaries, a large
// mean with unit spread, a tiny spread).
import { channelLayout, numElements } from '../../src/runtime/shape.js';
import { randomInt, seededRandom } from './random.js';

export interface SweepCase {
  readonly name: string;
  readonly shape: readonly number[];
  /** x ~ N(mean, spread^2). */
  readonly mean: number;
  readonly spread: number;
  readonly seed: number;
}

// The statistics kernel gives each invocation >= 8 elements of 256-invocation workgroups: slices change
// at multiples of 2048 elements (vec4s when the run is a multiple of 4).
const EDGE_CASES: readonly Omit<SweepCase, 'seed'>[] = [
  { name: 'N=1', shape: [1, 3, 5, 7], mean: 0, spread: 1 },
  { name: 'H*W=1', shape: [16, 8, 1, 1], mean: 0, spread: 1 },
  { name: 'rank 2 (N,C)', shape: [64, 5], mean: 0, spread: 1 },
  { name: 'C=1', shape: [4, 1, 9, 9], mean: 0, spread: 1 },
  { name: 'C=2048', shape: [2, 2048, 3, 3], mean: 0, spread: 1 },
  { name: 'C=2048 H*W=1', shape: [4, 2048], mean: 0, spread: 1 },
  { name: 'mean 1e4, unit spread', shape: [8, 4, 16, 16], mean: 1e4, spread: 1 },
  { name: 'mean 1e4, unit spread, scalar path', shape: [8, 4, 15, 15], mean: 1e4, spread: 1 },
  { name: 'spread 1e-3', shape: [8, 4, 12, 12], mean: 0.5, spread: 1e-3 },
  { name: 'spread 1e-3, scalar path', shape: [8, 4, 11, 13], mean: 0.5, spread: 1e-3 },
  { name: 'one slice boundary - 1 vec4', shape: [1, 1, 8188], mean: 0, spread: 1 },
  { name: 'one slice boundary, vec4', shape: [1, 1, 8192], mean: 0, spread: 1 },
  { name: 'one slice boundary + 1 vec4', shape: [1, 1, 8196], mean: 0, spread: 1 },
  { name: 'slice boundary - 1, scalar', shape: [1, 1, 2047], mean: 0, spread: 1 },
  { name: 'slice boundary + 1, scalar', shape: [1, 1, 2049], mean: 0, spread: 1 },
  { name: 'many slices, C=1', shape: [3, 1, 200, 201], mean: -3, spread: 2 },
  { name: 'many slices, C=2', shape: [16, 2, 64, 64], mean: 1, spread: 0.5 },
  { name: 'runs shorter than a workgroup', shape: [300, 3, 2, 2], mean: 0, spread: 1 },
  { name: 'rank 5', shape: [2, 3, 4, 5, 6], mean: 0, spread: 1 },
  { name: 'rank 5 vec4', shape: [2, 3, 4, 4, 4], mean: 0, spread: 1 },
  { name: 'N=2 C=1 L=1 (2 values per channel)', shape: [2, 1, 1], mean: 0, spread: 1 },
  // Many channels of fewer values than a slice workgroup has invocations: the rows kernels, whose row lanes
  // walk a channel's values (a block may start mid-row), not one workgroup per channel (src/engine/dispatch.ts).
  { name: 'many channels, inner 9', shape: [2, 4096, 9], mean: 0, spread: 1 },
  { name: 'many channels, inner 16', shape: [2, 1024, 4, 4], mean: 3, spread: 0.5 },
  { name: 'many channels, N=1, inner 13', shape: [1, 640, 13], mean: 0, spread: 1 },
  { name: 'many channels, one row of 200', shape: [1, 256, 200], mean: -1, spread: 2 },
  { name: 'rows, blocks starting mid-row', shape: [63, 64, 16], mean: 1e4, spread: 1 },
];

/** EDGE_CASES then `random` seeded random shapes of rank 2-5 with at most ~24k elements each. */
export function shapeSweep(random: number, seed = 20261126): SweepCase[] {
  const rnd = seededRandom(seed);
  const cases: SweepCase[] = EDGE_CASES.map((c, i) => ({ ...c, seed: seed + i }));
  for (let i = 0; i < random; i++) {
    const rank = randomInt(rnd, 2, 5);
    const shape = [randomInt(rnd, 1, 12), randomInt(rnd, 1, 40)];
    for (let r = 2; r < rank; r++) shape.push(randomInt(rnd, 1, rank === 5 ? 6 : rank === 4 ? 14 : 40));
    const size = numElements(shape);
    const { batch, spatial } = channelLayout(shape);
    if (size > 24_000 || batch * spatial < 2) { i--; continue; } // keep the sweep quick; training needs 2 values
    const scale = 10 ** (rnd() * 4 - 2);
    cases.push({ name: `random #${i}`, shape, mean: (rnd() - 0.5) * 20 * scale, spread: scale, seed: seed + 1000 + i });
  }
  return cases;
}

/**
 * The case with its shape transposed to channels-last, (N, C, *spatial) -> (N, *spatial, C), to run with
 * axis -1 (Keras's and TensorFlow's layout): the same channels, each a strided run of N*spatial values.
 */
export function channelsLast(c: SweepCase): SweepCase {
  const [n, channels, ...spatial] = c.shape;
  return { ...c, shape: [n!, ...spatial, channels!] };
}

/**
 * Tensors larger than one storage binding run in windows of whole samples: a small maxBindingBytes
 * forces many windows on small tensors (shapes whose samples start mid-way through a 256-byte offset slot).
 */
export const CHUNKED_CASES: readonly { readonly shape: readonly number[]; readonly maxBindingBytes: number }[] = [
  { shape: [9, 3, 5, 7], maxBindingBytes: 1024 },
  { shape: [64, 3, 4, 4], maxBindingBytes: 1024 },
  { shape: [33, 5, 12], maxBindingBytes: 512 },
  { shape: [100, 7], maxBindingBytes: 512 },
  { shape: [17, 2, 30, 30], maxBindingBytes: 16384 },
  { shape: [6, 1, 2000], maxBindingBytes: 8192 }, // one sample per window, several slices each
];
