// Pass 2: one workgroup per channel. In training it merges the channel's partials (Chan's formula),
// writes saveMean/saveInvstd and updates the running statistics; in inference it reads the running
// statistics. Either way it folds normalization, weight and bias into y = x*scale + shift.

struct Partial { count: f32, mean: f32, variance: f32, pivot: f32 } // mean relative to pivot; biased variance

const FINALIZE_SIZE: u32 = 64u;

// Bindings, declared from their record in src/kernels.ts: params, partials, weight, bias, runningMean, runningVar, saveMean, saveInvstd, scaleShift.

var<workgroup> merged: array<Partial, FINALIZE_SIZE>;

fn chanMerge(a: Partial, b: Partial) -> Partial {
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
  let c = linearGroup(wid, params.finalizeGridX);
  if (c >= params.channels) { return; }
  let training = hasFlag(params.flags, FLAG_TRAINING);

  if (training) {
    var acc = Partial(0.0, 0.0, 0.0, 0.0);
    for (var i = lid; i < params.partialStride; i += FINALIZE_SIZE) {
      acc = chanMerge(acc, partials[c * params.partialStride + i]);
    }
    merged[lid] = acc;
    workgroupBarrier();
    for (var stride = FINALIZE_SIZE / 2u; stride > 0u; stride >>= 1u) {
      if (lid < stride) { merged[lid] = chanMerge(merged[lid], merged[lid + stride]); }
      workgroupBarrier();
    }
  }
  if (lid != 0u) { return; }

  var mean: f32;
  var invstd: f32;
  if (training) {
    let stats = merged[0];
    mean = stats.pivot + stats.mean;
    invstd = 1.0 / sqrt(stats.variance + params.eps); // the biased variance normalizes
    saveMean[c] = mean;
    saveInvstd[c] = invstd;
    if (hasFlag(params.flags, FLAG_UPDATE_RUNNING)) {
      let m = params.momentum;
      runningMean[c] = (1.0 - m) * runningMean[c] + m * mean;
      runningVar[c] = (1.0 - m) * runningVar[c] + m * (stats.variance * (stats.count / (stats.count - 1.0))); // unbiased
    }
  } else {
    mean = runningMean[c];
    invstd = 1.0 / sqrt(runningVar[c] + params.eps);
  }
  let w = select(1.0, weight[c], hasFlag(params.flags, FLAG_HAS_WEIGHT));
  let b = select(0.0, bias[c], hasFlag(params.flags, FLAG_HAS_BIAS));
  let scale = w * invstd;
  scaleShift[c] = vec2<f32>(scale, b - mean * scale);
}
