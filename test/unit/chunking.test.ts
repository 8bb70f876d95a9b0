import { describe, expect, it } from 'vitest';
import { planChunks } from '../../src/chunking.js';

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
