// batchNormBackwardReduce's pass 2, per channel (a workgroup or an invocation each: merge-*.wgsl): merges
// the channel's partial sums (of every window) and writes sum(g) and sum(g*(x - mean)), each rounded once
// (gradient-totals.wgsl puts the mean back into the centered sum), and dweight and dbias with a weight:
// the sums are what a replica of SyncBatchNorm exchanges.

struct Partial { sums: vec4<f32>, count: f32 } // compensated (sum g, sum g*(x - center)): two-sum.wgsl

// Bindings, declared from their record in src/engine/kernels.ts: params, partials, mean, spread, dweight, dbias, sumDy, sumDyXmu.
// mean: the (global) mean; spread: the (global) invstd.

@compute @workgroup_size(FINALIZE_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = finalizeChannel(linearGroup(wid, params.finalizeGridX), lid);
  if (c >= params.channels) { return; }
  let sums = mergeChannelPartials(c, lid);
  if (!isChannelWriter(lid)) { return; }
  recordParameterGradients(c, sums);
  let centered = sumDyCentered(c, sums);
  sumDy[c] = compensatedTotal(sums.sums).x;
  sumDyXmu[c] = centered.x + centered.y;
}
