// workgroupSum with subgroup operations, of each invocation's two compensated sums (.xy and their errors
// .zw, two-sum.wgsl): one subgroupAdd per subgroup, then every invocation adds the subgroup totals. Every
// invocation gets the sums. Slots are claimed with an atomic because WGSL does not promise how subgroups
// map onto local_invocation_index.
// subgroupAdd rounds in an order of its own, so each sum is split first (Rump, Ogita and Oishi's
// extraction): its coarse part is a multiple of 2^(e - 17), e the exponent of the subgroup's largest
// |value| (subgroupMax), and the coarse parts of up to 128 invocations add up exactly; the fine parts
// (at most 2^(e - 18) each) and the errors are then added with their rounding 2^-17 smaller. Non-finite
// sums (from an Inf in x) and a subnormal grid skip the split.
var<workgroup> subgroupTotals: array<vec4<f32>, WORKGROUP_SIZE>;
var<workgroup> subgroupCount: atomic<u32>;

fn workgroupSum(value: vec4<f32>, lid: u32) -> vec4<f32> {
  if (lid == 0u) { atomicStore(&subgroupCount, 0u); }
  workgroupBarrier();
  let largest = subgroupMax(abs(value.xy));
  let grid = ldexp(vec2<f32>(1.0), frexp(largest).exp - vec2<i32>(17));
  let split = (abs(largest) <= vec2<f32>(0x1.fffffep+127f)) & (grid >= vec2<f32>(0x1p-126f));
  let coarse = select(value.xy, round(value.xy / grid) * grid, split);
  let subgroupTotal = vec4<f32>(subgroupAdd(coarse), subgroupAdd(fence2(value.xy - coarse) + value.zw));
  if (subgroupElect()) {
    subgroupTotals[atomicAdd(&subgroupCount, 1u)] = subgroupTotal;
  }
  workgroupBarrier();
  let count = atomicLoad(&subgroupCount);
  var total = vec4<f32>(0.0);
  for (var i = 0u; i < count; i++) { total = mergeCompensated(total, subgroupTotals[i]); }
  workgroupBarrier(); // every invocation has read the totals before a later call overwrites them
  return total;
}
