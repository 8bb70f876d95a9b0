// Pass 3: y = x * scale[c] + shift[c], one Elem per invocation.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<Elem>;
@group(0) @binding(2) var<storage, read> scaleShift: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<Elem>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linearGroup(wid, params.applyGridX) * WORKGROUP_SIZE + lid;
  if (i >= params.total) { return; }
  let c = (i / params.spatial) % params.channels;
  let k = scaleShift[c];
  y[params.base + i] = x[params.base + i] * k.x + k.y;
}
