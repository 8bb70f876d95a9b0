// Backward pass 2, per channel (a workgroup or an invocation each: merge-*.wgsl): merges the channel's
// partial sums (of every window), writes dweight and dbias, and folds the rest into per-channel
// coefficients for the elementwise pass (backward-coefficients.wgsl).

struct Partial { sums: vec4<f32>, count: f32 } // compensated (sum g, sum g*(x - center)): two-sum.wgsl
struct Coefficients { k: vec4<f32>, forward: vec2<f32> }

// Bindings, declared from their record in src/engine/kernels.ts: params, partials, weight, bias, mean, spread, dweight, dbias, coefficients.
// mean: saveMean (training) or runningMean
// spread: saveInvstd (training) or runningVar

@compute @workgroup_size(FINALIZE_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = finalizeChannel(linearGroup(wid, params.finalizeGridX), lid);
  if (c >= params.channels) { return; }
  // Inference without a weight needs no sums, and the reduction pass did not run.
  var sums = EMPTY_PARTIAL;
  if (needsGradientSums()) { sums = mergeChannelPartials(c, lid); }
  if (!isChannelWriter(lid)) { return; }
  recordParameterGradients(c, sums);
  // The coefficients' count: the sums' own, or a mask's (all-positions.wgsl, masked-count.wgsl).
  sums.count = gradientCount(sums.count);
  coefficients[c] = channelCoefficients(c, sums, forwardAffine(c, mean[c], spreadInvstd(c)));
}
