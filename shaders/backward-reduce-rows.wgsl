// Backward pass 1 for tensors with few values after the channel axis (channels-last, BatchNorm1d): the
// sums of backward-reduce.wgsl with the mapping of stats-rows.wgsl, consecutive invocations on
// consecutive channels of a row, row lanes summed through workgroup memory.

struct Partial { count: f32, sumDy: f32, sumDyCentered: f32 }

// Bindings, declared from their record in src/kernels.ts: params, x, dy, weight, bias, mean, spread, partials.

var<workgroup> laneSums: array<vec2<f32>, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let group = linearGroup(wid, params.reduceGridX);
  let channelGroups = (params.channels + CHANNEL_LANES - 1u) / CHANNEL_LANES;
  if (group >= channelGroups * params.slices) { return; } // padding of a folded dispatch
  let block = group / channelGroups;
  let c = (group % channelGroups) * CHANNEL_LANES + lid % CHANNEL_LANES;
  let rowLane = lid / CHANNEL_LANES;
  let rowLanes = WORKGROUP_SIZE / CHANNEL_LANES;
  let rowStart = block * params.sliceLen;
  let rowEnd = min(rowStart + params.sliceLen, params.batch);
  var sums = vec2<f32>(0.0);
  if (c < params.channels) {
    let m = mean[c];
    let k = forwardAffine(c, m, spreadInvstd(c));
    for (var n = rowStart + rowLane; n < rowEnd; n += rowLanes) {
      let base = params.base + (n * params.channels + c) * params.spatial;
      for (var s = 0u; s < params.spatial; s++) {
        let xv = loadX(base + s);
        let g = reluMask(loadDy(base + s), xv, k);
        sums += vec2<f32>(g, g * (xv - m));
      }
    }
  }
  laneSums[lid] = sums;
  workgroupBarrier();
  if (rowLane == 0u && c < params.channels) {
    for (var r = 1u; r < rowLanes; r++) { sums += laneSums[lid + r * CHANNEL_LANES]; }
    partials[partialIndex(c, block)] = Partial(f32((rowEnd - rowStart) * params.spatial), sums.x, sums.y);
  }
}
