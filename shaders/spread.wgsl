// What the backward kernels bind as `spread`: saveInvstd in training, runningVar in inference.

// The channel's invstd, 1/sqrt(var + eps).
fn spreadInvstd(c: u32) -> f32 {
  return select(1.0 / sqrt(spread[c] + params.eps), spread[c], hasFlag(params.flags, FLAG_TRAINING));
}

// The channel's variance as far as float32 resolves it: runningVar in inference; in training 1/invstd^2 - eps,
// which is noise below a few roundings of var + eps (invstd is within a few ulp): 0 there.
fn resolvedVariance(c: u32) -> f32 {
  if (!hasFlag(params.flags, FLAG_TRAINING)) { return spread[c]; }
  let invstd = spread[c];
  let variance = 1.0 / (invstd * invstd) - params.eps;
  return select(variance, 0.0, variance <= 0x1p-19f * params.eps);
}
