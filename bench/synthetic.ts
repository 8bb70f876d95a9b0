// Seeded synthetic inputs: every channel gets its own mean and spread, so that normalization is visible
// (x's channels differ, y's all look alike) and the statistics kernels see more than zero-mean data.
import { channelLayout } from '../src/runtime/shape.js';

export interface SyntheticInput {
  readonly x: Float32Array;
  /** The mean and standard deviation each channel was drawn with. */
  readonly channelMean: Float64Array;
  readonly channelStd: Float64Array;
}

/** A fast seeded generator (mulberry32) of uniforms in [0, 1). */
export function seededUniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Normal samples (Box-Muller) with the given mean and standard deviation, as float32. */
export function gaussian(random: () => number, length: number, mean = 0, std = 1): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - random()));
    const t = 2 * Math.PI * random();
    out[i] = mean + std * r * Math.cos(t);
    if (i + 1 < length) out[i + 1] = mean + std * r * Math.sin(t);
  }
  return out;
}

// The sum of four uniforms, centered and scaled to unit variance: close enough to a normal for
// histograms, and fast enough for 4e7 values.
const IRWIN_HALL_SCALE = Math.sqrt(3);

export function syntheticInput(shape: readonly number[], seed: number): SyntheticInput {
  const { batch, channels, spatial } = channelLayout(shape);
  const random = seededUniform(seed);
  const channelMean = new Float64Array(channels);
  const channelStd = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    channelMean[c] = -4 + 8 * random();
    channelStd[c] = 0.25 + 2.75 * random();
  }
  const x = new Float32Array(batch * channels * spatial);
  for (let n = 0; n < batch; n++) {
    for (let c = 0; c < channels; c++) {
      const mean = channelMean[c]!;
      const std = channelStd[c]! * IRWIN_HALL_SCALE;
      for (let i = (n * channels + c) * spatial, end = i + spatial; i < end; i++) {
        x[i] = mean + std * (random() + random() + random() + random() - 2);
      }
    }
  }
  return { x, channelMean, channelStd };
}

/** Values with mean 0 and standard deviation 1 (an upstream gradient for the backward pass). */
export function unitNoise(length: number, seed: number): Float32Array {
  const random = seededUniform(seed);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = IRWIN_HALL_SCALE * (random() + random() + random() + random() - 2);
  return out;
}
