// The masked backward's count (position-mask.wgsl): the positions the mask keeps, which mask-count.wgsl
// stored in the last element of the partials (count-partial.wgsl), not every position its sums ran over.
fn gradientCount(count: f32) -> f32 { return partials[arrayLength(&partials) - 1u].count; }
