// Pass 1 of training: per-channel partial statistics, read from NCHW in place. Each channel is cut into
// `slices` slices of its N*spatial elements so that small-C tensors still fill the GPU; each workgroup
// reduces one slice (slice-walk.wgsl) to (count, mean, M2). Invocations keep a Welford state and merge whole Elems into it
// (Chan's formula with the Elem's own mean and M2), so float32 never forms E[x^2] - E[x]^2.
// Values are shifted by a pivot, the channel's first value in this window, before they are accumulated:
// with a mean of 1e4 and unit spread, x - pivot is exact and the running means keep full precision.

struct Partial { count: f32, mean: f32, m2: f32, pivot: f32 } // mean is relative to pivot

// Bindings, declared from their record in src/kernels.ts: params, x, partials.

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let group = linearGroup(wid, params.reduceGridX);
  if (group >= params.channels * params.slices) { return; } // padding of a folded dispatch
  var walk = beginWalk(group, lid);
  let pivot = elemFirst(x[params.base + walk.c * params.spatial]);
  var count = 0.0;
  var mean = 0.0;
  var m2 = 0.0;
  let lanes = f32(LANES);
  while (walk.k < walk.end) {
    let v = x[walkIndex(walk)] - pivot;
    let vMean = elemSum(v) / lanes;
    let delta = vMean - mean;
    let merged = count + lanes;
    mean += delta * (lanes / merged);
    // delta * (delta * w), not delta * delta * w: when count is 0 the weight w is 0 and the term must be
    // 0 even where delta^2 overflows (x = [1e19, -1e19] would otherwise give Inf * 0 = NaN).
    m2 += elemSquaredDeviation(v, vMean) + delta * (delta * (count * lanes / merged));
    count = merged;
    advance(&walk);
  }

  // Merge the invocations: mean from the sum of their sums, then M2 as the sum of non-negative terms
  // sum(M2_i + n_i * (mean_i - mean)^2), which is Chan's merge of all of them at once.
  let groupCount = f32(walk.end - walk.start) * lanes;
  let groupMean = workgroupSum(count * mean, lid) / groupCount;
  let d = mean - groupMean;
  let groupM2 = workgroupSum(m2 + (count * d) * d, lid); // (count * d) first: 0, not 0 * Inf, for an idle invocation
  if (lid == 0u) { partials[partialIndex(walk.c, walk.slice)] = Partial(groupCount, groupMean, groupM2, pivot); }
}
