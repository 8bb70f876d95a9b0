// The kernels without a mask (position-mask.wgsl): every position is in the statistics (and a pivot
// sample: pivot.wgsl), and the backward's count is its sums' own.
fn positionKept(k: u32) -> bool { return true; }
fn elementKept(i: u32) -> bool { return true; }
fn gradientCount(count: f32) -> f32 { return count; }
