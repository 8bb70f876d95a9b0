// The whole backward in one dispatch, for tensors whose every channel is one slice of one window (a
// workgroup's reach: src/engine/dispatch.ts): a workgroup sums its channel (slice-gradient-sums.wgsl), writes
// dweight and dbias, and computes dx from the same values while they are still in cache. It replaces
// reduce -> finalize -> apply, two dispatches and their barriers.

struct Partial { sums: vec4<f32>, count: f32 } // compensated (sum g, sum g*(x - center)): two-sum.wgsl
struct Coefficients { k: vec4<f32>, forward: vec2<f32> } // k = (k0, c1, c2, mean); forward = (scale, shift)

// Bindings, declared from their record in src/engine/kernels.ts: params, x, dy, weight, bias, mean, spread, dweight, dbias, dx
// (with a residual: y for the mask instead of bias, and dz).

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = linearGroup(wid, params.reduceGridX); // one slice per channel
  if (c >= params.channels) { return; } // padding of a folded dispatch
  var sums = Partial(vec4<f32>(0.0), 0.0);
  // Inference without a weight needs no sums (a uniform branch: every invocation takes the same way).
  if (needsGradientSums()) { sums = reduceGradientSlice(c, lid); }
  if (lid == 0u) { recordParameterGradients(c, sums); }
  let coefficients = channelCoefficients(c, sums, maskAffine(c)); // every invocation has the same sums
  var walk = beginWalk(c, lid);
  while (walk.k < walk.end) {
    let at = walkIndex(walk);
    writeInputGradient(at, coefficients);
    advance(&walk);
  }
}
