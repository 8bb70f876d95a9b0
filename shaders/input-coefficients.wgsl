// A channel's coefficients of dx (struct Coefficients is declared by the kernel), from sum(g),
// sum(g*(x - mean)) and the count they run over: the channel's own (backward-coefficients.wgsl), or the
// sums of every replica (global-coefficients.wgsl). The elementwise part is dx = k0 * (dy - (x - mean)*c1 - c2):
//   training:  dx = w*invstd * (dy - mean(dy) - xhat*mean(dy*xhat)),  xhat = (x - mean)*invstd
//   inference: dx = w*invstd * dy,  invstd from runningVar + eps
// Keeping x - mean (not x*c1 + c2') avoids cancelling two large terms when the mean is large, and
// scaling by k0 last keeps every coefficient near the scale of dy: with a spread of 1e19, k0*invstd^2
// would underflow to 0 where c1 = invstd*(invstd*mean(dy*(x - mean))) stays normal.
// `forward` is what the ReLU mask needs: the forward's (scale, shift) where it is recomputed from x
// (maskAffine, relu-mask.wgsl).
fn inputCoefficients(c: u32, sumG: f32, sumCentered: f32, count: f32, forward: vec2<f32>) -> Coefficients {
  let m = mean[c];
  let invstd = spreadInvstd(c);
  let w = select(1.0, weight[c], hasFlag(params.flags, FLAG_HAS_WEIGHT));
  var c1 = 0.0;
  var c2 = 0.0;
  if (hasFlag(params.flags, FLAG_TRAINING)) {
    c1 = invstd * (invstd * (sumCentered / count));
    c2 = sumG / count;
  }
  return Coefficients(vec4<f32>(w * invstd, c1, c2, m), forward);
}
