// A row lane's next FOLD_ELEMS values (rows-statistics.wgsl), loaded together and folded into its state.
fn foldRowsBlock(walk: RowsWalk, cursor: ptr<function, RowsCursor>, state: ptr<function, Welford>, pivot: f32) {
  var values: array<Elem, FOLD_ELEMS>;
  var count = 0u;
  let first = rowsIndex(walk, *cursor);
  for (var j = 0u; j < FOLD_ELEMS; j++) {
    let valid = (*cursor).k < walk.end;
    values[j] = loadX(select(first, rowsIndex(walk, *cursor), valid)); // past the end: a harmless reload
    count += select(0u, 1u, valid);
    advanceRows(walk, cursor);
  }
  foldElems(state, values, count, pivot);
}
