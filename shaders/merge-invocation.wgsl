// The finalize's merge with one invocation per channel, for channels with few partials (inference has
// none): a whole workgroup per channel would idle all but one invocation, which costs seconds for
// BatchNorm1d with tens of thousands of channels. The kernel declares struct Partial;
// EMPTY_PARTIAL and combine() come from statistics-combine.wgsl or gradient-combine.wgsl.
fn finalizeChannel(group: u32, lid: u32) -> u32 { return group * FINALIZE_SIZE + lid; }

fn isChannelWriter(lid: u32) -> bool { return true; }

fn mergeChannelPartials(c: u32, lid: u32) -> Partial {
  var acc = EMPTY_PARTIAL;
  for (var i = 0u; i < params.partialStride; i++) { acc = combine(acc, partials[c * params.partialStride + i]); }
  return acc;
}
