// Backward pass 1: per-channel partial sums of dy and dy*(x - mean), read from NCHW in place with the
// forward statistics' slicing (one workgroup per (channel, slice) of each window of x and dy). mean is saveMean in training and
// runningMean in inference. Summing dy*(x - mean) rather than dy*xhat keeps invstd out of the loop: the
// finalize scales once, and x - mean is exact when x is close to a large mean.

struct Partial { count: f32, sumDy: f32, sumDyCentered: f32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<Elem>;
@group(0) @binding(2) var<storage, read> dy: array<Elem>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read_write> partials: array<Partial>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let group = linearGroup(wid, params.reduceGridX);
  if (group >= params.channels * params.slices) { return; } // padding of a folded dispatch
  let c = group / params.slices;
  let slice = group % params.slices;
  let spatial = params.spatial;
  let channelLen = params.batch * spatial;
  let start = slice * params.sliceLen;
  let end = min(start + params.sliceLen, channelLen);

  let m = mean[c];
  var sumDy = 0.0;
  var sumDyCentered = 0.0;
  var k = start + lid;       // position in the channel's N*spatial elements
  var n = k / spatial;       // ... as (n, s), advanced without a division per element
  var s = k - n * spatial;
  while (k < end) {
    let at = params.base + (n * params.channels + c) * spatial + s;
    let g = dy[at];
    sumDy += elemSum(g);
    sumDyCentered += elemSum(g * (x[at] - m));
    k += WORKGROUP_SIZE;
    s += WORKGROUP_SIZE;
    if (s >= spatial) { let runs = s / spatial; n += runs; s -= runs * spatial; }
  }

  let groupDy = workgroupSum(sumDy, lid);
  let groupDyCentered = workgroupSum(sumDyCentered, lid);
  if (lid == 0u) { partials[partialIndex(c, slice)] = Partial(f32(end - start) * f32(LANES), groupDy, groupDyCentered); }
}
