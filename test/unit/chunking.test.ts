import { describe, expect, it } from 'vitest';
import { planChunks } from '../../src/engine/chunking.js';

// Windows tile x in order, each bound at an aligned offset within maxBytes; returns them. (One expect per
// call: the exhaustive test below checks thousands of plans.)
const checkTiling = (layout: { batch: number; channels: number; spatial: number }, maxBytes: number, bytesPerValue = 4) => {
  const chunks = planChunks(layout, maxBytes, 256, bytesPerValue);
  let next = 0;
  const wrong = chunks.filter((c) => {
    const ok =
      c.start === next &&
      c.count > 0 &&
      c.bindOffset % 256 === 0 &&
      c.bindOffset + c.baseBytes === c.start * bytesPerValue &&
      c.baseBytes < 256 &&
      c.bindSize === Math.ceil((c.baseBytes + c.count * bytesPerValue) / 4) * 4 &&
      c.bindSize <= maxBytes;
    next += c.count;
    return !ok;
  });
  expect({ wrong, covered: next }, `${JSON.stringify(layout)}, ${bytesPerValue} bytes a value, ${maxBytes}`).toEqual({
    wrong: [],
    covered: layout.batch * layout.channels * layout.spatial,
  });
  return chunks;
};

describe('planChunks', () => {
  it('keeps a tensor that fits in one binding whole', () => {
    expect(planChunks({ batch: 32, channels: 64, spatial: 12544 }, 128 * 2 ** 20, 256)).toEqual([
      { start: 0, count: 32 * 64 * 12544, bindOffset: 0, bindSize: 32 * 64 * 12544 * 4, baseBytes: 0 },
    ]);
  });

  it.each([
    [{ batch: 40, channels: 64, spatial: 128 * 128 }, 128 * 2 ** 20],
    [{ batch: 7, channels: 3, spatial: 5 }, 400], // unaligned samples: windows start between offsets
    [{ batch: 100, channels: 1, spatial: 1 }, 260],
    [{ batch: 9, channels: 5, spatial: 12 }, 1000],
  ])('covers %j in aligned windows of whole samples of at most %i bytes, each as long as fits', (layout, maxBytes) => {
    const chunks = checkTiling(layout, maxBytes);
    const sampleValues = layout.channels * layout.spatial;
    for (const c of chunks) {
      expect(c.start % sampleValues).toBe(0);
      expect(c.count % sampleValues).toBe(0);
      if (c.start + c.count < layout.batch * sampleValues) expect(c.bindSize + sampleValues * 4).toBeGreaterThan(maxBytes);
    }
    expect(chunks.length).toBeGreaterThan(1);
  });

  it('cuts samples only where no plan of whole samples exists: as an exhaustive search over window ends decides', () => {
    // Whether x can be cut into windows of whole samples, each bound at an aligned offset within maxBytes.
    const exists = (batch: number, sampleBytes: number, maxBytes: number, alignment: number): boolean => {
      const reaches = new Array<boolean>(batch + 1).fill(false);
      reaches[batch] = true;
      for (let s = batch - 1; s >= 0; s--) {
        const base = (s * sampleBytes) % alignment;
        for (let end = s + 1; end <= batch && base + (end - s) * sampleBytes <= maxBytes; end++) {
          if (reaches[end]) {
            reaches[s] = true;
            break;
          }
        }
      }
      return reaches[0]!;
    };
    let cut = 0;
    for (const bytesPerValue of [2, 4]) {
      for (let values = 1; values <= 150; values++) {
        for (const maxBytes of [256, 260, 300, 512, 1000]) {
          for (const batch of [5, 30, 81]) {
            const layout = { batch, channels: values, spatial: 1 };
            if (batch * values * bytesPerValue <= maxBytes) continue;
            const chunks = checkTiling(layout, maxBytes, bytesPerValue);
            const wholeSamples = chunks.every((c) => c.start % values === 0 && c.count % values === 0);
            expect(wholeSamples, `${JSON.stringify(layout)} ${bytesPerValue} bytes a value, ${maxBytes}`).toBe(exists(batch, values * bytesPerValue, maxBytes, 256));
            if (!wholeSamples) cut++;
          }
        }
      }
    }
    expect(cut).toBeGreaterThan(0); // the grid has shapes that no plan of whole samples can bind
  });

  it('cuts f32 [30,3] channels-last in 256 bytes, where sample 21 straddles byte 256, at the binding', () => {
    expect(checkTiling({ batch: 30, channels: 3, spatial: 1 }, 256)).toEqual([
      { start: 0, count: 64, bindOffset: 0, bindSize: 256, baseBytes: 0 },
      { start: 64, count: 26, bindOffset: 256, bindSize: 104, baseBytes: 0 },
    ]);
  });

  it('cuts a sample larger than a binding, at whole vec4s where runs are of a multiple of 4 values', () => {
    // [1,3,40,40] f32 in 1024 bytes: 256 values a window; f16 512.
    const chunks = checkTiling({ batch: 1, channels: 3, spatial: 1600 }, 1024);
    expect(chunks.map((c) => c.count)).toEqual([...new Array<number>(18).fill(256), 4800 - 18 * 256]);
    expect(checkTiling({ batch: 1, channels: 3, spatial: 1600 }, 1024, 2).map((c) => c.count)).toEqual([...new Array<number>(9).fill(512), 4800 - 9 * 512]);
    // 7 values to a run (scalar), windows from a value that starts mid-alignment (8-value samples).
    for (const c of checkTiling({ batch: 2, channels: 64, spatial: 7 }, 300)) expect(c.count).toBeGreaterThan(0);
    for (const c of checkTiling({ batch: 3, channels: 5, spatial: 100 }, 260, 2)) expect(c.start % 4).toBe(0);
  });
});

describe('planChunks with f16 values', () => {
  it('starts windows on 2-byte values and binds whole 4-byte words within the limit', () => {
    const layout = { batch: 40, channels: 3, spatial: 5 }; // 30-byte samples: windows start mid-word
    const chunks = checkTiling(layout, 512, 2);
    for (const c of chunks) expect(c.start % 15).toBe(0);
    expect(chunks.some((c) => c.baseBytes % 4 === 2)).toBe(true);
  });
});
