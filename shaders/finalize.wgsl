// Pass 2 of training, per channel (a workgroup or an invocation each: merge-*.wgsl): merges the
// channel's partials (Chan's formula), writes saveMean/saveInvstd, updates the running statistics
// (channel-statistics.wgsl) and folds normalization, weight and bias into y = x*scale + shift.

struct Partial { count: f32, mean: f32, variance: f32, pivot: f32 } // mean relative to pivot; biased variance

const EMPTY_PARTIAL = Partial(0.0, 0.0, 0.0, 0.0);

// Bindings, declared from their record in src/kernels.ts: params, partials, weight, bias, runningMean, runningVar, saveMean, saveInvstd, scaleShift.

fn combine(a: Partial, b: Partial) -> Partial {
  if (b.count == 0.0) { return a; } // also keeps a's pivot when b is an empty slot
  if (a.count == 0.0) { return b; }
  let count = a.count + b.count;
  let delta = (b.pivot - a.pivot) + (b.mean - a.mean); // windows of a chunked tensor have their own pivots
  let wa = a.count / count;
  let wb = b.count / count;
  // Weighted averages (see welford.wgsl): finite wherever the merged variance is.
  return Partial(count, a.mean + delta * wb, wa * a.variance + wb * b.variance + (delta * wa) * (delta * wb), a.pivot);
}

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
