// PyTorch CUDA's batch-norm reductions replayed on the CPU in float32: the accuracy this library must at
// least match (src/reference/tolerances.ts). Each float32 operation of ATen's kernels (aten/src/ATen/native/cuda/
// Normalization.cuh, PyTorch 2.x) is rounded once with Math.fround, in the kernels' order: per-thread
// loops over their grid-stride share, then the shuffle and shared-memory trees, with the launch shapes
// ATen picks for the tensor. `acc += a*b` is a fused multiply-add, as nvcc contracts it (a*b of two
// float32 values is exact in float64, so one fround rounds the sum once).
//   x with one value per (row, channel) (channels-last, BatchNorm1d on (N, C)): the channels-last
//     kernels, 4 Welford states (or sums) per thread over rows at a stride of blockDim.y*gridDim.y, then
//     a tree over threadIdx.y, and across blocks of gridDim.y when it is 8 or more;
//   otherwise (NCHW): one block of 512 threads per channel, a Welford state (or sum) per thread over its
//     share of N and H*W, then warp shuffles and a second warp over the warps' results.
import { channelLayout } from '../runtime/shape.js';

type Values = ArrayLike<number>;

const f = Math.fround;
const fma = (a: number, b: number, c: number) => f(a * b + c);

const MAX_BLOCK_SIZE = 512;
const WARP_SIZE = 32;
const ELEMENTS_PER_ITER = 4; // the channels-last kernels' PARALLEL_LOADS
const ELEMENTS_PER_THREAD = 16;
const OPTIMAL_TILE_W = 32;
const MAX_H_BLOCK = 128;

/** Per channel: the batch mean and the biased variance, as PyTorch's training forward computes them. */
export interface PytorchStatistics {
  readonly mean: Float32Array;
  readonly variance: Float32Array;
}

/** Per channel: grad_weight = sum(dy*(x - mean))*invstd and grad_bias = sum(dy), as PyTorch's backward. */
export interface PytorchParameterGradients {
  readonly dweight: Float32Array;
  readonly dbias: Float32Array;
}

export function pytorchStatistics(x: Values, shape: readonly number[], axis = 1): PytorchStatistics {
  const { batch, channels, spatial } = channelLayout(shape, axis);
  const mean = new Float32Array(channels);
  const variance = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const value = (n: number, s: number) => f(x[(n * channels + c) * spatial + s]!);
    const state = spatial === 1 ? channelsLastWelford(batch, channels, (m) => value(m, 0)) : contiguousWelford(batch, spatial, value);
    mean[c] = state.mean;
    variance[c] = f(state.m2n / state.n);
  }
  return { mean, variance };
}

/** `mean` and `invstd` are the forward's saved statistics (float32), as PyTorch's backward reads them. */
export function pytorchParameterGradients(
  dy: Values,
  x: Values,
  shape: readonly number[],
  axis: number,
  mean: Values,
  invstd: Values,
): PytorchParameterGradients {
  const { batch, channels, spatial } = channelLayout(shape, axis);
  const dweight = new Float32Array(channels);
  const dbias = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const m = f(mean[c]!);
    const term = (n: number, s: number): Sums => {
      const i = (n * channels + c) * spatial + s;
      return [f(dy[i]!), f(f(x[i]!) - m)];
    };
    const [sumDy, sumDyXmu] = spatial === 1 ? channelsLastSums(batch, channels, (r) => term(r, 0)) : contiguousSums(batch, spatial, term);
    dweight[c] = f(sumDyXmu * f(invstd[c]!));
    dbias[c] = sumDy;
  }
  return { dweight, dbias };
}

interface Welford {
  n: number;
  mean: number;
  m2n: number;
}

const emptyWelford = (): Welford => ({ n: 0, mean: 0, m2n: 0 });

/** One value into a thread's Welford state: the channels-last kernels multiply by 1/count. */
function welfordReciprocal(s: Welford, v: number): void {
  s.n++;
  const delta0 = f(v - s.mean);
  s.mean = fma(delta0, f(1 / s.n), s.mean);
  s.m2n = f(s.m2n + f(delta0 * f(v - s.mean)));
}

