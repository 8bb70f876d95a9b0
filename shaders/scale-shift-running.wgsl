// Channel c's scale and shift from the running statistics (inference), with the float32 operations of
// the backward's recomputation (spread.wgsl, affine.wgsl), so a fused ReLU's mask agrees with y.
fn channelScaleShift(c: u32) -> vec2<f32> { return forwardAffine(c, runningMean[c], 1.0 / sqrt(runningVar[c] + params.eps)); }
