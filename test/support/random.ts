// Seeded random numbers, so every failing case can be replayed.

/** The benchmark's seeded generator (mulberry32, floats in [0, 1)): one implementation for both. */
export { seededUniform as seededRandom } from '../../src/bench/synthetic.js';

export function randomInt(random: () => number, lo: number, hi: number): number {
  return lo + Math.floor(random() * (hi - lo + 1));
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

export function uniform(random: () => number, length: number, lo: number, hi: number): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = lo + (hi - lo) * random();
  return out;
}
