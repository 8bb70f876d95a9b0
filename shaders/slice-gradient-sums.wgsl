// One workgroup's sums over one slice of a channel (slice-walk.wgsl) of g and g*(x - center), g being dy
// masked where a fused ReLU clipped y (relu-mask.wgsl; relu-mask-stored.wgsl with a residual); every
// invocation gets the sums, as a Partial (declared by the kernel). The center (gradient-center.wgsl) stands for the mean (saveMean in training,
// runningMean in inference), which backward-coefficients.wgsl puts back once. Summing g*(x - center)
// rather than g*xhat keeps invstd out of the loop: the coefficients scale once, and x - center is exact.
// The sums are compensated, in each invocation lane by lane (elem-sums.wgsl, with accumulate-*.wgsl by
// the Gpu's numerics) and across the workgroup,
// so a long share loses nothing to its serial chain; and where fma is fused, each product is added with
// its rounding error too, as PyTorch's fused multiply-add does.
// Elements whose loads are in flight at once per invocation (two loads each, three with a stored mask),
// summed in the same order as one at a time (the same float32 result); see slice-statistics.wgsl.
const GRADIENT_PREFETCH = 2u;

fn reduceGradientSlice(group: u32, lid: u32) -> Partial {
  var walk = beginWalk(group, lid);
  let k = maskAffine(walk.c);
  let center = gradientCenter(walk.c);
  var sumG = ElemSum(Elem(0.0), Elem(0.0));
  var sumCentered = ElemSum(Elem(0.0), Elem(0.0));
  var productErrors = Elem(0.0);
  while (walk.k < walk.end) {
    var valid: array<bool, GRADIENT_PREFETCH>;
    var xs: array<Elem, GRADIENT_PREFETCH>;
    var dys: array<Elem, GRADIENT_PREFETCH>;
    var sources: array<Elem, GRADIENT_PREFETCH>;
    let first = walkIndex(walk);
    for (var j = 0u; j < GRADIENT_PREFETCH; j++) {
      valid[j] = walk.k < walk.end;
      let at = select(first, walkIndex(walk), valid[j]); // past the end: a harmless reload
      xs[j] = loadX(at);
      dys[j] = loadDy(at);
      sources[j] = maskSource(at, xs[j]);
      advance(&walk);
    }
    for (var j = 0u; j < GRADIENT_PREFETCH; j++) {
      if (!valid[j]) { continue; }
      let g = reluMask(dys[j], sources[j], k);
      elemSumAccumulate(&sumG, g);
      let centered = xs[j] - center;
      let product = elemFence(g * centered);
      elemSumAccumulate(&sumCentered, product);
      productErrors += fma(g, centered, -product);
    }
  }
  let count = f32(walk.end - walk.start) * f32(LANES);
  let ownG = elemSumTotal(sumG);
  let ownCentered = elemSumTotal(sumCentered) + vec2<f32>(0.0, elemSum(productErrors));
  return Partial(workgroupSum(vec4<f32>(ownG.x, ownCentered.x, ownG.y, ownCentered.y), lid), count);
}
