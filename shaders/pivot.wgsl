// Addressing one channel's values, and the pivot the statistics kernels shift them by: with a mean of
// 1e4 and unit spread, x - pivot is exact and the running means keep full precision. The pivot is the
// median of the channel's first, middle and last values in this window, so that one outlier cannot put
// it far from the bulk of the data (every value's deviation would then be rounded at the outlier's scale).

// Index in the bound window of element k (< batch * spatial) of channel c.
fn channelElemIndex(c: u32, k: u32) -> u32 {
  let n = k / params.spatial;
  return params.base + (n * params.channels + c) * params.spatial + (k - n * params.spatial);
}

fn median3(a: f32, b: f32, c: f32) -> f32 { return max(min(a, b), min(max(a, b), c)); }

// A non-finite median (Inf or NaN among the samples) falls back to 0: shifting by it would turn the
// channel's own Inf into Inf - Inf = NaN, where the mean of a channel holding one Inf is Inf.
fn channelPivot(c: u32) -> f32 {
  let last = params.batch * params.spatial - 1u;
  let pivot = median3(
    elemFirst(loadX(channelElemIndex(c, 0u))),
    elemFirst(loadX(channelElemIndex(c, last / 2u))),
    elemFirst(loadX(channelElemIndex(c, last))),
  );
  return select(0.0, pivot, abs(pivot) <= 0x1.fffffep+127f);
}
