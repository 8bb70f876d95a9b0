// Backward pass 1: per-channel partial sums (slice-gradient-sums.wgsl), read in place from x and dy as
// [outer, C, inner] with the forward statistics' slicing (one workgroup per (channel, slice) of each window).

struct Partial { sums: vec4<f32>, count: f32 } // compensated (sum g, sum g*(x - center)): two-sum.wgsl

// Bindings, declared from their record in src/engine/kernels.ts: params, x, dy, weight, bias, mean, spread, partials
// (with a residual: x, dy, y, mean, spread, partials; the mask reads y).

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let group = linearGroup(wid, params.reduceGridX);
  if (group >= params.channels * params.slices) { return; } // padding of a folded dispatch
  let sums = reduceGradientSlice(group, lid);
  if (lid == 0u) { partials[partialIndex(group / params.slices, group % params.slices)] = sums; }
}
