// Compile-time: a module's type knows whether it has a weight and a bias, from the options' literal values,
// so that a training loop needs no `!` on weight, bias, dweight and dbias. `tsc --noEmit` (the first step of
// `npm test`) checks these; the functions are never called (they would need a device).
import { describe, expectTypeOf, it } from 'vitest';
import { BatchNorm, SyncBatchNorm, type Gpu, type SyncGroup, type Tensor } from '../../src/index.js';

function constructed(gpu: Gpu, group: SyncGroup, flag: boolean) {
  const plain = new BatchNorm(gpu, 8);
  expectTypeOf(plain).toEqualTypeOf<BatchNorm<true, true>>();
  expectTypeOf(plain.weight).toEqualTypeOf<Tensor>();
  expectTypeOf(plain.bias).toEqualTypeOf<Tensor>();
  expectTypeOf(plain.backward).returns.toHaveProperty('dweight').toEqualTypeOf<Tensor>();
  expectTypeOf(plain.backward).returns.toHaveProperty('dbias').toEqualTypeOf<Tensor>();
  expectTypeOf(new BatchNorm(gpu, 8, { eps: 1e-3, affine: true })).toEqualTypeOf<BatchNorm<true, true>>();

  const none = new BatchNorm(gpu, 8, { affine: false });
  expectTypeOf(none.weight).toEqualTypeOf<null>();
  expectTypeOf(none.backward).returns.toHaveProperty('dbias').toEqualTypeOf<null>();

  const runTime = new BatchNorm(gpu, 8, { affine: flag });
  expectTypeOf(runTime.weight).toEqualTypeOf<Tensor | null>();
  expectTypeOf(runTime.backward).returns.toHaveProperty('dweight').toEqualTypeOf<Tensor | null>();

  const keras = BatchNorm.keras(gpu, 8, { scale: false });
  expectTypeOf(keras).toEqualTypeOf<BatchNorm<false, true>>();
  expectTypeOf(keras.weight).toEqualTypeOf<null>();
  expectTypeOf(keras.bias).toEqualTypeOf<Tensor>();
  expectTypeOf(BatchNorm.keras(gpu, 8)).toEqualTypeOf<BatchNorm<true, true>>();

  // Where any module goes: BatchNorm<boolean, boolean> takes every one.
  expectTypeOf(none).toMatchTypeOf<BatchNorm<boolean, boolean>>();
  expectTypeOf(keras).toMatchTypeOf<BatchNorm<boolean, boolean>>();

  const sync = new SyncBatchNorm(gpu, 8, { group });
  expectTypeOf(sync.weight).toEqualTypeOf<Tensor>();
  expectTypeOf(sync.backward).returns.resolves.toHaveProperty('dweight').toEqualTypeOf<Tensor>();
  expectTypeOf(new SyncBatchNorm(gpu, 8, { group, affine: false }).bias).toEqualTypeOf<null>();
  expectTypeOf(SyncBatchNorm.keras(gpu, 8, { group, center: false })).toEqualTypeOf<SyncBatchNorm<true, false>>();
}

describe('module types', () => {
  it('know the weight and bias from the options (checked by tsc)', () => {
    expectTypeOf(constructed).toBeFunction();
  });
});
