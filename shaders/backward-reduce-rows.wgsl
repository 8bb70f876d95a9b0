// Backward pass 1 for tensors with few values after the channel axis (channels-last, BatchNorm1d): the
// sums of backward-reduce.wgsl with the mapping of rows-walk.wgsl, consecutive invocations on
// consecutive channels of a row, row lanes summed through workgroup memory.

struct Partial { count: f32, sumDy: f32, sumDyCentered: f32 }

// Bindings, declared from their record in src/kernels.ts: params, x, dy, weight, bias, mean, spread, partials.

var<workgroup> laneSums: array<vec2<f32>, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let group = linearGroup(wid, params.reduceGridX);
  if (group >= rowsGroups()) { return; } // padding of a folded dispatch
  let walk = beginRows(group, lid);
  var sums = vec2<f32>(0.0);
  if (walk.c < params.channels) {
    let m = mean[walk.c];
    let k = forwardAffine(walk.c, m, spreadInvstd(walk.c));
    for (var n = walk.rowStart + walk.rowLane; n < walk.rowEnd; n += walk.rowLanes) {
      let base = params.base + (n * params.channels + walk.c) * params.spatial;
      for (var s = 0u; s < params.spatial; s++) {
        let xv = loadX(base + s);
        let g = reluMask(loadDy(base + s), xv, k);
        sums += vec2<f32>(g, g * (xv - m));
      }
    }
  }
  laneSums[lid] = sums;
  workgroupBarrier();
  if (walk.rowLane == 0u && walk.c < params.channels) {
    for (var r = 1u; r < walk.rowLanes; r++) { sums += laneSums[lid + r * CHANNEL_LANES]; }
    partials[partialIndex(walk.c, walk.block)] = Partial(f32((walk.rowEnd - walk.rowStart) * params.spatial), sums.x, sums.y);
  }
}
