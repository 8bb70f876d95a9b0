// A channel's mean from its merged Partial (declared by the kernel): pivot + sum/count, the quotient taken
// with its remainder and added to the pivot without losing it: rounded once, where the mean nearly cancels
// the pivot too. The training forward's (channel-statistics.wgsl) and batchNormStats' (moments.wgsl).
fn channelMean(stats: Partial) -> f32 {
  let s = stats.state;
  let quotient = dividedBy(s.sum, s.sumLo, s.count);
  let mean = twoSum(stats.pivot, quotient.x);
  return mean.x + fence(mean.y + quotient.y);
}
