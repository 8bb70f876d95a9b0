// workgroupSum with subgroup operations: one subgroupAdd per subgroup, then every invocation adds the
// subgroup totals. Slots are claimed with an atomic because WGSL does not promise how subgroups map
// onto local_invocation_index.
var<workgroup> subgroupTotals: array<f32, WORKGROUP_SIZE>;
var<workgroup> subgroupCount: atomic<u32>;

fn workgroupSum(value: f32, lid: u32) -> f32 {
  if (lid == 0u) { atomicStore(&subgroupCount, 0u); }
  workgroupBarrier();
  let subgroupTotal = subgroupAdd(value);
  if (subgroupElect()) {
    subgroupTotals[atomicAdd(&subgroupCount, 1u)] = subgroupTotal;
  }
  workgroupBarrier();
  let count = atomicLoad(&subgroupCount);
  // Compensated (Kahan) summation: with small subgroups there are up to 64 totals, and adding them one
  // after another would lose up to 64 roundings (1e-6 relative when the terms are alike).
  var total = 0.0;
  var lost = 0.0;
  for (var i = 0u; i < count; i++) {
    let term = subgroupTotals[i] - lost;
    let next = total + term;
    // Once the total is infinite there is nothing to compensate (and Inf - Inf would turn it into NaN).
    lost = select(0.0, (next - total) - term, abs(next) <= 0x1.fffffep+127f);
    total = next;
  }
  workgroupBarrier(); // every invocation has read the totals before a later call overwrites them
  return total;
}
