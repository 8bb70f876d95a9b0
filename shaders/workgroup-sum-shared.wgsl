// workgroupSum without subgroups: a tree reduction in workgroup memory (WORKGROUP_SIZE is a power of two)
// of each invocation's two compensated sums (.xy and their errors .zw, two-sum.wgsl), every step
// error-free, so that the workgroup's sums are as exact as its invocations'. Every invocation gets them.
var<workgroup> sharedSums: array<vec4<f32>, WORKGROUP_SIZE>;

fn workgroupSum(value: vec4<f32>, lid: u32) -> vec4<f32> {
  sharedSums[lid] = value;
  workgroupBarrier();
  for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { sharedSums[lid] = mergeCompensated(sharedSums[lid], sharedSums[lid + stride]); }
    workgroupBarrier();
  }
  let total = sharedSums[0];
  workgroupBarrier(); // every invocation has read the total before a later call overwrites it
  return total;
}
