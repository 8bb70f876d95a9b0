// An invocation's next FOLD_ELEMS positions of its slice (slice-statistics.wgsl) with a mask
// (position-mask.wgsl): the values of the kept ones are packed to the front and folded as a block of
// their count (scalar Elems), and a block the mask empties adds nothing. The slice's count is what its
// invocations kept, summed over the workgroup (exact: integers), for the workgroup's merge.
fn foldSliceBlock(walk: ptr<function, SliceWalk>, state: ptr<function, Welford>, pivot: f32) {
  var values: array<Elem, FOLD_ELEMS>;
  var count = 0u;
  for (var j = 0u; j < FOLD_ELEMS; j++) {
    if ((*walk).k < (*walk).end && positionKept((*walk).k)) {
      values[count] = loadX(walkIndex(*walk));
      count++;
    }
    advance(walk);
  }
  if (count > 0u) { foldElems(state, values, count, pivot); }
}

fn sliceCount(walk: SliceWalk, state: Welford, lid: u32) -> f32 { return workgroupSum(vec4<f32>(state.count, 0.0, 0.0, 0.0), lid).x; }
