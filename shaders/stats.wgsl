// Pass 1 of training: per-channel partial statistics, read from NCHW in place. Each channel is cut into
// `slices` slices of its N*spatial elements so that small-C tensors still fill the GPU; each workgroup
// reduces one slice (slice-walk.wgsl) to (count, mean, variance). Invocations keep a Welford state and
// merge whole Elems into it (Chan's formula with the Elem's own mean and variance), so float32 never
// forms E[x^2] - E[x]^2.
// Values are shifted by a pivot before they are accumulated: with a mean of 1e4 and unit spread, x - pivot
// is exact and the running means keep full precision. The pivot is the median of the channel's first,
// middle and last values in this window, so that one outlier cannot put it far from the bulk of the data
// (every value's deviation would then be rounded at the outlier's scale).
// The state holds the (biased) variance, M2/count, rather than M2: every merge is then a weighted average
// whose terms stay finite wherever the variance does (M2 of eight values of +-1e19 overflows float32,
// their variance of 1e38 does not), and an empty state (weight 0) adds 0, never 0 * Inf.

struct Partial { count: f32, mean: f32, variance: f32, pivot: f32 } // mean is relative to pivot

// Bindings, declared from their record in src/kernels.ts: params, x, partials.

fn median3(a: f32, b: f32, c: f32) -> f32 { return max(min(a, b), min(max(a, b), c)); }

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let group = linearGroup(wid, params.reduceGridX);
  if (group >= params.channels * params.slices) { return; } // padding of a folded dispatch
  var walk = beginWalk(group, lid);
  let last = params.batch * params.spatial - 1u;
  let pivot = median3(
    elemFirst(x[channelElemIndex(walk.c, 0u)]),
    elemFirst(x[channelElemIndex(walk.c, last / 2u)]),
    elemFirst(x[channelElemIndex(walk.c, last)]),
  );
  var count = 0.0;
  var mean = 0.0;
  var variance = 0.0;
  let lanes = f32(LANES);
  while (walk.k < walk.end) {
    let v = x[walkIndex(walk)] - pivot;
    let vMean = elemSum(v) / lanes;
    let merged = count + lanes;
    let wOld = count / merged;
    let wNew = lanes / merged;
    let delta = vMean - mean;
    mean += delta * wNew;
    // wOld * variance + wNew * elemVariance + wOld * wNew * delta^2, written as a correction added to the
    // running variance (as the mean is): rescaling the variance by wOld at every step would compound
    // its rounding. (delta * wOld) first: 0 for an empty state, never 0 * Inf.
    variance += wNew * ((elemVariance(v, vMean) - variance) + (delta * wOld) * delta);
    count = merged;
    advance(&walk);
  }

  // Merge the invocations, each weighted by its share s_i of the slice: mean = sum(s_i * mean_i), and
  // variance = sum(s_i * (variance_i + (mean_i - mean)^2)), which is Chan's merge of all of them at once.
  let groupCount = f32(walk.end - walk.start) * lanes;
  let share = count / groupCount;
  let groupMean = workgroupSum(share * mean, lid);
  let d = mean - groupMean;
  let groupVariance = workgroupSum(share * variance + (share * d) * d, lid);
  if (lid == 0u) { partials[partialIndex(walk.c, walk.slice)] = Partial(groupCount, groupMean, groupVariance, pivot); }
}
