// Backward pass 2, per channel (a workgroup or an invocation each: merge-*.wgsl). Merges the channel's
// partial sums (of every window),
// writes dbias = sum(dy) and dweight = invstd * sum(dy*(x - mean)) when there is a weight, and folds
// the rest into per-channel coefficients for the elementwise pass: dx = k0 * (dy - (x - mean)*c1 - c2).
//   training:  dx = w*invstd * (dy - mean(dy) - xhat*mean(dy*xhat)),  xhat = (x - mean)*invstd
//   inference: dx = w*invstd * dy,  invstd from runningVar + eps
// Keeping x - mean (not x*c1 + c2') avoids cancelling two large terms when the mean is large, and
// scaling by k0 last keeps every coefficient near the scale of dy: with a spread of 1e19, k0*invstd^2
// would underflow to 0 where c1 = invstd*(invstd*mean(dy*(x - mean))) stays normal.

struct Partial { count: f32, sumDy: f32, sumDyCentered: f32 }

const EMPTY_PARTIAL = Partial(0.0, 0.0, 0.0);

// Bindings, declared from their record in src/kernels.ts: params, partials, weight, bias, mean, spread, dweight, dbias, coefficients.
// mean: saveMean (training) or runningMean
// spread: saveInvstd (training) or runningVar
// coefficients: (k0, c1, c2, mean) and the forward's (scale, shift) for the ReLU mask

struct Coefficients { k: vec4<f32>, forward: vec2<f32> }

fn combine(a: Partial, b: Partial) -> Partial {
  return Partial(a.count + b.count, a.sumDy + b.sumDy, a.sumDyCentered + b.sumDyCentered);
}

@compute @workgroup_size(FINALIZE_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = finalizeChannel(linearGroup(wid, params.finalizeGridX), lid);
  if (c >= params.channels) { return; }
  let training = hasFlag(params.flags, FLAG_TRAINING);
  let hasWeight = hasFlag(params.flags, FLAG_HAS_WEIGHT);
  // Inference without a weight needs no sums, and the reduction pass did not run.
  var sums = EMPTY_PARTIAL;
  if (training || hasWeight) { sums = mergeChannelPartials(c, lid); }
  if (!isChannelWriter(lid)) { return; }

  let m = mean[c];
  let invstd = spreadInvstd(c);
  let w = select(1.0, weight[c], hasWeight);
  var c1 = 0.0;
  var c2 = 0.0;
  if (training || hasWeight) {
    if (hasWeight) {
      dbias[c] = sums.sumDy;
      dweight[c] = sums.sumDyCentered * invstd;
    }
    if (training) {
      c1 = invstd * (invstd * (sums.sumDyCentered / sums.count));
      c2 = sums.sumDy / sums.count;
    }
  }
  coefficients[c] = Coefficients(vec4<f32>(w * invstd, c1, c2, m), forwardAffine(c, m, invstd));
}
