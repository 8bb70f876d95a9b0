// What the recomputed ReLU mask (relu-mask.wgsl) needs per channel: the forward's scale and shift
// (affine.wgsl) from the statistics the backward reads, with the forward's float32 operations.
fn maskAffine(c: u32) -> vec2<f32> { return forwardAffine(c, mean[c], spreadInvstd(c)); }
