// A channel's training results from its merged Partial (declared by the kernel), shared by the
// finalize and the one-dispatch forward so both compute them with the same float32 operations.

// The batch mean and invstd = 1/sqrt(biased variance + eps) (the biased variance normalizes). The mean
// is pivot + sum/count, the quotient taken with its remainder and added to the pivot without losing it:
// rounded once, where the mean nearly cancels the pivot too. A sum that is not finite (an Inf among the
// values, or values near the float32 limit whose sum overflowed, where an Inf meeting an overflow of the
// other sign gives NaN) gives way to the state's mean, a weighted average of its blocks' means: Inf
// where the values hold one, as the float64 mean (NaN for both infinities), finite where their mean is.
fn channelMoments(stats: Partial) -> vec2<f32> {
  let s = stats.state;
  var quotient = dividedBy(s.sum, s.sumLo, s.count);
  if (!isFinite(s.sum)) { quotient = vec2<f32>(s.mean, select(0.0, s.meanLo, isFinite(s.mean))); }
  let mean = twoSum(stats.pivot, quotient.x);
  return vec2<f32>(mean.x + fence(mean.y + quotient.y), 1.0 / sqrt(welfordVariance(s) + params.eps));
}

// Writes saveMean and saveInvstd and blends the batch statistics into the running ones (one invocation
// per channel).
fn recordChannelStatistics(c: u32, stats: Partial, moments: vec2<f32>) {
  saveMean[c] = moments.x;
  saveInvstd[c] = moments.y;
  if (hasFlag(params.flags, FLAG_UPDATE_RUNNING)) {
    let m = params.momentum;
    runningMean[c] = (1.0 - m) * runningMean[c] + m * moments.x;
    // PyTorch blends in the unbiased variance; Keras 3 the biased one (FLAG_BIASED_RUNNING_VAR).
    let count = stats.state.count;
    let correction = select(count / (count - 1.0), 1.0, hasFlag(params.flags, FLAG_BIASED_RUNNING_VAR));
    runningVar[c] = (1.0 - m) * runningVar[c] + m * (welfordVariance(stats.state) * correction);
  }
}
