// mask-count.wgsl's count as an output of its own (batchNormStats' maskCount).
fn storeMaskCount(count: f32) { maskCount[0] = count; }
