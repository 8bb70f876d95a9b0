// One workgroup's reduction of one slice of a channel to a Partial (declared by the kernel): each
// invocation walks its share of the slice (slice-walk.wgsl) keeping a Welford state (welford.wgsl) of
// values shifted by the channel's pivot (pivot.wgsl); the workgroup then merges the invocations. Every
// invocation gets the merged result. Invocations merge whole Elems, so float32 never forms E[x^2] - E[x]^2.
// Loads in flight per invocation: the loop issues this many loads before it folds any of them in, in
// the same order as one at a time (the same float32 result), so the GPU overlaps their latencies; with
// one load per step an invocation would wait out each one.
const PREFETCH = 4u;

fn reduceSlice(group: u32, lid: u32) -> Partial {
  var walk = beginWalk(group, lid);
  let pivot = channelPivot(walk.c);
  var state = Welford(0.0, 0.0, 0.0);
  while (walk.k < walk.end) {
    var valid: array<bool, PREFETCH>;
    var values: array<Elem, PREFETCH>;
    let first = walkIndex(walk);
    for (var j = 0u; j < PREFETCH; j++) {
      valid[j] = walk.k < walk.end;
      values[j] = loadX(select(first, walkIndex(walk), valid[j])); // past the end: a harmless reload
      advance(&walk);
    }
    for (var j = 0u; j < PREFETCH; j++) {
      if (valid[j]) { welfordAdd(&state, values[j] - pivot); }
    }
  }

  // Merge the invocations, each weighted by its share s_i of the slice: mean = sum(s_i * mean_i), and
  // variance = sum(s_i * (variance_i + (mean_i - mean)^2)), which is Chan's merge of all of them at once.
  let groupCount = f32(walk.end - walk.start) * f32(LANES);
  let share = state.count / groupCount;
  let groupMean = workgroupSum(share * state.mean, lid);
  let d = state.mean - groupMean;
  let groupVariance = workgroupSum(share * state.variance + (share * d) * d, lid); // (share * d) first: 0, not 0 * Inf
  return Partial(groupCount, groupMean, groupVariance, pivot);
}
