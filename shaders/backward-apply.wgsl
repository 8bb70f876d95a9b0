// Backward pass 3: dx = dy*k0 + (x - mean)*k1 + k2, one Elem per invocation. Inference has k1 = k2 = 0
// and skips reading x, so it moves 8 bytes per element here instead of 12.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<Elem>;
@group(0) @binding(2) var<storage, read> dy: array<Elem>;
@group(0) @binding(3) var<storage, read> coefficients: array<vec4<f32>>; // (k0, k1, k2, mean)
@group(0) @binding(4) var<storage, read_write> dx: array<Elem>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linearGroup(wid, params.applyGridX) * WORKGROUP_SIZE + lid;
  if (i >= params.total) { return; }
  let c = (i / params.spatial) % params.channels;
  let k = coefficients[c];
  let at = params.base + i;
  var g = dy[at] * k.x;
  if (hasFlag(params.flags, FLAG_TRAINING)) { g += (x[at] - k.w) * k.y + k.z; }
  dx[at] = g;
}
