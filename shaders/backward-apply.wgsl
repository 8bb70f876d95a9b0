// Backward pass 3: dx = k0 * (g - (x - mean)*c1 - c2), one Elem per invocation, g being dy masked where
// a fused ReLU clipped y. Inference has c1 = c2 = 0 and, without a ReLU, skips reading x, so it moves 8
// bytes per element here instead of 12.

// Bindings, declared from their record in src/kernels.ts: params, x, dy, coefficients, dx.

struct Coefficients { k: vec4<f32>, forward: vec2<f32> } // k = (k0, c1, c2, mean); forward = (scale, shift)

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linearGroup(wid, params.applyGridX) * WORKGROUP_SIZE + lid;
  if (i >= params.total) { return; }
  let c = (i / params.spatial) % params.channels;
  let k = coefficients[c].k;
  let at = params.base + i;
  var g = loadDy(at);
  let training = hasFlag(params.flags, FLAG_TRAINING);
  if (training || hasFlag(params.flags, FLAG_RELU)) {
    let xv = loadX(at);
    g = reluMask(g, xv, coefficients[c].forward);
    if (training) { g -= (xv - k.w) * k.y + k.z; }
  }
  storeDx(at, g * k.x);
}
