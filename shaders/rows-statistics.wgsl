// A rows-kernel workgroup's statistics of one block of rows (rows-walk.wgsl): each row lane keeps a
// Welford state (welford.wgsl) of its channel's values shifted by the channel's pivot (pivot.wgsl), and
// row lane 0 merges the lanes into a Partial (declared by the kernel). Call it from every invocation
// (it has a barrier); its result is the channel's on row lane 0 only.
var<workgroup> laneStates: array<Welford, WORKGROUP_SIZE>;

fn reduceRows(walk: RowsWalk, lid: u32) -> Partial {
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
  if (walk.rowLane == 0u) {
    for (var r = 1u; r < walk.rowLanes; r++) { state = welfordMerge(state, laneStates[lid + r * CHANNEL_LANES]); }
  }
  return Partial(state.count, state.mean, state.variance, pivot);
}
