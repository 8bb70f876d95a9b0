// How an invocation of a reduction workgroup walks its slice of a channel. Channel c is runs of `spatial`
// elements at (n*C + c)*spatial; a slice is the positions [start, end) of the channel's positions in the
// window (channelPositions, params.wgsl; a slice past them is empty), and invocation lid takes every
// WORKGROUP_SIZE-th of them, tracking its position as (n, s) so that no element costs a division.
struct SliceWalk {
  c: u32,
  slice: u32,
  start: u32,
  end: u32,
  k: u32, // position among the channel's elements
  n: u32,
  s: u32,
}

// Workgroup `group` (< channels * slices) reduces slice group % slices of channel group / slices.
fn beginWalk(group: u32, lid: u32) -> SliceWalk {
  let c = group / params.slices;
  let slice = group % params.slices;
  let positions = channelPositions(c);
  let start = min(positions.x + slice * params.sliceLen, positions.y);
  let end = min(start + params.sliceLen, positions.y);
  let k = start + lid;
  let n = k / params.spatial;
  return SliceWalk(c, slice, start, end, k, n, k - n * params.spatial);
}

// Index of the walk's element in the bound window of x (or dy).
fn walkIndex(w: SliceWalk) -> u32 {
  return positionIndex(w.c, w.n, w.s);
}

fn advance(w: ptr<function, SliceWalk>) {
  (*w).k += WORKGROUP_SIZE;
  (*w).s += WORKGROUP_SIZE;
  if ((*w).s >= params.spatial) {
    let runs = (*w).s / params.spatial;
    (*w).n += runs;
    (*w).s -= runs * params.spatial;
  }
}

