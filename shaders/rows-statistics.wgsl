// A rows-kernel workgroup's statistics of one block (rows-walk.wgsl): each row lane walks its share of
// the block's values of its channel, loading FOLD_ELEMS at a time and folding them (rows-block*.wgsl,
// fold-*.wgsl: every value, or those a mask keeps) into a Welford state (welford.wgsl) of values shifted by the channel's pivot (pivot.wgsl), and row lane 0 merges the
// lanes into a Partial (declared by the kernel). Call it from every invocation (it has a barrier); its
// result is the channel's on row lane 0 only.
var<workgroup> laneStates: array<Welford, WORKGROUP_SIZE>;

fn reduceRows(walk: RowsWalk, lid: u32) -> Partial {
  var state = EMPTY_WELFORD;
  var pivot = 0.0;
  if (walk.c < params.channels) {
    pivot = statisticsPivot(walk.c);
    var cursor = firstRowsCursor(walk);
    while (cursor.k < walk.end) { foldRowsBlock(walk, &cursor, &state, pivot); }
    state = foldResult(state);
  }
  laneStates[lid] = state;
  workgroupBarrier();
  if (walk.rowLane == 0u) {
    for (var r = 1u; r < ROW_LANES; r++) { state = welfordMerge(state, laneStates[lid + r * CHANNEL_LANES], vec2<f32>(0.0)); }
  }
  return Partial(state, pivot);
}
