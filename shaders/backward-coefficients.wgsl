// A channel's backward results from its merged sums (struct Partial and struct Coefficients are declared
// by the kernel), shared by the backward finalize and the one-dispatch backward so both compute them
// with the same float32 operations: dweight and dbias, and the coefficients of dx (input-coefficients.wgsl)
// from the channel's own sums (gradient-totals.wgsl).

// Whether the sums are needed: for training's coefficients, or for dweight and dbias.
fn needsGradientSums() -> bool {
  return hasFlag(params.flags, FLAG_TRAINING) || hasFlag(params.flags, FLAG_HAS_WEIGHT);
}

// (k0, c1, c2, mean), and `forward`, what the ReLU mask needs: the forward's (scale, shift) where it is
// recomputed from x (maskAffine, relu-mask.wgsl). Inference does not read the sums.
fn channelCoefficients(c: u32, sums: Partial, forward: vec2<f32>) -> Coefficients {
  let centered = sumDyCentered(c, sums);
  return inputCoefficients(c, compensatedTotal(sums.sums).x, centered.x + centered.y, sums.count, forward);
}
