// What the backward's sums center x on (slice-gradient-sums.wgsl, rows-gradient-sums.wgsl): the sum of
// g*(x - mean) is taken as sum(g*(x - center)) - (mean - center)*sum(g) (backward-coefficients.wgsl),
// with the mean rounded to a power of two near spread/1024 as the center. The mean has digits below the
// spacing of x - mean, so x - mean would round nearly every term; x - center is exact for the bulk of x
// (x and the center on one grid, |x - center| < |x|), its terms stay as small, and mean - center is exact.
fn gradientCenter(c: u32) -> f32 {
  let m = mean[c];
  let grid = ldexp(1.0, frexp(1.0 / spreadInvstd(c)).exp - 10);
  let steps = m / grid;
  // A grid it is on already (|steps| >= 2^24), or none (a spread of 0, Inf or NaN), leaves the mean as it is.
  return select(m, round(steps) * grid, abs(steps) < 0x1p24f && grid > 0.0 && grid <= 0x1.fffffep+127f);
}
