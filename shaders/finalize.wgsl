// Pass 2 of training, per channel (a workgroup or an invocation each: merge-*.wgsl): merges the
// channel's partials (Chan's formula), writes saveMean/saveInvstd, updates the running statistics
// (channel-statistics.wgsl) and folds normalization, weight and bias into y = x*scale + shift.

struct Partial { state: Welford, pivot: f32 } // the state's mean is relative to the pivot; biased variance

// Bindings, declared from their record in src/engine/kernels.ts: params, partials, weight, bias, runningMean, runningVar, saveMean, saveInvstd, scaleShift.

@compute @workgroup_size(FINALIZE_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = finalizeChannel(linearGroup(wid, params.finalizeGridX), lid);
  if (c >= params.channels) { return; }
  let stats = mergeChannelPartials(c, lid);
  if (!isChannelWriter(lid)) { return; }
  let moments = channelMoments(stats);
  recordChannelStatistics(c, stats, moments);
  scaleShift[c] = forwardAffine(c, moments.x, moments.y);
}
