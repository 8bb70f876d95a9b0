// dy where the fused ReLU let y = x*k.x + k.y through, else 0, as PyTorch's threshold_backward: where the
// y stored in y's dtype is > 0 (storesPositive, src/element-storage.ts), so that an f16 y rounded to 0
// blocks dy as its stored 0 does there.
fn reluMask(g: Elem, xv: Elem, k: vec2<f32>) -> Elem {
  if (!hasFlag(params.flags, FLAG_RELU)) { return g; }
  return select(Elem(0.0), g, storesPositive(xv * k.x + k.y));
}
