// Addressing one channel's values, and the pivots the statistics kernels shift them by (each fold-*.wgsl
// picks one as statisticsPivot): with a mean of 1e4 and unit spread, x - pivot is exact and the running
// means keep full precision. Both start from the median of the channel's first, middle and last values
// in this window, so that one outlier cannot put the pivot far from the bulk of the data (every value's
// deviation would then be rounded at the outlier's scale). A non-finite median (Inf or NaN among the
// samples) falls back to 0: shifting by it would turn the channel's own Inf into Inf - Inf = NaN, where
// the mean of a channel holding one Inf is Inf. A window that holds none of the channel (it cuts samples:
// params.wgsl) reads nothing and gives 0; its partials are empty, and merges weigh them by their count 0.

// Index in the bound window of position k (among channelPositions(c)) of channel c.
fn channelElemIndex(c: u32, k: u32) -> u32 {
  let n = k / params.spatial;
  return positionIndex(c, n, k - n * params.spatial);
}

fn median3(a: f32, b: f32, c: f32) -> f32 { return max(min(a, b), min(max(a, b), c)); }

fn finiteOrZero(v: f32) -> f32 { return select(0.0, v, abs(v) <= 0x1.fffffep+127f); }

// The three samples: first, middle and last of the channel's values in the window. With a mask
// (position-mask.wgsl; all-positions.wgsl keeps every position) a sample at a position it leaves out gives
// way to one it keeps, or to 0 where it keeps none of them: padding far from the data (1e9, say) would
// make every kept x - pivot round at the padding's scale.
fn pivotSamples(c: u32) -> vec3<f32> {
  let positions = channelPositions(c);
  if (positions.x == positions.y) { return vec3<f32>(0.0); }
  let last = positions.y - 1u;
  let k = vec3<u32>(positions.x, positions.x + (last - positions.x) / 2u, last);
  let samples = vec3<f32>(
    elemFirst(loadX(channelElemIndex(c, k.x))),
    elemFirst(loadX(channelElemIndex(c, k.y))),
    elemFirst(loadX(channelElemIndex(c, k.z))),
  );
  let kept = vec3<bool>(positionKept(k.x), positionKept(k.y), positionKept(k.z));
  let fallback = select(select(select(0.0, samples.y, kept.y), samples.z, kept.z), samples.x, kept.x);
  return select(vec3<f32>(fallback), samples, kept);
}

// The median itself.
fn medianPivot(c: u32) -> f32 {
  let s = pivotSamples(c);
  return finiteOrZero(median3(s.x, s.y, s.z));
}

// The median made such that x - pivot is exact for nearly every x. A pivot with digits below the spacing
// of x - pivot rounds every x - pivot of one binade the same way (the rounding then depends only on the
// pivot's low bits): a bias of up to half an ulp per value that no sum averages out, 1e-8 of the spread
// in the mean of a channel of mean 0. The gap, the median's distance to the nearer other sample,
// estimates the spread (one outlier cannot inflate it). A median within 1024 gaps of 0 gives 0: x - 0 is
// exact, and a mean that small needs no shift once blocks and merges carry their rounding errors
// (fold-block.wgsl, welford.wgsl). Any other is rounded to a multiple of a power of two near gap/1024:
// that moves it by nothing that matters, and x - pivot is then exact wherever |x - pivot| < |x| (x and
// the pivot on one grid), which holds for the bulk of a channel whose mean is 1024 spreads from 0.
fn exactShiftPivot(c: u32) -> f32 {
  let s = pivotSamples(c);
  let median = median3(s.x, s.y, s.z);
  let gap = min(median - min(min(s.x, s.y), s.z), max(max(s.x, s.y), s.z) - median);
  let grid = ldexp(1.0, frexp(gap).exp - 10);
  let steps = median / grid;
  // A gap of 0 (ties) leaves the median as it is, and so does a grid it is on already (|steps| >= 2^24).
  let rounded = select(median, round(steps) * grid, gap > 0.0 && abs(steps) < 0x1p24f);
  return finiteOrZero(select(rounded, 0.0, abs(median) <= 1024.0 * gap));
}
