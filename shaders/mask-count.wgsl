// The number of positions a mask keeps (position-mask.wgsl), for the masked backward's coefficients
// (masked-count.wgsl): one workgroup walks the whole mask, counting in integers (exact), and stores the
// count as an f32 (exact up to 2^24 positions; beyond, rounded as PyTorch's float32 count would be) where
// its part says: count-output.wgsl or count-partial.wgsl.

// Bindings, declared from their record in src/engine/kernels.ts: params, mask, and maskCount or partials.

var<workgroup> laneCounts: array<u32, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(local_invocation_index) lid: u32) {
  var count = 0u;
  for (var i = lid; i < arrayLength(&mask); i += WORKGROUP_SIZE) { count += select(0u, 1u, mask[i] != 0.0); }
  laneCounts[lid] = count;
  workgroupBarrier();
  for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { laneCounts[lid] += laneCounts[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u) { storeMaskCount(f32(laneCounts[0])); }
}
