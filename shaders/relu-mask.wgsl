// The backward's ReLU mask recomputed from x (no residual): dy passes where the fused ReLU let
// y = x*k.x + k.y through, else 0, as PyTorch's threshold_backward: where the y stored in y's dtype is > 0
// (storesPositive, src/engine/element-storage.ts), so that an f16 y rounded to 0 blocks dy as its stored 0 does
// there. k is the channel's maskAffine (mask-affine.wgsl, where a kernel computes it; the apply pass gets
// it in its coefficients).
const MASK_READS_X = true;

// What the mask is decided from at one Elem: x itself here (relu-mask-stored.wgsl reads y instead).
fn maskSource(at: u32, xv: Elem) -> Elem { return xv; }

fn reluMask(g: Elem, source: Elem, k: vec2<f32>) -> Elem {
  if (!hasFlag(params.flags, FLAG_RELU)) { return g; }
  return select(Elem(0.0), g, storesPositive(source * k.x + k.y));
}
