// The finalize's merge with one workgroup per channel, for channels with many partials: invocations
// stride over the channel's partials, then a workgroup-memory tree combines them. The kernel declares
// struct Partial; EMPTY_PARTIAL and combine() come from statistics-combine.wgsl or gradient-combine.wgsl.
var<workgroup> mergedPartials: array<Partial, FINALIZE_SIZE>;

fn finalizeChannel(group: u32, lid: u32) -> u32 { return group; }

// Whether this invocation writes its channel's results (one per channel).
fn isChannelWriter(lid: u32) -> bool { return lid == 0u; }

fn mergeChannelPartials(c: u32, lid: u32) -> Partial {
  var acc = EMPTY_PARTIAL;
  for (var i = lid; i < params.partialStride; i += FINALIZE_SIZE) { acc = combine(acc, partials[c * params.partialStride + i]); }
  mergedPartials[lid] = acc;
  workgroupBarrier();
  for (var stride = FINALIZE_SIZE / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { mergedPartials[lid] = combine(mergedPartials[lid], mergedPartials[lid + stride]); }
    workgroupBarrier();
  }
  return mergedPartials[0];
}
