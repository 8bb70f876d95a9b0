// Pass 2, per channel (a workgroup or an invocation each: merge-*.wgsl). In training it merges the
// channel's partials (Chan's formula), writes saveMean/saveInvstd and updates the running statistics; in
// inference it reads the running statistics. Either way it folds normalization, weight and bias into
// y = x*scale + shift.

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
  // Weighted averages (see stats.wgsl): finite wherever the merged variance is.
  return Partial(count, a.mean + delta * wb, wa * a.variance + wb * b.variance + (delta * wa) * (delta * wb), a.pivot);
}

@compute @workgroup_size(FINALIZE_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = finalizeChannel(linearGroup(wid, params.finalizeGridX), lid);
  if (c >= params.channels) { return; }
  let training = hasFlag(params.flags, FLAG_TRAINING);
  var stats = EMPTY_PARTIAL;
  if (training) { stats = mergeChannelPartials(c, lid); }
  if (!isChannelWriter(lid)) { return; }

  var mean: f32;
  var invstd: f32;
  if (training) {
    mean = stats.pivot + stats.mean;
    invstd = 1.0 / sqrt(stats.variance + params.eps); // the biased variance normalizes
    saveMean[c] = mean;
    saveInvstd[c] = invstd;
    if (hasFlag(params.flags, FLAG_UPDATE_RUNNING)) {
      let m = params.momentum;
      runningMean[c] = (1.0 - m) * runningMean[c] + m * mean;
      // PyTorch blends in the unbiased variance; Keras 3 the biased one (FLAG_BIASED_RUNNING_VAR).
      let correction = select(stats.count / (stats.count - 1.0), 1.0, hasFlag(params.flags, FLAG_BIASED_RUNNING_VAR));
      runningVar[c] = (1.0 - m) * runningVar[c] + m * (stats.variance * correction);
    }
  } else {
    mean = runningMean[c];
    invstd = 1.0 / sqrt(runningVar[c] + params.eps);
  }
  scaleShift[c] = forwardAffine(c, mean, invstd);
}
