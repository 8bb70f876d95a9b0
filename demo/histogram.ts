// Per-channel histograms of a NCHW tensor, for the before/after picture of batch norm.
import { channelLayout } from '../src/runtime/shape.js';

export interface Histogram {
  readonly channel: number;
  /** Bin centres and the fraction of the channel's values in each bin. */
  readonly points: readonly { x: number; y: number }[];
}

/** Histograms of `channels` over one shared range [lo, hi] (so the channels can be compared). */
export function channelHistograms(
  values: Float32Array,
  shape: readonly number[],
  channels: readonly number[],
  range: readonly [number, number],
  bins = 48,
): Histogram[] {
  const { batch, channels: channelCount, spatial } = channelLayout(shape);
  const [lo, hi] = range;
  const width = (hi - lo) / bins;
  return channels.map((channel) => {
    const counts = new Float64Array(bins);
    for (let n = 0; n < batch; n++) {
      for (let i = (n * channelCount + channel) * spatial, end = i + spatial; i < end; i++) {
        const bin = Math.floor((values[i]! - lo) / width);
        if (bin >= 0 && bin < bins) counts[bin]!++;
      }
    }
    const total = batch * spatial;
    return { channel, points: Array.from(counts, (count, b) => ({ x: lo + (b + 0.5) * width, y: count / total })) };
  });
}

/** The smallest and largest value over the given channels. */
export function channelRange(values: Float32Array, shape: readonly number[], channels: readonly number[]): [number, number] {
  const { batch, channels: channelCount, spatial } = channelLayout(shape);
  let lo = Infinity;
  let hi = -Infinity;
  for (const channel of channels) {
    for (let n = 0; n < batch; n++) {
      for (let i = (n * channelCount + channel) * spatial, end = i + spatial; i < end; i++) {
        const v = values[i]!;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
  }
  return lo < hi ? [lo, hi] : [lo - 1, lo + 1];
}
