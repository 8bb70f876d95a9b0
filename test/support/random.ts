// Seeded random numbers, so every failing case can be replayed.

/** The benchmark's seeded generator (mulberry32, floats in [0, 1)) and normal samples: one implementation for both. */
export { gaussian, seededUniform as seededRandom } from '../../bench/synthetic.js';

export function randomInt(random: () => number, lo: number, hi: number): number {
  return lo + Math.floor(random() * (hi - lo + 1));
}

export function uniform(random: () => number, length: number, lo: number, hi: number): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = lo + (hi - lo) * random();
  return out;
}
