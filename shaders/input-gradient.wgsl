// dx at one Elem: k0 * (g - (x - mean)*c1 - c2), g being dy masked where a fused ReLU clipped y
// (relu-mask.wgsl or relu-mask-stored.wgsl; struct Coefficients is declared by the kernel), and g
// written as dz where the forward had a residual (residual-gradient.wgsl). Inference has c1 = c2 = 0 and,
// where the mask needs no x, skips reading x: 8 bytes per element instead of 12.
fn writeInputGradient(at: u32, coefficients: Coefficients) {
  let k = coefficients.k;
  var g = loadDy(at);
  let training = hasFlag(params.flags, FLAG_TRAINING);
  var xv = Elem(0.0);
  if (training || (MASK_READS_X && hasFlag(params.flags, FLAG_RELU))) { xv = loadX(at); }
  g = reluMask(g, maskSource(at, xv), coefficients.forward);
  writeResidualGradient(at, g);
  // A position a mask left out of the statistics gets only the direct term (all-positions.wgsl, position-mask.wgsl).
  if (training && elementKept(at - params.base)) { g -= (xv - k.w) * k.y + k.z; }
  storeDx(at, g * k.x);
}
