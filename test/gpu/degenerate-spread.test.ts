// The backward where a channel's spread is 0 or far below sqrt(eps): constant channels give dweight
// exactly 0, as PyTorch's (its xhat is exactly 0 there), in f32 and f16, NCHW and channels-last, on the
// one-dispatch and the three-pass plans; and a sweep with the variance far below eps (means 1e-6 to 1e-2,
// spreads 1e-9 to 1e-6) holds the stated bounds of dx, dweight and dbias (src/reference/tolerances.ts).
// Each backward differentiates a GPU training forward and reads its saveMean and saveInvstd, as a
// training step does; the float64 reference is fed the same statistics.
import { describe, expect, it } from 'vitest';
import { batchNorm, batchNormBackward, Tensor, type DType, type Gpu } from '../../src/index.js';
import { batchNormBackwardReference } from '../../src/reference.js';
import { channelLayout, numElements } from '../../src/runtime/shape.js';
import { gaussian, seededRandom, uniform } from '../support/random.js';
import { compareBackward } from '../support/tolerances.js';
import { inErrorScopes, testGpu } from './gpu-context.js';

interface Layout {
  readonly name: string;
  readonly shape: readonly number[];
  readonly axis: number;
}

// One shape a workgroup reaches whole (one dispatch on SwiftShader's plans) and one it does not (three passes
// on a GPU's plans), each NCHW and channels-last.
const LAYOUTS: readonly Layout[] = [
  { name: 'NCHW vec4', shape: [4, 3, 8, 8], axis: 1 },
  { name: 'NCHW scalar', shape: [5, 2, 3, 7], axis: 1 },
  { name: 'channels-last', shape: [4, 8, 8, 3], axis: -1 },
  { name: 'channels-last, long', shape: [64, 33, 5], axis: -1 },
];

/** f32 values as the tensor of `dtype` stores them (f16: rounded to half precision, exactly representable in f32). */
async function stored(gpu: Gpu, values: Float32Array, shape: readonly number[], dtype: DType): Promise<{ tensor: Tensor; values: Float32Array }> {
  const tensor = Tensor.fromArray(gpu, values, shape, { dtype });
  return { tensor, values: dtype === 'f32' ? values : await tensor.toArray() };
}

/** A GPU training forward, then its backward: what a training step computes, with the reference fed the forward's statistics. */
async function forwardBackward(gpu: Gpu, layout: Layout, dtype: DType, x: Float32Array, dy: Float32Array, weight: Float32Array, eps: number) {
  const { shape, axis } = layout;
  const { channels } = channelLayout(shape, axis);
  const xs = await stored(gpu, x, shape, dtype);
  const dys = await stored(gpu, dy, shape, dtype);
  const wT = Tensor.fromArray(gpu, weight, [channels]);
  const forward = batchNorm(gpu, xs.tensor, { training: true, eps, axis, weight: wT });
  const out = batchNormBackward(gpu, dys.tensor, xs.tensor, { training: true, eps, axis, weight: wT, saveMean: forward.saveMean, saveInvstd: forward.saveInvstd });
  const saveMean = await forward.saveMean.toArray();
  const saveInvstd = await forward.saveInvstd.toArray();
  const ref = batchNormBackwardReference(dys.values, xs.values, shape, { training: true, axis, weight, saveMean, saveInvstd });
  const destroy = () => {
    for (const t of [xs.tensor, dys.tensor, wT, forward.y, forward.saveMean, forward.saveInvstd, out.dx, out.dweight, out.dbias]) t?.destroy();
  };
  return { out, ref, x: xs.values, dy: dys.values, destroy };
}

const CONSTANTS = [0.3, -7.25, 1e-4, 1234.5, 0];

describe('constant channels: dweight exactly 0', () => {
  for (const dtype of ['f32', 'f16'] as const) {
    for (const plans of ['gpu', 'adapter'] as const) {
      it.each(LAYOUTS)(`$name $shape, ${dtype}, ${plans === 'gpu' ? "a GPU's plans" : "the adapter's plans"}`, async (layout) => {
        const gpu = await testGpu(true, undefined, plans);
        await inErrorScopes(gpu, async () => {
          const { channels, spatial, batch } = channelLayout(layout.shape, layout.axis);
          const size = numElements(layout.shape);
          const rnd = seededRandom(size + channels);
          const value = (c: number) => CONSTANTS[c % CONSTANTS.length]!;
          // Channel c of flat index i, in either layout.
          const channelOf = (i: number) => (layout.axis === 1 ? Math.floor(i / spatial) % channels : i % channels);
          expect(batch * spatial * channels).toBe(size);
          const x = Float32Array.from({ length: size }, (_, i) => value(channelOf(i)));
          const dy = gaussian(rnd, size, 0.5, 1);
          const weight = uniform(rnd, channels, 0.5, 2);
          for (const eps of [1e-5, 1e-3]) {
            const run = await forwardBackward(gpu, layout, dtype, x, dy, weight, eps);
            const dweight = await run.out.dweight!.toArray();
            for (let c = 0; c < channels; c++) expect(dweight[c], `channel ${c} (x = ${value(c)}), eps ${eps}`).toBe(0);
            // dx and dbias hold their bounds as everywhere.
            await compareBackward(`constant ${layout.name} ${dtype}`, run.out, run.ref, { dy: run.dy, x: run.x, shape: layout.shape, weight, training: true, axis: layout.axis, dtype });
            run.destroy();
          }
        });
      });
    }
  }
});

// Means 1e-6 to 1e-2 with spreads 1e-9 to 1e-6 and eps 1e-5 or 1e-3: var/eps from 1e-21 to 1e-7.
const SPREAD_CASES = [1e-6, 1e-4, 1e-2].flatMap((mean) => [1e-9, 1e-7, 1e-6].flatMap((spread) => [1e-5, 1e-3].map((eps) => ({ mean, spread, eps }))));

describe('variance far below eps: the stated bounds hold', () => {
  const worst = { dx: 0, dweight: 0, dbias: 0 };
  for (const layout of LAYOUTS) {
    it.each(SPREAD_CASES)(`${layout.name} ${JSON.stringify(layout.shape)}: mean $mean, spread $spread, eps $eps`, async ({ mean, spread, eps }) => {
      const gpu = await testGpu(true);
      await inErrorScopes(gpu, async () => {
        const { channels } = channelLayout(layout.shape, layout.axis);
        const size = numElements(layout.shape);
        const rnd = seededRandom(Math.round(-Math.log10(mean) * 100 - Math.log10(spread) * 10 - Math.log10(eps)));
        const x = gaussian(rnd, size, mean, spread);
        const dy = gaussian(rnd, size, 0.5, 1);
        const weight = uniform(rnd, channels, 0.5, 2);
        const run = await forwardBackward(gpu, layout, 'f32', x, dy, weight, eps);
        const ratios = await compareBackward(`mean ${mean} spread ${spread} eps ${eps}`, run.out, run.ref, { dy: run.dy, x: run.x, shape: layout.shape, weight, training: true, axis: layout.axis });
        worst.dx = Math.max(worst.dx, ratios.dx);
        worst.dweight = Math.max(worst.dweight, ratios.dweight);
        worst.dbias = Math.max(worst.dbias, ratios.dbias);
        run.destroy();
      });
    });
  }
  it('reports the worst error / tolerance', () => {
    console.log(`variance far below eps, worst error / tolerance: dx ${worst.dx.toFixed(3)}, dweight ${worst.dweight.toFixed(3)}, dbias ${worst.dbias.toFixed(3)}`);
    expect(worst.dweight).toBeGreaterThan(0);
  });
});
