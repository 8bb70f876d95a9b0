// How a rows-kernel workgroup splits its work (stats-rows.wgsl, backward-reduce-rows.wgsl): it covers
// CHANNEL_LANES consecutive channels and one block of `sliceLen` values of each (positions among the
// channel's values in the window, as a slice's: slice-walk.wgsl); invocation lid takes channel lane
// lid % CHANNEL_LANES (consecutive invocations, consecutive channels: coalesced loads where few values
// follow the channel) and row lane lid / CHANNEL_LANES, which takes every ROW_LANES-th value of the
// block. Row lanes walk values rather than rows, so that a channel of one row of 9 or 200 values is
// still shared by all of them.
override ROW_LANES: u32 = WORKGROUP_SIZE / CHANNEL_LANES;

struct RowsWalk {
  c: u32,
  block: u32,
  rowLane: u32,
  start: u32, // the block's positions [start, end)
  end: u32,
  stepRows: u32, // ROW_LANES positions on, as whole rows and the rest (no division per value)
  stepValues: u32,
}

// A row lane's place: position k of its channel, value s of row n.
struct RowsCursor { k: u32, n: u32, s: u32 }

// The walk of workgroup `group` (< rowsGroups()).
fn beginRows(group: u32, lid: u32) -> RowsWalk {
  let channelGroups = (params.channels + CHANNEL_LANES - 1u) / CHANNEL_LANES;
  let block = group / channelGroups;
  let c = (group % channelGroups) * CHANNEL_LANES + lid % CHANNEL_LANES;
  let positions = channelPositions(c);
  let start = min(positions.x + block * params.sliceLen, positions.y);
  return RowsWalk(
    c,
    block,
    lid / CHANNEL_LANES,
    start,
    min(start + params.sliceLen, positions.y),
    ROW_LANES / params.spatial,
    ROW_LANES % params.spatial,
  );
}

// The row lane's first position in its block.
fn firstRowsCursor(walk: RowsWalk) -> RowsCursor {
  let k = walk.start + walk.rowLane;
  let n = k / params.spatial;
  return RowsCursor(k, n, k - n * params.spatial);
}

// The row lane's next position, ROW_LANES on.
fn advanceRows(walk: RowsWalk, cursor: ptr<function, RowsCursor>) {
  (*cursor).k += ROW_LANES;
  (*cursor).n += walk.stepRows;
  (*cursor).s += walk.stepValues;
  if ((*cursor).s >= params.spatial) {
    (*cursor).s -= params.spatial;
    (*cursor).n += 1u;
  }
}

// Workgroups of a window: channel groups times blocks (more are the padding of a folded dispatch).
fn rowsGroups() -> u32 { return (params.channels + CHANNEL_LANES - 1u) / CHANNEL_LANES * params.slices; }

// Index in the bound window of the cursor's value of the walk's channel.
fn rowsIndex(walk: RowsWalk, cursor: RowsCursor) -> u32 { return positionIndex(walk.c, cursor.n, cursor.s); }
