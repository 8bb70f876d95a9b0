// Pass 1 of training: per-channel partial statistics, read in place from x as [outer, C, inner] (NCHW:
// inner = H*W). Each channel is cut into `slices` slices of its N*spatial elements so that small-C
// tensors still fill the GPU; each workgroup reduces one slice (slice-statistics.wgsl).

struct Partial { state: Welford, pivot: f32 } // the state's mean is relative to the pivot; biased variance

// Bindings, declared from their record in src/engine/kernels.ts: params, x, partials.

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let group = linearGroup(wid, params.reduceGridX);
  if (group >= params.channels * params.slices) { return; } // padding of a folded dispatch
  let slice = reduceSlice(group, lid);
  if (lid == 0u) { partials[partialIndex(group / params.slices, group % params.slices)] = slice; }
}
