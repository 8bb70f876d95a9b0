// The masked backward's count (position-mask.wgsl): the positions the mask keeps (mask-count.wgsl), not
// every position its sums ran over.
fn gradientCount(count: f32) -> f32 { return maskCount[0]; }
