// The forward's normalization, y = x * scale[c] + shift[c], one Elem per invocation, then the residual z
// added (residual-add.wgsl) and a fused ReLU if asked for. In training the finalize has folded scale and shift (scale-shift-folded.wgsl); in
// inference this is the whole forward, computing them from the running statistics
// (scale-shift-running.wgsl): one dispatch, no reduction machinery.

// Bindings, declared from their record in src/engine/kernels.ts: params, x, y, and what channelScaleShift reads
// (and z with a residual).

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linearGroup(wid, params.applyGridX) * WORKGROUP_SIZE + lid;
  if (i >= params.total) { return; }
  let k = channelScaleShift(windowChannel(i));
  let at = params.base + i;
  storeY(at, activate(addResidual(at, loadX(at) * k.x + k.y)));
}
