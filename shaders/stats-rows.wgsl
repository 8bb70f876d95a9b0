// Pass 1 of training for tensors with few values after the channel axis (channels-last NHWC, where
// inner = 1; BatchNorm1d on (N, C)): consecutive invocations take consecutive channels of a row, so a
// warp's loads are one contiguous run of memory instead of 32 separate rows (rows-walk.wgsl). Each row
// lane keeps a Welford state (welford.wgsl) of values shifted by the channel's pivot (pivot.wgsl), and
// row lane 0 merges them into the (channel, block) partial.

struct Partial { count: f32, mean: f32, variance: f32, pivot: f32 } // mean relative to pivot; biased variance

// Bindings, declared from their record in src/kernels.ts: params, x, partials.

var<workgroup> laneStates: array<Welford, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let group = linearGroup(wid, params.reduceGridX);
  if (group >= rowsGroups()) { return; } // padding of a folded dispatch
  let walk = beginRows(group, lid);
  var state = Welford(0.0, 0.0, 0.0);
  var pivot = 0.0;
  if (walk.c < params.channels) {
    pivot = channelPivot(walk.c);
    for (var n = walk.rowStart + walk.rowLane; n < walk.rowEnd; n += walk.rowLanes) {
      let base = params.base + (n * params.channels + walk.c) * params.spatial;
      for (var s = 0u; s < params.spatial; s++) { welfordAdd(&state, loadX(base + s) - pivot); }
    }
  }
  laneStates[lid] = state;
  workgroupBarrier();
  if (walk.rowLane == 0u && walk.c < params.channels) {
    for (var r = 1u; r < walk.rowLanes; r++) { state = welfordMerge(state, laneStates[lid + r * CHANNEL_LANES]); }
    partials[partialIndex(walk.c, walk.block)] = Partial(state.count, state.mean, state.variance, pivot);
  }
}
