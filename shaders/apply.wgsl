// Pass 3: y = x * scale[c] + shift[c], one Elem per invocation.

// Bindings, declared from their record in src/kernels.ts: params, x, scaleShift, y.

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linearGroup(wid, params.applyGridX) * WORKGROUP_SIZE + lid;
  if (i >= params.total) { return; }
  let c = (i / params.spatial) % params.channels;
  let k = scaleShift[c];
  y[params.base + i] = x[params.base + i] * k.x + k.y;
}
