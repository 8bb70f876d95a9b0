// Backward pass 1 for the rows plans (channels-last, BatchNorm1d, many small channels: src/engine/dispatch.ts
// reducesByRows): the sums of backward-reduce.wgsl with the mapping of rows-walk.wgsl, consecutive
// invocations on consecutive channels of a row, row lanes summed through workgroup memory
// (rows-gradient-sums.wgsl).

struct Partial { sums: vec4<f32>, count: f32 } // compensated (sum g, sum g*(x - center)): two-sum.wgsl

// Bindings, declared from their record in src/engine/kernels.ts: params, x, dy, weight, bias, mean, spread, partials
// (with a residual: x, dy, y, mean, spread, partials; the mask reads y).

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let group = linearGroup(wid, params.reduceGridX);
  if (group >= rowsGroups()) { return; } // padding of a folded dispatch
  let walk = beginRows(group, lid);
  let sums = reduceGradientRows(walk, lid);
  if (walk.rowLane == 0u && walk.c < params.channels) { partials[partialIndex(walk.c, walk.block)] = sums; }
}
