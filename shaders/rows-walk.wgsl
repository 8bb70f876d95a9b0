// How a rows-kernel workgroup splits its work (stats-rows.wgsl, backward-reduce-rows.wgsl): it covers
// CHANNEL_LANES consecutive channels and one block of `sliceLen` outer rows; invocation lid takes channel
// lane lid % CHANNEL_LANES (consecutive invocations, consecutive channels: coalesced loads) and row lane
// lid / CHANNEL_LANES, which takes every rowLanes-th row of the block.
struct RowsWalk {
  c: u32,
  block: u32,
  rowLane: u32,
  rowLanes: u32,
  rowStart: u32,
  rowEnd: u32,
}

// The walk of workgroup `group` (< rowsGroups()).
fn beginRows(group: u32, lid: u32) -> RowsWalk {
  let channelGroups = (params.channels + CHANNEL_LANES - 1u) / CHANNEL_LANES;
  let block = group / channelGroups;
  let rowStart = block * params.sliceLen;
  return RowsWalk(
    (group % channelGroups) * CHANNEL_LANES + lid % CHANNEL_LANES,
    block,
    lid / CHANNEL_LANES,
    WORKGROUP_SIZE / CHANNEL_LANES,
    rowStart,
    min(rowStart + params.sliceLen, params.batch),
  );
}

// Workgroups of a window: channel groups times row blocks (more are the padding of a folded dispatch).
fn rowsGroups() -> u32 { return (params.channels + CHANNEL_LANES - 1u) / CHANNEL_LANES * params.slices; }

// Index in the bound window of value s of row n of the walk's channel.
fn rowsIndex(walk: RowsWalk, n: u32, s: u32) -> u32 { return params.base + (n * params.channels + walk.c) * params.spatial + s; }
