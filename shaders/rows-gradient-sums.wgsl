// A rows-kernel workgroup's gradient sums over one block (rows-walk.wgsl): the sums of g and
// g*(x - center) of slice-gradient-sums.wgsl, each row lane its own, compensated (elem-sums.wgsl with
// accumulate-*.wgsl, Elem being f32 here; the products' rounding errors too, where fma is fused), merged by
// row lane 0 into a Partial (declared by the kernel). Call it from every invocation (it has a barrier);
// its result is the channel's on row lane 0 only.
var<workgroup> laneSums: array<vec4<f32>, WORKGROUP_SIZE>;

fn reduceGradientRows(walk: RowsWalk, lid: u32) -> Partial {
  var sums = vec4<f32>(0.0); // compensated (sum g, sum g*(x - center))
  if (walk.c < params.channels) {
    var sumG = ElemSum(0.0, 0.0);
    var sumCentered = ElemSum(0.0, 0.0);
    var productErrors = 0.0;
    let k = maskAffine(walk.c);
    let center = gradientCenter(walk.c);
    for (var cursor = firstRowsCursor(walk); cursor.k < walk.end; advanceRows(walk, &cursor)) {
      let at = rowsIndex(walk, cursor);
      let xv = loadX(at);
      let g = reluMask(loadDy(at), maskSource(at, xv), k);
      let centered = xv - center;
      let product = fence(g * centered);
      elemSumAccumulate(&sumG, g);
      elemSumAccumulate(&sumCentered, product);
      productErrors += fma(g, centered, -product);
    }
    sums = vec4<f32>(sumG.sum, sumCentered.sum, sumG.lost, sumCentered.lost + productErrors);
  }
  laneSums[lid] = sums;
  workgroupBarrier();
  if (walk.rowLane == 0u) {
    for (var r = 1u; r < ROW_LANES; r++) { sums = mergeCompensated(sums, laneSums[lid + r * CHANNEL_LANES]); }
  }
  return Partial(sums, f32(walk.end - walk.start));
}
