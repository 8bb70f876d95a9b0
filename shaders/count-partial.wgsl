// mask-count.wgsl's count in the last element of the backward's partials, one past the reduction's (the
// operation sizes them so), where the masked finalize reads it (masked-count.wgsl): a binding of its own
// there would be the finalize's ninth storage buffer, over WebGPU's default limit of 8.
struct Partial { sums: vec4<f32>, count: f32 } // backward-finalize.wgsl's
fn storeMaskCount(count: f32) { partials[arrayLength(&partials) - 1u].count = count; }
