// One workgroup's sums over one slice of a channel (slice-walk.wgsl) of g and g*(x - mean), g being dy
// masked where a fused ReLU clipped y (relu-mask.wgsl); every invocation gets the sums, as a Partial
// (declared by the kernel). mean is saveMean in training and runningMean in inference. Summing
// g*(x - mean) rather than g*xhat keeps invstd out of the loop: the coefficients scale once, and x - mean
// is exact when x is close to a large mean.
fn reduceGradientSlice(group: u32, lid: u32) -> Partial {
  var walk = beginWalk(group, lid);
  let m = mean[walk.c];
  let k = forwardAffine(walk.c, m, spreadInvstd(walk.c));
  var sumDy = 0.0;
  var sumDyCentered = 0.0;
  while (walk.k < walk.end) {
    let at = walkIndex(walk);
    let xv = loadX(at);
    let g = reluMask(loadDy(at), xv, k);
    sumDy += elemSum(g);
    sumDyCentered += elemSum(g * (xv - m));
    advance(&walk);
  }
  let count = f32(walk.end - walk.start) * f32(LANES);
  return Partial(count, workgroupSum(sumDy, lid), workgroupSum(sumDyCentered, lid));
}
