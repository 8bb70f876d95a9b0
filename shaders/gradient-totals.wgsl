// A channel's gradient sums from its merged Partial (declared by the kernel), each rounded once: the
// backward's dweight and dbias (backward-coefficients.wgsl) and batchNormBackwardReduce's sums
// (backward-sums.wgsl).

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
