// The forward's per-channel y = x*scale + shift, computed the same way (the same float32 operations on the
// same values) wherever it is needed: the forward finalize folds it, and the backward of a fused ReLU
// recomputes it to mask dy where y <= 0, rather than reading y back (x is read anyway).
fn forwardAffine(c: u32, mean: f32, invstd: f32) -> vec2<f32> {
  let w = select(1.0, weight[c], hasFlag(params.flags, FLAG_HAS_WEIGHT));
  let b = select(0.0, bias[c], hasFlag(params.flags, FLAG_HAS_BIAS));
  let scale = w * invstd;
  return vec2<f32>(scale, b - mean * scale);
}
