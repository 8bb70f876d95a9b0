// invstd from what the backward kernels bind as `spread`: saveInvstd in training, runningVar in inference.
fn spreadInvstd(c: u32) -> f32 {
  return select(1.0 / sqrt(spread[c] + params.eps), spread[c], hasFlag(params.flags, FLAG_TRAINING));
}
