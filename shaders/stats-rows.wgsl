// Pass 1 of training for tensors with few values after the channel axis (channels-last NHWC, where
// inner = 1; BatchNorm1d on (N, C)), or many channels of few values each (src/engine/dispatch.ts
// reducesByRows): consecutive invocations take consecutive channels of a row, so a warp's loads are one
// contiguous run of memory instead of 32 separate rows, and a workgroup's fixed costs are shared by
// CHANNEL_LANES channels (rows-walk.wgsl); row lane 0 writes the (channel, block) partial
// (rows-statistics.wgsl).

struct Partial { state: Welford, pivot: f32 } // the state's mean is relative to the pivot; biased variance

// Bindings, declared from their record in src/engine/kernels.ts: params, x, partials.

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let group = linearGroup(wid, params.reduceGridX);
  if (group >= rowsGroups()) { return; } // padding of a folded dispatch
  let walk = beginRows(group, lid);
  let block = reduceRows(walk, lid);
  if (walk.rowLane == 0u && walk.c < params.channels) { partials[partialIndex(walk.c, walk.block)] = block; }
}
