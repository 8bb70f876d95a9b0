// A row lane's next FOLD_ELEMS positions (rows-statistics.wgsl) with a mask (position-mask.wgsl): the
// values of the kept ones are packed to the front and folded as a block of their count (scalar Elems),
// and a block the mask empties adds nothing.
fn foldRowsBlock(walk: RowsWalk, cursor: ptr<function, RowsCursor>, state: ptr<function, Welford>, pivot: f32) {
  var values: array<Elem, FOLD_ELEMS>;
  var count = 0u;
  for (var j = 0u; j < FOLD_ELEMS; j++) {
    if ((*cursor).k < walk.end && positionKept((*cursor).k)) {
      values[count] = loadX(rowsIndex(walk, *cursor));
      count++;
    }
    advanceRows(walk, cursor);
  }
  if (count > 0u) { foldElems(state, values, count, pivot); }
}
