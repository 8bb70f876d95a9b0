import { describe, expect, it } from 'vitest';
import { planChunks } from '../../src/engine/chunking.js';

describe('planChunks', () => {
  it('keeps a tensor that fits in one binding whole', () => {
    expect(planChunks({ batch: 32, channels: 64, spatial: 12544 }, 128 * 2 ** 20, 256)).toEqual([
      { batchStart: 0, batchCount: 32, bindOffset: 0, bindSize: 32 * 64 * 12544 * 4, baseBytes: 0 },
    ]);
  });

  it.each([
    [{ batch: 40, channels: 64, spatial: 128 * 128 }, 128 * 2 ** 20],
    [{ batch: 7, channels: 3, spatial: 5 }, 400], // unaligned samples: windows start between offsets
    [{ batch: 100, channels: 1, spatial: 1 }, 260],
    [{ batch: 9, channels: 5, spatial: 12 }, 1000],
  ])('covers %j in aligned windows of at most %i bytes', (layout, maxBytes) => {
    const chunks = planChunks(layout, maxBytes, 256);
    const sampleBytes = layout.channels * layout.spatial * 4;
    let next = 0;
    for (const c of chunks) {
      expect(c.batchStart).toBe(next);
      expect(c.bindOffset % 256).toBe(0);
      expect(c.bindOffset + c.baseBytes).toBe(c.batchStart * sampleBytes);
      expect(c.baseBytes).toBeLessThan(256);
      if (c.batchStart + c.batchCount < layout.batch) expect(c.bindSize + sampleBytes).toBeGreaterThan(maxBytes); // as long as fits
      expect(c.bindSize).toBe(c.baseBytes + c.batchCount * sampleBytes);
      expect(c.bindSize).toBeLessThanOrEqual(maxBytes);
      next += c.batchCount;
    }
    expect(next).toBe(layout.batch);
    expect(chunks.length).toBeGreaterThan(1);
  });

  it('finds a plan whenever one exists: as an exhaustive search over window ends decides', () => {
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
    let refused = 0;
    for (const bytesPerValue of [2, 4]) {
      for (let values = 1; values <= 150; values++) {
        for (const maxBytes of [256, 260, 300, 512, 1000]) {
          for (const batch of [5, 30, 81]) {
            const layout = { batch, channels: values, spatial: 1 };
            const sampleBytes = values * bytesPerValue;
            if (batch * sampleBytes <= maxBytes) continue;
            const plan = () => planChunks(layout, maxBytes, 256, bytesPerValue);
            if (exists(batch, sampleBytes, maxBytes, 256)) {
              expect(plan, `${JSON.stringify(layout)} ${bytesPerValue} bytes a value, ${maxBytes}`).not.toThrow();
            } else {
              expect(plan).toThrow(RangeError);
              refused++;
            }
          }
        }
      }
    }
    expect(refused).toBeGreaterThan(0); // the grid has shapes that no plan can bind
  });

  it('names the sample that no aligned binding holds (f32 [30,3] channels-last in 256 bytes: sample 21 straddles byte 256)', () => {
    expect(() => planChunks({ batch: 30, channels: 3, spatial: 1 }, 256, 256)).toThrow(
      'when it starts 252 bytes past a 256-byte aligned offset (sample 21, bytes 252 to 264: no binding that starts at an aligned offset holds it whole)',
    );
  });

  it('says when one sample is larger than a binding', () => {
    expect(() => planChunks({ batch: 2, channels: 64, spatial: 1024 }, 65536, 256)).toThrow(
      'one sample of x (C*spatial = 64*1024 values, 262144 bytes) does not fit in one storage binding of 65536 bytes',
    );
  });
});

describe('planChunks with f16 values', () => {
  it('starts windows on 2-byte values and binds whole 4-byte words within the limit', () => {
    const layout = { batch: 40, channels: 3, spatial: 5 }; // 30-byte samples: windows start mid-word
    const chunks = planChunks(layout, 512, 256, 2);
    let next = 0;
    for (const c of chunks) {
      expect(c.bindOffset + c.baseBytes).toBe(c.batchStart * 30);
      expect(c.baseBytes % 2).toBe(0);
      expect(c.bindSize % 4).toBe(0);
      expect(c.bindSize).toBeGreaterThanOrEqual(c.baseBytes + c.batchCount * 30);
      expect(c.bindSize).toBeLessThanOrEqual(512);
      next += c.batchCount;
    }
    expect(next).toBe(40);
    expect(chunks.some((c) => c.baseBytes % 4 === 2)).toBe(true);
  });
});
