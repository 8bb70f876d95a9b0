// dy where the fused ReLU let y = x*k.x + k.y through (y > 0), else 0, as PyTorch's threshold_backward.
fn reluMask(g: Elem, xv: Elem, k: vec2<f32>) -> Elem {
  if (!hasFlag(params.flags, FLAG_RELU)) { return g; }
  return select(Elem(0.0), g, xv * k.x + k.y > Elem(0.0));
}
