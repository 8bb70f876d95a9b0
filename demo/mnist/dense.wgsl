// A dense (fully-connected) layer in nn.Linear's layout: weight is [outFeatures, inFeatures], x and y hold
// one sample per row.
//   forward:        y = x weight^T + bias                      one invocation per element of y
//   backwardInput:  dx = dy weight                             one invocation per element of dx
//   backwardWeight: dweight = dy^T x, dbias = column sums of dy  one invocation per element of dweight
// Each invocation runs a plain loop over the summed index: at the demo's sizes (at most 1000 x 784 x 100)
// a step is bound by its launches, not by arithmetic.

struct Dims {
  batch: u32,
  inFeatures: u32,
  outFeatures: u32,
}

override WORKGROUP_SIZE: u32;

// Bindings: declared from the record in kernels.ts.

@compute @workgroup_size(WORKGROUP_SIZE)
fn forward(@builtin(global_invocation_id) id: vec3u) {
  if (id.x >= dims.batch * dims.outFeatures) {
    return;
  }
  let n = id.x / dims.outFeatures;
  let o = id.x % dims.outFeatures;
  var sum = bias[o];
  for (var i = 0u; i < dims.inFeatures; i++) {
    sum += x[n * dims.inFeatures + i] * weight[o * dims.inFeatures + i];
  }
  y[id.x] = sum;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backwardInput(@builtin(global_invocation_id) id: vec3u) {
  if (id.x >= dims.batch * dims.inFeatures) {
    return;
  }
  let n = id.x / dims.inFeatures;
  let i = id.x % dims.inFeatures;
  var sum = 0.0;
  for (var o = 0u; o < dims.outFeatures; o++) {
    sum += dy[n * dims.outFeatures + o] * weight[o * dims.inFeatures + i];
  }
  dx[id.x] = sum;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backwardWeight(@builtin(global_invocation_id) id: vec3u) {
  if (id.x >= dims.outFeatures * dims.inFeatures) {
    return;
  }
  let o = id.x / dims.inFeatures;
  let i = id.x % dims.inFeatures;
  var sum = 0.0;
  for (var n = 0u; n < dims.batch; n++) {
    sum += dy[n * dims.outFeatures + o] * x[n * dims.inFeatures + i];
  }
  dweight[id.x] = sum;
  // The bias gradient needs no launch of its own: the first invocation of each weight row sums it.
  if (i == 0u) {
    var biasSum = 0.0;
    for (var n = 0u; n < dims.batch; n++) {
      biasSum += dy[n * dims.outFeatures + o];
    }
    dbias[o] = biasSum;
  }
}
