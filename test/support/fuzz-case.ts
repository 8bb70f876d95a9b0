// Random batch-norm problems for the fuzz test: each is fully determined by its seed, so a failure
// printed as "seed S" replays with `npm run fuzz -- --seed S --cases 1`.
import { roundToHalf } from '../../src/runtime/half.js';
import { channelLayout, numElements } from '../../src/runtime/shape.js';
import { gaussian, randomInt, seededRandom, uniform } from './random.js';

export interface FuzzCase {
  readonly seed: number;
  readonly shape: readonly number[];
  readonly x: Float32Array;
  readonly weight: Float32Array | null;
  readonly bias: Float32Array | null;
  readonly runningMean: Float32Array;
  readonly runningVar: Float32Array;
  readonly dy: Float32Array;
  readonly training: boolean;
  readonly momentum: number | null;
  readonly numBatchesTracked: number;
  readonly eps: number;
  /** The channel axis as the ops take it (1, -1 channels-last, or another valid axis, maybe negative). */
  readonly axis: number;
  /** The fused activation of the forward (and so of its backward). */
  readonly activation: 'relu' | null;
  /** Which batch variance a training forward blends into runningVar. */
  readonly runningVarEstimator: 'unbiased' | 'biased';
  /** Spread (standard deviation) and offset of x, for the messages. */
  readonly scale: number;
  readonly offset: number;
  /** Each channel's first value is an outlier far from the others (and so from the kernels' pivot). */
  readonly farFromPivot: boolean;
  /** The dtype of x, y, dy and dx; with 'f16', x and dy hold half-precision values. */
  readonly dtype: 'f32' | 'f16';
}

const MAX_ELEMENTS = 4096;

export function fuzzCase(seed: number): FuzzCase {
  const rnd = seededRandom(seed);
  let shape: number[];
  do {
    const rank = randomInt(rnd, 2, 5);
    const maxDim = [0, 0, 64, 24, 12, 7][rank]!;
    shape = Array.from({ length: rank }, () => randomInt(rnd, 1, maxDim));
  } while (numElements(shape) > MAX_ELEMENTS);
  const size = numElements(shape);
  const axis = drawAxis(rnd, shape.length);
  const { batch, channels, spatial } = channelLayout(shape, axis);
  const perChannel = batch * spatial;
  const training = perChannel > 1 && rnd() < 0.7; // training needs more than one value per channel
  // f16 cases keep x, y and dx inside half precision's range (65504) with room: spreads 0.1 .. 100,
  // offsets up to 10 spreads, outliers up to 1000 spreads.
  const dtype = rnd() < 0.2 ? 'f16' : 'f32';
  const half = dtype === 'f16';
  const scale = half ? 10 ** (rnd() * 3 - 1) : 10 ** (rnd() * 7 - 3); // f32: 1e-3 .. 1e4
  const offset = rnd() < 0.5 ? 0 : (rnd() - 0.5) * 20 * scale * (!half && rnd() < 0.3 ? 1000 : 1);
  const affine = rnd() < 0.6;
  let x = gaussian(rnd, size, offset, scale);
  const farFromPivot = rnd() < 0.15;
  // f16: outliers within 1000 spreads, so y (even against running statistics in inference) stays finite in half.
  if (farFromPivot) makePivotsFar(rnd, x, shape, axis, offset, scale, half ? Math.min(6e4, 1000 * scale) : 1e19);
  let dy = gaussian(rnd, size, 0, 10 ** (rnd() * 4 - 2));
  if (half) [x, dy] = [roundToHalf(x), roundToHalf(dy)];
  return {
    seed,
    shape,
    x,
    weight: affine ? uniform(rnd, channels, -2, 2) : null,
    bias: affine ? uniform(rnd, channels, -2, 2) : null,
    runningMean: uniform(rnd, channels, offset - scale, offset + scale),
    runningVar: uniform(rnd, channels, 0.25 * scale * scale, 4 * scale * scale),
    dy,
    training,
    // The GPU blends with a float32 momentum: draw one that float32 holds exactly, or the reference
    // blends with another factor (near m = 1, rounding m moves 1 - m by a relative 3e-8 / (1 - m)).
    momentum: rnd() < 0.2 ? null : Math.fround(rnd()),
    numBatchesTracked: randomInt(rnd, 1, 100),
    eps: rnd() < 0.2 ? 0 : 10 ** (rnd() * 6 - 8),
    axis,
    activation: rnd() < 0.3 ? 'relu' : null,
    runningVarEstimator: rnd() < 0.2 ? 'biased' : 'unbiased',
    scale,
    offset,
    farFromPivot,
    dtype,
  };
}

/**
 * The channel axis: 1 (PyTorch's (N, C, *)) in about half the cases, -1 (channels-last) in a third, and
 * otherwise another valid axis (0, or one between the channel and the last), written positive or negative.
 */
function drawAxis(rnd: () => number, rank: number): number {
  const pick = rnd();
  if (pick < 0.5) return 1;
  if (pick < 0.8) return -1;
  const others = Array.from({ length: rank }, (_, a) => a).filter((a) => a !== 1 && a !== rank - 1);
  const a = others[Math.floor(rnd() * others.length)]!;
  return rnd() < 0.5 ? a : a - rank;
}

/**
 * The kernels shift each channel by a pivot, the median of its first, middle and last values in memory
 * order. Make the first value (k = 0) an outlier, from 10 to about 1e19 spreads away: the median stays
 * with the bulk, so the sums, merges and finalize carry one huge deviation next to ordinary ones (where
 * a product such as 0 * delta^2 once gave NaN). The outlier stays where the channel's variance fits
 * float32 with room to spare, n * distance^2 < 1e37, and within `maxDistance`.
 *
 * In the (outer, C, inner) view of x around `axis`, element k of channel c is at
 * ((k / inner) * C + c) * inner + k % inner, so its first value is at c * inner for any axis.
 */
function makePivotsFar(
  rnd: () => number,
  x: Float32Array,
  shape: readonly number[],
  axis: number,
  offset: number,
  scale: number,
  maxDistance: number,
): void {
  const { batch, channels, spatial } = channelLayout(shape, axis);
  const perChannel = batch * spatial;
  const limit = Math.min(maxDistance, Math.sqrt(1e37 / perChannel));
  const lo = Math.log10(10 * scale);
  const hi = Math.log10(limit);
  for (let c = 0; c < channels; c++) {
    const distance = 10 ** (lo + rnd() * Math.max(0, hi - lo));
    x[c * spatial] = offset + (rnd() < 0.5 ? -distance : distance);
  }
}
