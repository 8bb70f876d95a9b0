// A channel's backward results from its merged sums (struct Partial and struct Coefficients are declared
// by the kernel), shared by the backward finalize and the one-dispatch backward so both compute them
// with the same float32 operations. The elementwise part is dx = k0 * (dy - (x - mean)*c1 - c2):
//   training:  dx = w*invstd * (dy - mean(dy) - xhat*mean(dy*xhat)),  xhat = (x - mean)*invstd
//   inference: dx = w*invstd * dy,  invstd from runningVar + eps
// Keeping x - mean (not x*c1 + c2') avoids cancelling two large terms when the mean is large, and
// scaling by k0 last keeps every coefficient near the scale of dy: with a spread of 1e19, k0*invstd^2
// would underflow to 0 where c1 = invstd*(invstd*mean(dy*(x - mean))) stays normal.

// Whether the sums are needed: for training's coefficients, or for dweight and dbias.
fn needsGradientSums() -> bool {
  return hasFlag(params.flags, FLAG_TRAINING) || hasFlag(params.flags, FLAG_HAS_WEIGHT);
}

// (k0, c1, c2, mean), and `forward`, what the ReLU mask needs: the forward's (scale, shift) where it is
// recomputed from x (maskAffine, relu-mask.wgsl).
fn channelCoefficients(c: u32, sums: Partial, forward: vec2<f32>) -> Coefficients {
  let m = mean[c];
  let invstd = spreadInvstd(c);
  let w = select(1.0, weight[c], hasFlag(params.flags, FLAG_HAS_WEIGHT));
  var c1 = 0.0;
  var c2 = 0.0;
  if (hasFlag(params.flags, FLAG_TRAINING)) {
    let centered = sumDyCentered(c, sums);
    c1 = invstd * (invstd * ((centered.x + centered.y) / sums.count));
    c2 = compensatedTotal(sums.sums).x / sums.count;
  }
  return Coefficients(vec4<f32>(w * invstd, c1, c2, m), forward);
}

// sum(g*(x - mean)) as a compensated pair, from the sums' sum(g*(x - center)) and sum(g):
// - (mean - center)*sum(g), taken exactly (mean - center is exact: gradient-center.wgsl).
fn sumDyCentered(c: u32, sums: Partial) -> vec2<f32> {
  let offset = mean[c] - gradientCenter(c);
  let correction = twoProduct(offset, sums.sums.x);
  let difference = twoSum(sums.sums.y, -correction.x);
  return vec2<f32>(difference.x, difference.y + ((sums.sums.w - correction.y) - offset * sums.sums.z));
}

// dbias = sum(dy) and dweight = invstd * sum(dy*(x - mean)), when there is a weight (one invocation per
// channel), each rounded once: the compensated sum times invstd is taken exactly (two-sum.wgsl), rather
// than rounding the sum and then the product.
fn recordParameterGradients(c: u32, sums: Partial) {
  if (!hasFlag(params.flags, FLAG_HAS_WEIGHT)) { return; }
  let invstd = spreadInvstd(c);
  let centered = sumDyCentered(c, sums);
  let product = twoProduct(centered.x, invstd);
  dbias[c] = compensatedTotal(sums.sums).x;
  dweight[c] = product.x + fence(product.y + centered.y * invstd);
}
