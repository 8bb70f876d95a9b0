// Pass 3: y = x * scale[c] + shift[c], one Elem per invocation, then a fused ReLU if asked for (NaN
// passes through, as torch.relu).

// Bindings, declared from their record in src/kernels.ts: params, x, scaleShift, y.

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linearGroup(wid, params.applyGridX) * WORKGROUP_SIZE + lid;
  if (i >= params.total) { return; }
  let c = (i / params.spatial) % params.channels;
  let k = scaleShift[c];
  let v = loadX(params.base + i) * k.x + k.y;
  storeY(params.base + i, select(v, select(Elem(0.0), v, !(v <= Elem(0.0))), hasFlag(params.flags, FLAG_RELU)));
}
