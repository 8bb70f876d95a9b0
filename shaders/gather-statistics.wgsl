// batchNormGatherStats, one invocation per channel: merges the replicas' (count, mean, biased variance)
// of the channel as the finalize merges a channel's partials (statistics-combine.wgsl), each replica a
// partial whose pivot is its mean (its values' mean relative to the pivot is 0, their sum 0), so that
// Chan's merge takes the differences of the means and the shifted sums exactly (welford.wgsl); then
// records the global statistics as the training forward does (channel-statistics.wgsl): mean, invstd
// and the running statistics, the unbiased correction over the count of every replica. A replica with
// count 0 adds nothing. A replica whose mean is infinite makes the global mean infinite in any rank order,
// as the weighted average of the means (PyTorch's) and the single-device forward give.

struct Partial { state: Welford, pivot: f32 } // the state's mean is relative to the pivot; biased variance

// Bindings, declared from their record in src/engine/kernels.ts: params, counts, means, variances, runningMean, runningVar, saveMean, saveInvstd.
// means and variances are [W, C] (W replicas: the length of counts; C = params.channels).

@compute @workgroup_size(FINALIZE_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = linearGroup(wid, params.finalizeGridX) * FINALIZE_SIZE + lid;
  if (c >= params.channels) { return; }
  var stats = EMPTY_PARTIAL;
  for (var w = 0u; w < arrayLength(&counts); w++) {
    let at = w * params.channels + c;
    let replica = Partial(Welford(counts[w], 0.0, 0.0, 0.0, 0.0, variances[at], 0.0), means[at]);
    // The merge keeps its first partial's pivot: a finite one, where a replica has it, so that an infinite
    // mean comes out Inf (pivot + Inf), whatever the rank order, rather than NaN (Inf pivot - Inf).
    if (!isFinite(stats.pivot) && isFinite(replica.pivot) && replica.state.count > 0.0) {
      stats = combine(replica, stats);
    } else {
      stats = combine(stats, replica);
    }
  }
  recordChannelStatistics(c, stats, channelMoments(stats));
}
