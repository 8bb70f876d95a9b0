// Channel c's scale and shift as the training finalize folded them.
fn channelScaleShift(c: u32) -> vec2<f32> { return scaleShift[c]; }
