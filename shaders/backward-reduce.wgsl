// Backward pass 1: per-channel partial sums of dy and dy*(x - mean), read from NCHW in place with the
// forward statistics' slicing (slice-walk.wgsl; one workgroup per (channel, slice) of each window of x
// and dy). mean is saveMean in training and runningMean in inference. Summing dy*(x - mean) rather than dy*xhat keeps invstd out of the loop: the
// finalize scales once, and x - mean is exact when x is close to a large mean.

struct Partial { count: f32, sumDy: f32, sumDyCentered: f32 }

// Bindings, declared from their record in src/kernels.ts: params, x, dy, mean, partials.

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let group = linearGroup(wid, params.reduceGridX);
  if (group >= params.channels * params.slices) { return; } // padding of a folded dispatch
  var walk = beginWalk(group, lid);
  let m = mean[walk.c];
  var sumDy = 0.0;
  var sumDyCentered = 0.0;
  while (walk.k < walk.end) {
    let at = walkIndex(walk);
    let g = dy[at];
    sumDy += elemSum(g);
    sumDyCentered += elemSum(g * (x[at] - m));
    advance(&walk);
  }

  let groupDy = workgroupSum(sumDy, lid);
  let groupDyCentered = workgroupSum(sumDyCentered, lid);
  if (lid == 0u) { partials[partialIndex(walk.c, walk.slice)] = Partial(f32(walk.end - walk.start) * f32(LANES), groupDy, groupDyCentered); }
}