/** welford_merge_element: b into a. */
function mergeWelford(a: Welford, b: Welford): Welford {
  const factor = f(1 / Math.max(1, a.n + b.n));
  const delta0 = f(a.mean - b.mean);
  return {
    n: a.n + b.n,
    mean: f(fma(a.mean, a.n, f(b.mean * b.n)) * factor),
    m2n: f(a.m2n + fma(f(f(f(delta0 * delta0) * b.n) * a.n), factor, b.m2n)),
  };
}

/** flexible_launch_configs(reduction = rows, stride = C, block, grid, coop_flag = true): blockDim.y and gridDim.y. */
function channelsLastLaunch(rows: number, channels: number): { blockY: number; gridY: number } {
  const blockX = Math.min(lastPow2(channels), OPTIMAL_TILE_W);
  const blockY = Math.min(lastPow2(Math.ceil(rows / ELEMENTS_PER_THREAD)), MAX_BLOCK_SIZE / blockX);
  let gridY = Math.min(Math.ceil(rows / (blockY * ELEMENTS_PER_THREAD)), MAX_H_BLOCK);
  if (gridY < 8) gridY = 1; // "not worth having a grid reduction"
  return { blockY, gridY };
}

/** The rows each thread (blockIdx.y, threadIdx.y) of the channels-last kernels folds into accumulator j. */
function channelsLastShares<T extends object>(
  rows: number,
  channels: number,
  fold: (accumulators: T[], j: number, row: number) => void,
  empty: () => T,
  merge: (a: T, b: T) => T,
): T {
  const { blockY, gridY } = channelsLastLaunch(rows, channels);
  const stride = blockY * gridY;
  const loopCount = 1 + Math.floor((rows - 1) / (stride * ELEMENTS_PER_ITER));
  const blockResults: T[] = [];
  for (let by = 0; by < gridY; by++) {
    const threads: T[] = [];
    for (let ty = 0; ty < blockY; ty++) {
      const accumulators = Array.from({ length: ELEMENTS_PER_ITER }, empty);
      let row = by * blockY + ty;
      for (let i = 0; i < loopCount; i++) {
        for (let j = 0; j < ELEMENTS_PER_ITER; j++, row += stride) if (row < rows) fold(accumulators, j, row);
      }
      let own: T = accumulators[0]!;
      for (let j = 1; j < ELEMENTS_PER_ITER; j++) own = merge(own, accumulators[j]!);
      threads.push(own);
    }
    blockResults.push(verticalTree(threads, merge));
  }
  if (gridY === 1) return blockResults[0]!;
  // The last block to finish merges the blocks' results: thread y takes results y, y + blockDim.y, ...
  const threads = Array.from({ length: blockY }, (_, ty) => {
    let own = empty();
    for (let y = ty; y < gridY; y += blockY) own = merge(own, blockResults[y]!);
    return own;
  });
  return verticalTree(threads, merge);
}

function channelsLastWelford(rows: number, channels: number, value: (row: number) => number): Welford {
  return channelsLastShares<Welford>(rows, channels, (a, j, row) => welfordReciprocal(a[j]!, value(row)), emptyWelford, mergeWelford);
}

/** [sum(dy), sum(dy*(x - mean))]; a term is [dy, x - mean]. */
type Sums = readonly [number, number];

const addSums = (a: Sums, b: Sums): Sums => [f(a[0] + b[0]), f(a[1] + b[1])];

function channelsLastSums(rows: number, channels: number, term: (row: number) => Sums): Sums {
  return channelsLastShares<Sums>(
    rows,
    channels,
    (a, j, row) => {
      const [g, centered] = term(row);
      a[j] = [f(a[j]![0] + g), fma(g, centered, a[j]![1])];
    },
    () => [0, 0],
    addSums,
  );
}

/** welford_merge_block_vertical / merge_block_vertical: thread y merges thread y + offset, offsets halving. */
function verticalTree<T extends object>(threads: T[], merge: (a: T, b: T) => T): T {
  for (let offset = threads.length >> 1; offset > 0; offset >>= 1) {
    for (let y = 0; y < offset; y++) threads[y] = merge(threads[y]!, threads[y + offset]!);
  }
  return threads[0]!;
}

