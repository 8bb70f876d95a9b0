// What the backward's sums center x on (slice-gradient-sums.wgsl, rows-gradient-sums.wgsl): the sum of
// g*(x - mean) is taken as sum(g*(x - center)) - (mean - center)*sum(g) (backward-coefficients.wgsl),
// with the mean rounded to a power of two near spread/1024 as the center. The mean has digits below the
// spacing of x - mean, so x - mean would round nearly every term; x - center is exact for the bulk of x
// (x and the center on one grid, |x - center| < |x|), its terms stay as small, and mean - center is exact.
// The spread is the channel's own (resolvedVariance, spread.wgsl), not sqrt(var + eps): where the variance is far below
// eps, a grid of sqrt(eps)/1024 would put the center thousands of spreads from every x, and the terms and
// the correction would cancel to the data's size. A spread of 0 (a constant channel) leaves the center at
// the mean itself, so x - mean is exactly 0 and so is dweight, as PyTorch's.
fn gradientCenter(c: u32) -> f32 {
  let m = mean[c];
  let spread = sqrt(resolvedVariance(c));
  let grid = ldexp(1.0, frexp(spread).exp - 10);
  let steps = m / grid;
  // A grid it is on already (|steps| >= 2^24), or none (a spread of 0, Inf or NaN: frexp(0) is 0 * 2^0, so
  // the spread itself is tested), leaves the mean as it is.
  return select(m, round(steps) * grid, abs(steps) < 0x1p24f && spread > 0.0 && grid <= 0x1.fffffep+127f);
}
