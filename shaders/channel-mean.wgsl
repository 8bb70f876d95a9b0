// A channel's mean from its merged Partial (declared by the kernel): pivot + sum/count, the quotient taken
// with its remainder and added to the pivot without losing it: rounded once, where the mean nearly cancels
// the pivot too. A sum that is not finite (an Inf among the values, or values near the float32 limit whose
// sum overflowed, where an Inf meeting an overflow of the other sign gives NaN) gives way to the state's
// mean, a weighted average of its blocks' means: Inf where the values hold one, as the float64 mean (NaN
// for both infinities), finite where their mean is. The training forward's (channel-statistics.wgsl) and
// batchNormStats' (moments.wgsl).
fn channelMean(stats: Partial) -> f32 {
  let s = stats.state;
  if (s.count == 0.0) { return 0.0; } // a mask that keeps none of the values: Keras's mean 0 (and variance 0)
  var quotient = dividedBy(s.sum, s.sumLo, s.count);
  if (!isFinite(s.sum)) { quotient = vec2<f32>(s.mean, select(0.0, s.meanLo, isFinite(s.mean))); }
  let mean = twoSum(stats.pivot, quotient.x);
  return mean.x + fence(mean.y + quotient.y);
}
