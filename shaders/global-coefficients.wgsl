// batchNormBackwardElemt's pass 1, one invocation per channel: the coefficients of dx
// (input-coefficients.wgsl) from the sums of batchNormBackwardReduce added over every replica and the
// replicas' total count; backward-apply.wgsl then computes dx with them. Every replica adds the same
// counts in the same order, so all of them divide by the same float32 total.

struct Coefficients { k: vec4<f32>, forward: vec2<f32> } // k = (k0, c1, c2, mean); forward = (scale, shift)

// Bindings, declared from their record in src/engine/kernels.ts: params, weight, bias, mean, spread, sumDy, sumDyXmu, counts, coefficients.
// mean: the global mean; spread: the global invstd; counts: each replica's count, [W].

@compute @workgroup_size(FINALIZE_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = linearGroup(wid, params.finalizeGridX) * FINALIZE_SIZE + lid;
  if (c >= params.channels) { return; }
  var count = 0.0;
  for (var w = 0u; w < arrayLength(&counts); w++) { count += counts[w]; }
  coefficients[c] = inputCoefficients(c, sumDy[c], sumDyXmu[c], count, forwardAffine(c, mean[c], spreadInvstd(c)));
}
