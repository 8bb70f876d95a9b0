// workgroupSum without subgroups: a tree reduction in workgroup memory (WORKGROUP_SIZE is a power of two).
var<workgroup> sharedSums: array<f32, WORKGROUP_SIZE>;

fn workgroupSum(value: f32, lid: u32) -> f32 {
  sharedSums[lid] = value;
  workgroupBarrier();
  for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { sharedSums[lid] += sharedSums[lid + stride]; }
    workgroupBarrier();
  }
  let total = sharedSums[0];
  workgroupBarrier(); // every invocation has read the total before a later call overwrites it
  return total;
}
