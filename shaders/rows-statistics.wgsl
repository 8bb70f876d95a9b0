// A rows-kernel workgroup's statistics of one block of rows (rows-walk.wgsl): each row lane walks its
// rows' values of its channel, loading FOLD_ELEMS at a time and folding them (fold-*.wgsl) into a Welford
// state (welford.wgsl) of values shifted by the channel's pivot (pivot.wgsl), and row lane 0 merges the
// lanes into a Partial (declared by the kernel). Call it from every invocation (it has a barrier); its
// result is the channel's on row lane 0 only.
var<workgroup> laneStates: array<Welford, WORKGROUP_SIZE>;

fn reduceRows(walk: RowsWalk, lid: u32) -> Partial {
  var state = EMPTY_WELFORD;
  var pivot = 0.0;
  if (walk.c < params.channels) {
    pivot = statisticsPivot(walk.c);
    // The lane's values in order: rows n = rowStart + rowLane, + rowLanes, ...; in each, s = 0 .. spatial.
    var n = walk.rowStart + walk.rowLane;
    var s = 0u;
    while (n < walk.rowEnd) {
      var values: array<Elem, FOLD_ELEMS>;
      var count = 0u;
      let first = rowsIndex(walk, n, s);
      for (var j = 0u; j < FOLD_ELEMS; j++) {
        let valid = n < walk.rowEnd;
        values[j] = loadX(select(first, rowsIndex(walk, n, s), valid)); // past the end: a harmless reload
        count += select(0u, 1u, valid);
        s++;
        if (s == params.spatial) {
          s = 0u;
          n += walk.rowLanes;
        }
      }
      foldElems(&state, values, count, pivot);
    }
    state = foldResult(state);
  }
  laneStates[lid] = state;
  workgroupBarrier();
  if (walk.rowLane == 0u) {
    for (var r = 1u; r < walk.rowLanes; r++) { state = welfordMerge(state, laneStates[lid + r * CHANNEL_LANES], vec2<f32>(0.0)); }
  }
  return Partial(state, pivot);
}
