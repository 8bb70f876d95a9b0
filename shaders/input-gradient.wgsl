// dx at one Elem: k0 * (g - (x - mean)*c1 - c2), g being dy masked where a fused ReLU clipped y
// (struct Coefficients is declared by the kernel). Inference has c1 = c2 = 0 and, without a ReLU, skips
// reading x, so it moves 8 bytes per element instead of 12.
fn inputGradient(at: u32, coefficients: Coefficients) -> Elem {
  let k = coefficients.k;
  var g = loadDy(at);
  let training = hasFlag(params.flags, FLAG_TRAINING);
  if (training || hasFlag(params.flags, FLAG_RELU)) {
    let xv = loadX(at);
    g = reluMask(g, xv, coefficients.forward);
    if (training) { g -= (xv - k.w) * k.y + k.z; }
  }
  return g * k.x;
}
