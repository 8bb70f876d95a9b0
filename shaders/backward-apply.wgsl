// Backward pass 3: dx (input-gradient.wgsl), and dz with a residual, one Elem per invocation.

// Bindings, declared from their record in src/engine/kernels.ts: params, x, dy, coefficients, dx (with a
// residual also y and dz).

struct Coefficients { k: vec4<f32>, forward: vec2<f32> } // k = (k0, c1, c2, mean); forward = (scale, shift)

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linearGroup(wid, params.applyGridX) * WORKGROUP_SIZE + lid;
  if (i >= params.total) { return; }
  let at = params.base + i;
  writeInputGradient(at, coefficients[windowChannel(i)]);
}
