// The whole training forward in one dispatch, for tensors whose every channel is one slice of one window
// (a workgroup's reach: src/engine/dispatch.ts): a workgroup reduces its channel (slice-statistics.wgsl),
// records the statistics (channel-statistics.wgsl) and normalizes the same values while they are still
// in cache. It replaces statistics -> finalize -> apply, two dispatches and their barriers, which is
// most of the time of a small tensor on a GPU.

struct Partial { state: Welford, pivot: f32 } // the state's mean is relative to the pivot; biased variance

// Bindings, declared from their record in src/engine/kernels.ts: params, x, weight, bias, runningMean, runningVar, saveMean, saveInvstd, y
// (and z with a residual).

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = linearGroup(wid, params.reduceGridX); // one slice per channel
  if (c >= params.channels) { return; } // padding of a folded dispatch
  let stats = reduceSlice(c, lid);
  let moments = channelMoments(stats); // every invocation has the same merged stats
  if (lid == 0u) { recordChannelStatistics(c, stats, moments); }
  let k = forwardAffine(c, moments.x, moments.y);
  var walk = beginWalk(c, lid);
  while (walk.k < walk.end) {
    let i = walkIndex(walk);
    storeY(i, activate(addResidual(i, loadX(i) * k.x + k.y)));
    advance(&walk);
  }
}
