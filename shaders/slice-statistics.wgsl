// One workgroup's reduction of one slice of a channel to a Partial (declared by the kernel): each
// invocation walks its share of the slice (slice-walk.wgsl), loading FOLD_ELEMS Elems at a time and
// folding them (slice-block*.wgsl, fold-*.wgsl: every value, or those a mask keeps) into a Welford state (welford.wgsl) of values shifted by the channel's pivot
// (pivot.wgsl); the workgroup then merges the invocations. Every invocation gets the merged result.
// The loads are all issued before any is folded in, so the GPU overlaps their latencies; with one load
// per step an invocation would wait out each one.

fn reduceSlice(group: u32, lid: u32) -> Partial {
  var walk = beginWalk(group, lid);
  let pivot = statisticsPivot(walk.c);
  var state = EMPTY_WELFORD;
  while (walk.k < walk.end) { foldSliceBlock(&walk, &state, pivot); }
  state = foldResult(state);

  // Merge the invocations, each weighted by its share s_i of the slice: mean = sum(s_i * mean_i), and
  // variance = sum(s_i * (variance_i + (mean_i - mean)^2)), which is Chan's merge of all of them at once;
  // the sums of the values simply add. Every sum is kept with its rounding errors (workgroup-sum-*.wgsl).
  // The mean m0 = sum(s_i * mean_i), rounded, is then corrected by c = sum(s_i * (mean_i - m0)), taken
  // with the variance and rounded at its own small size. Shares rounded one by one would all round
  // alike: they are taken over a power of two above the slice's count (exact), and the sums divided by
  // what they add up to, the variance with its remainder (two-sum.wgsl).
  let groupCount = sliceCount(walk, state, lid); // every value of the slice, or those a mask keeps
  let scale = ldexp(1.0, frexp(groupCount).exp);
  let share = state.count / scale;
  let shares = groupCount / scale; // what the shares add up to, exactly
  let first = workgroupSum(vec4<f32>(share * state.mean, state.sum, share * state.meanLo, state.sumLo), lid);
  // The errors are no part of an infinite sum (an Inf among the values): they may be NaN there.
  let m0 = (first.x + select(0.0, first.z, isFinite(first.x))) / shares;
  let d = fence(state.mean - m0) + state.meanLo;
  // (share * d) first: 0 for an empty invocation, not 0 * Inf
  let second = workgroupSum(vec4<f32>(share * d, share * state.variance + (share * d) * d, 0.0, share * state.varianceLo), lid);
  let c = (second.x + second.z) / shares;
  // An infinite m0 (an Inf among the values) is the mean: corrections from Inf - Inf are NaN.
  let mean = select(twoSum(m0, c), vec2<f32>(m0, 0.0), !isFinite(m0));
  let variance = dividedBy(second.y, second.w, shares);
  // A variance that overflowed stays Inf (c*c may overflow with it: Inf - Inf).
  let centered = select(twoSum(variance.x, variance.y - c * c), vec2<f32>(variance.x, 0.0), !isFinite(variance.x));
  if (groupCount == 0.0) { return Partial(EMPTY_WELFORD, pivot); } // a slice the mask empties (its quotients are 0/0)
  return Partial(Welford(groupCount, mean.x, mean.y, first.y, first.w, centered.x, centered.y), pivot);
}
