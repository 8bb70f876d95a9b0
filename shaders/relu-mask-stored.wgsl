// The backward's ReLU mask read from the forward's stored y (with a residual): y = relu(x*scale + shift + z)
// cannot be recomputed from x alone, so dy passes where the stored y > 0, as cuDNN's
// BatchNormalizationBackwardEx and PyTorch's threshold_backward on the saved result do. Same functions
// as relu-mask.wgsl; no per-channel affine is needed, and x is not read for the mask.
const MASK_READS_X = false;

fn maskAffine(c: u32) -> vec2<f32> { return vec2<f32>(0.0); }

// Without the ReLU nothing reads the source: y is not loaded (its binding may be a placeholder).
fn maskSource(at: u32, xv: Elem) -> Elem {
  if (!hasFlag(params.flags, FLAG_RELU)) { return xv; }
  return loadY(at);
}

fn reluMask(g: Elem, source: Elem, k: vec2<f32>) -> Elem {
  if (!hasFlag(params.flags, FLAG_RELU)) { return g; }
  return select(Elem(0.0), g, source > Elem(0.0));
}
