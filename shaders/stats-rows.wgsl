// Pass 1 of training for tensors with few values after the channel axis (channels-last NHWC, where
// inner = 1; BatchNorm1d on (N, C)): consecutive invocations take consecutive channels of a row, so a
// warp's loads are one contiguous run of memory instead of 32 separate rows. A workgroup covers
// CHANNEL_LANES channels and one block of `sliceLen` outer rows; its WORKGROUP_SIZE / CHANNEL_LANES row
// lanes take every so many rows of the block, each keeping a Welford state (welford.wgsl) of values
// shifted by the channel's pivot (pivot.wgsl), and row lane 0 merges them into the (channel, block)
// partial.

struct Partial { count: f32, mean: f32, variance: f32, pivot: f32 } // mean relative to pivot; biased variance

// Bindings, declared from their record in src/kernels.ts: params, x, partials.

var<workgroup> laneStates: array<Welford, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let group = linearGroup(wid, params.reduceGridX);
  let channelGroups = (params.channels + CHANNEL_LANES - 1u) / CHANNEL_LANES;
  if (group >= channelGroups * params.slices) { return; } // padding of a folded dispatch
  let block = group / channelGroups;
  let c = (group % channelGroups) * CHANNEL_LANES + lid % CHANNEL_LANES;
  let rowLane = lid / CHANNEL_LANES;
  let rowLanes = WORKGROUP_SIZE / CHANNEL_LANES;
  var state = Welford(0.0, 0.0, 0.0);
  var pivot = 0.0;
  if (c < params.channels) {
    pivot = channelPivot(c);
    let rowEnd = min((block + 1u) * params.sliceLen, params.batch);
    for (var n = block * params.sliceLen + rowLane; n < rowEnd; n += rowLanes) {
      let base = params.base + (n * params.channels + c) * params.spatial;
      for (var s = 0u; s < params.spatial; s++) { welfordAdd(&state, loadX(base + s) - pivot); }
    }
  }
  laneStates[lid] = state;
  workgroupBarrier();
  if (rowLane == 0u && c < params.channels) {
    for (var r = 1u; r < rowLanes; r++) { state = welfordMerge(state, laneStates[lid + r * CHANNEL_LANES]); }
    partials[partialIndex(c, block)] = Partial(state.count, state.mean, state.variance, pivot);
  }
}
