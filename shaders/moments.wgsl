// batchNormStats' pass 2, per channel (a workgroup or an invocation each: merge-*.wgsl): merges the
// channel's partials (Chan's formula, statistics-combine.wgsl) and writes its mean and biased variance,
// what a replica of SyncBatchNorm exchanges (the variance itself: no eps added, no invstd to invert back).

struct Partial { state: Welford, pivot: f32 } // the state's mean is relative to the pivot; biased variance

// Bindings, declared from their record in src/engine/kernels.ts: params, partials, mean, variance.

@compute @workgroup_size(FINALIZE_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = finalizeChannel(linearGroup(wid, params.finalizeGridX), lid);
  if (c >= params.channels) { return; }
  let stats = mergeChannelPartials(c, lid);
  if (!isChannelWriter(lid)) { return; }
  mean[c] = channelMean(stats);
  variance[c] = welfordVariance(stats.state);
}
