// Channel c's scale and shift from a given mean and invstd (batchNormElemt: the global statistics of
// batchNormGatherStats), with the float32 operations of the training finalize (affine.wgsl).
fn channelScaleShift(c: u32) -> vec2<f32> { return forwardAffine(c, mean[c], invstd[c]); }
