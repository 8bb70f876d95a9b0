// Pass 1 of training: per-channel partial statistics, read in place from x as [outer, C, inner] (NCHW:
// inner = H*W). Each channel is cut into `slices` slices of its N*spatial elements so that small-C
// tensors still fill the GPU; each workgroup reduces one slice (slice-walk.wgsl) to a Welford state
// (welford.wgsl) of values shifted by the channel's pivot (pivot.wgsl). Invocations merge whole Elems,
// so float32 never forms E[x^2] - E[x]^2.

struct Partial { count: f32, mean: f32, variance: f32, pivot: f32 } // mean relative to pivot; biased variance

// Bindings, declared from their record in src/kernels.ts: params, x, partials.

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let group = linearGroup(wid, params.reduceGridX);
  if (group >= params.channels * params.slices) { return; } // padding of a folded dispatch
  var walk = beginWalk(group, lid);
  let pivot = channelPivot(walk.c);
  var state = Welford(0.0, 0.0, 0.0);
  while (walk.k < walk.end) {
    welfordAdd(&state, loadX(walkIndex(walk)) - pivot);
    advance(&walk);
  }

  // Merge the invocations, each weighted by its share s_i of the slice: mean = sum(s_i * mean_i), and
  // variance = sum(s_i * (variance_i + (mean_i - mean)^2)), which is Chan's merge of all of them at once.
  let groupCount = f32(walk.end - walk.start) * f32(LANES);
  let share = state.count / groupCount;
  let groupMean = workgroupSum(share * state.mean, lid);
  let d = state.mean - groupMean;
  let groupVariance = workgroupSum(share * state.variance + (share * d) * d, lid); // (share * d) first: 0, not 0 * Inf
  if (lid == 0u) { partials[partialIndex(walk.c, walk.slice)] = Partial(groupCount, groupMean, groupVariance, pivot); }
}
