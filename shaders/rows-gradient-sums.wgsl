// A rows-kernel workgroup's gradient sums over one block of rows (rows-walk.wgsl): the sums of g and
// g*(x - center) of slice-gradient-sums.wgsl, each row lane its own, compensated (two-sum.wgsl; the
// products' rounding errors too, where fma is fused), merged by
// row lane 0 into a Partial (declared by the kernel). Call it from every invocation (it has a barrier);
// its result is the channel's on row lane 0 only.
var<workgroup> laneSums: array<vec4<f32>, WORKGROUP_SIZE>;

fn reduceGradientRows(walk: RowsWalk, lid: u32) -> Partial {
  var sums = vec4<f32>(0.0); // compensated (sum g, sum g*(x - center))
  if (walk.c < params.channels) {
    let k = maskAffine(walk.c);
    let center = gradientCenter(walk.c);
    for (var n = walk.rowStart + walk.rowLane; n < walk.rowEnd; n += walk.rowLanes) {
      let base = params.base + (n * params.channels + walk.c) * params.spatial;
      for (var s = 0u; s < params.spatial; s++) {
        let xv = loadX(base + s);
        let g = reluMask(loadDy(base + s), maskSource(base + s, xv), k);
        let centered = xv - center;
        let product = fence(g * centered);
        sums = addCompensated(sums, vec2<f32>(g, product));
        sums.w += fma(g, centered, -product);
      }
    }
  }
  laneSums[lid] = sums;
  workgroupBarrier();
  if (walk.rowLane == 0u) {
    for (var r = 1u; r < walk.rowLanes; r++) { sums = mergeCompensated(sums, laneSums[lid + r * CHANNEL_LANES]); }
  }
  return Partial(sums, f32((walk.rowEnd - walk.rowStart) * params.spatial));
}
