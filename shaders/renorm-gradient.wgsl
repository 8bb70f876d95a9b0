// The gradient of batch renormalization's gamma, one invocation per channel. The training backward ran with
// the renormalized weight r*gamma, so its dweight is sum(dy*xhat) and its dbias sum(dy); y's derivative in
// gamma is r*xhat + d (r and d constants, Keras's stop_gradient), so dgamma = r*dweight + d*dbias, written
// over dweight. Two f32 products and a sum: three roundings at the size of the terms.

// Bindings, declared from their record in src/engine/kernels.ts: params, r, d, dbias, dweight.

@compute @workgroup_size(FINALIZE_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = linearGroup(wid, params.finalizeGridX) * FINALIZE_SIZE + lid;
  if (c >= params.channels) { return; }
  dweight[c] = r[c] * dweight[c] + d[c] * dbias[c];
}
