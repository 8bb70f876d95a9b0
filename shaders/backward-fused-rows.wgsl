// The whole backward in one dispatch for the rows plans (channels-last, BatchNorm1d, many small channels:
// src/engine/dispatch.ts reducesByRows), where one block covers each channel: row lane 0 of each channel lane merges the channel's sums
// (rows-gradient-sums.wgsl), writes dweight and dbias and the channel's coefficients, and every lane
// then computes dx for its share of the block.

struct Partial { sums: vec4<f32>, count: f32 } // compensated (sum g, sum g*(x - center)): two-sum.wgsl
struct Coefficients { k: vec4<f32>, forward: vec2<f32> } // k = (k0, c1, c2, mean); forward = (scale, shift)

// Bindings, declared from their record in src/engine/kernels.ts: params, x, dy, weight, bias, mean, spread, dweight, dbias, dx
// (with a residual: y for the mask instead of bias, and dz).

var<workgroup> laneCoefficients: array<Coefficients, CHANNEL_LANES>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let group = linearGroup(wid, params.reduceGridX);
  if (group >= rowsGroups()) { return; } // padding of a folded dispatch
  let walk = beginRows(group, lid);
  var sums = Partial(vec4<f32>(0.0), 0.0);
  // Inference without a weight needs no sums (a uniform branch: every invocation takes the same way).
  if (needsGradientSums()) { sums = reduceGradientRows(walk, lid); }
  if (walk.rowLane == 0u && walk.c < params.channels) {
    recordParameterGradients(walk.c, sums);
    laneCoefficients[lid] = channelCoefficients(walk.c, sums, maskAffine(walk.c)); // row lane 0: lid is the channel lane
  }
  workgroupBarrier();
  if (walk.c >= params.channels) { return; }
  let coefficients = laneCoefficients[lid % CHANNEL_LANES];
  for (var cursor = firstRowsCursor(walk); cursor.k < walk.end; advanceRows(walk, &cursor)) {
    writeInputGradient(rowsIndex(walk, cursor), coefficients);
  }
}
