// Backward pass 1: per-channel partial sums of g and g*(x - mean), read in place from x and dy as
// [outer, C, inner] with the forward statistics' slicing (slice-walk.wgsl; one workgroup per (channel,
// slice) of each window). g is dy, masked where a fused ReLU clipped y (affine.wgsl). mean is saveMean in
// training and runningMean in inference. Summing g*(x - mean) rather than g*xhat keeps invstd out of the
// loop: the finalize scales once, and x - mean is exact when x is close to a large mean.

struct Partial { count: f32, sumDy: f32, sumDyCentered: f32 }

// Bindings, declared from their record in src/kernels.ts: params, x, dy, weight, bias, mean, spread, partials.

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let group = linearGroup(wid, params.reduceGridX);
  if (group >= params.channels * params.slices) { return; } // padding of a folded dispatch
  var walk = beginWalk(group, lid);
  let m = mean[walk.c];
  let k = forwardAffine(walk.c, m, spreadInvstd(walk.c));
  var sumDy = 0.0;
  var sumDyCentered = 0.0;
  while (walk.k < walk.end) {
    let at = walkIndex(walk);
    let xv = loadX(at);
    let g = reluMask(loadDy(at), xv, k);
    sumDy += elemSum(g);
    sumDyCentered += elemSum(g * (xv - m));
    advance(&walk);
  }

  let groupDy = workgroupSum(sumDy, lid);
  let groupDyCentered = workgroupSum(sumDyCentered, lid);
  if (lid == 0u) { partials[partialIndex(walk.c, walk.slice)] = Partial(f32(walk.end - walk.start) * f32(LANES), groupDy, groupDyCentered); }
}
