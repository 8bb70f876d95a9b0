// Backward pass 3: dx = k0 * (dy - (x - mean)*c1 - c2), one Elem per invocation. Inference has
// c1 = c2 = 0 and skips reading x, so it moves 8 bytes per element here instead of 12.

// Bindings, declared from their record in src/kernels.ts: params, x, dy, coefficients, dx.
// coefficients: (k0, c1, c2, mean)

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linearGroup(wid, params.applyGridX) * WORKGROUP_SIZE + lid;
  if (i >= params.total) { return; }
  let c = (i / params.spatial) % params.channels;
  let k = coefficients[c];
  let at = params.base + i;
  var g = dy[at];
  if (hasFlag(params.flags, FLAG_TRAINING)) { g -= (x[at] - k.w) * k.y + k.z; }
  dx[at] = g * k.x;
}