/** The NCHW kernels' block: getNumThreads(H*W) threads along H*W, the rest of 512 along N. */
function contiguousBlock(spatial: number): { tx: number; ty: number } {
  const tx = [32, 64, 128, 256].find((size) => spatial <= size) ?? MAX_BLOCK_SIZE;
  return { tx, ty: Math.max(1, MAX_BLOCK_SIZE / tx) };
}

/** Calls visit(thread, n, s) for each value in the order each thread of the block reads its share. */
function contiguousShares(batch: number, spatial: number, visit: (thread: number, n: number, s: number) => void): number {
  const { tx, ty } = contiguousBlock(spatial);
  for (let y = 0; y < ty; y++) {
    for (let xThread = 0; xThread < tx; xThread++) {
      for (let n = y; n < batch; n += ty) for (let s = xThread; s < spatial; s += tx) visit(xThread + y * tx, n, s);
    }
  }
  return tx * ty;
}

/** batch_norm_collect_statistics_kernel: Welford with a division per value, then two XOR-shuffle warp merges. */
function contiguousWelford(batch: number, spatial: number, value: (n: number, s: number) => number): Welford {
  const states: Welford[] = [];
  const threads = contiguousShares(batch, spatial, (t, n, s) => {
    const st = (states[t] ??= emptyWelford());
    const v = value(n, s);
    const d1 = f(v - st.mean);
    st.n++;
    st.mean = f(st.mean + f(d1 / st.n));
    st.m2n = fma(d1, f(v - st.mean), st.m2n);
  });
  const all = Array.from({ length: threads }, (_, t) => states[t] ?? emptyWelford());
  const warpResults: Welford[] = [];
  for (let w = 0; w < threads / WARP_SIZE; w++) warpResults.push(xorWarp(all.slice(w * WARP_SIZE, (w + 1) * WARP_SIZE))[0]!);
  const second = Array.from({ length: WARP_SIZE }, (_, lane) => warpResults[lane] ?? emptyWelford());
  return xorWarp(second)[0]!;
}

/** The XOR-shuffle merge of a warp's Welford states: every lane merges with lane ^ 1, ^ 2, ... ^ 16. */
function xorWarp(lanes: Welford[]): Welford[] {
  let current = lanes;
  for (let bit = 1; bit < WARP_SIZE; bit <<= 1) {
    current = current.map((own, lane) => {
      const other = current[lane ^ bit]!;
      const factor = f(1 / Math.max(1, own.n + other.n));
      const d = f(own.mean - other.mean);
      return {
        n: own.n + other.n,
        m2n: f(own.m2n + fma(f(f(f(d * d) * own.n) * other.n), factor, other.m2n)),
        mean: f(fma(own.n, own.mean, f(other.n * other.mean)) * factor),
      };
    });
  }
  return current;
}

/** batch_norm_backward_kernel's reduce<Float2>: sums per thread, then a shuffle-down tree per warp, twice. */
function contiguousSums(batch: number, spatial: number, term: (n: number, s: number) => Sums): Sums {
  const sums: Sums[] = [];
  const threads = contiguousShares(batch, spatial, (t, n, s) => {
    const [g, centered] = term(n, s);
    const own = sums[t] ?? [0, 0];
    sums[t] = [f(own[0] + g), fma(g, centered, own[1])];
  });
  const all = Array.from({ length: threads }, (_, t) => sums[t] ?? ([0, 0] as Sums));
  const warpResults: Sums[] = [];
  for (let w = 0; w < threads / WARP_SIZE; w++) warpResults.push(downWarp(all.slice(w * WARP_SIZE, (w + 1) * WARP_SIZE)));
  return downWarp(Array.from({ length: WARP_SIZE }, (_, lane) => warpResults[lane] ?? ([0, 0] as Sums)));
}

/** WarpReduce with shfl_down: lane i adds lane i + offset, offsets 16, 8, 4, 2, 1; lane 0's result. */
function downWarp(lanes: Sums[]): Sums {
  const v = lanes.slice();
  for (let offset = WARP_SIZE >> 1; offset > 0; offset >>= 1) for (let i = 0; i < offset; i++) v[i] = addSums(v[i]!, v[i + offset]!);
  return v[0]!;
}

function lastPow2(n: number): number {
  return 2 ** Math.floor(Math.log2(Math.max(n, 1)));
}
