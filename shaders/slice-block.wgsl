// An invocation's next FOLD_ELEMS Elems of its slice (slice-statistics.wgsl), loaded together and folded
// into its state; and the slice's count, every value of it.
fn foldSliceBlock(walk: ptr<function, SliceWalk>, state: ptr<function, Welford>, pivot: f32) {
  var values: array<Elem, FOLD_ELEMS>;
  var count = 0u;
  let first = walkIndex(*walk);
  for (var j = 0u; j < FOLD_ELEMS; j++) {
    let valid = (*walk).k < (*walk).end;
    values[j] = loadX(select(first, walkIndex(*walk), valid)); // past the end: a harmless reload
    count += select(0u, 1u, valid);
    advance(walk);
  }
  foldElems(state, values, count, pivot);
}

fn sliceCount(walk: SliceWalk, state: Welford, lid: u32) -> f32 { return f32(walk.end - walk.start) * f32(LANES); }
