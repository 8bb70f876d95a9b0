// A channel's training results from its merged Partial (declared by the kernel), shared by the
// finalize and the one-dispatch forward so both compute them with the same float32 operations.

// The batch mean (channel-mean.wgsl) and invstd = 1/sqrt(biased variance + eps) (the biased variance
// normalizes).
fn channelMoments(stats: Partial) -> vec2<f32> {
  return vec2<f32>(channelMean(stats), 1.0 / sqrt(welfordVariance(stats.state) + params.eps));
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
    // Below two values (a mask keeping one or none) the unbiased estimate is NaN, 0/0 as PyTorch's for one value.
    let correction = select(count / max(count - 1.0, 0.0), 1.0, hasFlag(params.flags, FLAG_BIASED_RUNNING_VAR));
    runningVar[c] = (1.0 - m) * runningVar[c] + m * (welfordVariance(stats.state) * correction);
  }
}
