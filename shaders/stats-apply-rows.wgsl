// The whole training forward in one dispatch for the rows plans (channels-last, BatchNorm1d, many small
// channels: src/engine/dispatch.ts reducesByRows), where one block covers each channel: row lane 0 of each
// channel lane merges the channel's statistics (rows-statistics.wgsl) and records them
// (channel-statistics.wgsl), and every lane then normalizes its share with the channel's scale and shift.

struct Partial { state: Welford, pivot: f32 } // the state's mean is relative to the pivot; biased variance

// Bindings, declared from their record in src/engine/kernels.ts: params, x, weight, bias, runningMean, runningVar, saveMean, saveInvstd, y
// (and z with a residual).

var<workgroup> laneScaleShift: array<vec2<f32>, CHANNEL_LANES>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let group = linearGroup(wid, params.reduceGridX);
  if (group >= rowsGroups()) { return; } // padding of a folded dispatch
  let walk = beginRows(group, lid);
  let stats = reduceRows(walk, lid);
  if (walk.rowLane == 0u && walk.c < params.channels) {
    let moments = channelMoments(stats);
    recordChannelStatistics(walk.c, stats, moments);
    laneScaleShift[lid] = forwardAffine(walk.c, moments.x, moments.y); // row lane 0: lid is the channel lane
  }
  workgroupBarrier();
  if (walk.c >= params.channels) { return; }
  let k = laneScaleShift[lid % CHANNEL_LANES];
  for (var cursor = firstRowsCursor(walk); cursor.k < walk.end; advanceRows(walk, &cursor)) {
    let at = rowsIndex(walk, cursor);
    storeY(at, activate(addResidual(at, loadX(at) * k.x + k.y)));
  }
}
