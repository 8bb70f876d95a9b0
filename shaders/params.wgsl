// Per-call values shared by every batch-norm kernel. They are uniforms, so one compiled pipeline serves
// every shape, eps and momentum. Counts are in elements of the kernel's Elem type (scalar or vec4).
// A tensor larger than one storage binding is processed in windows (src/engine/chunking.ts): of whole
// samples, or, where a sample does not fit one binding, of any aligned range of elements, which may start
// and end inside a sample. Each window has its own Params, with `offset`, `total`, `base` and its grids.
struct Params {
  offset: u32,           // elements from the start of the window's first sample to its first element
  channels: u32,         // C
  spatial: u32,          // elements of one contiguous run (H*W..., divided by LANES)
  slices: u32,           // slices per channel of this window in the reduction pass
  sliceLen: u32,         // elements per slice (the last slice may be shorter)
  reduceGridX: u32,      // workgroups per row of each folded 2-D dispatch
  applyGridX: u32,
  finalizeGridX: u32,
  total: u32,            // batch*channels*spatial: elements of this window
  flags: u32,            // FLAG_* bits, declared from their record in src/engine/params.ts
  eps: f32,
  momentum: f32,         // running-statistics factor (1/numBatchesTracked for a cumulative average)
  base: u32,             // elements from the start of the bound window to its first value
  partialStride: u32,    // partials per channel, over all windows
  partialFirst: u32,     // index of this window's first slice among its channel's partials
  zero: u32,             // always 0 (never written): the optimization fence of two-sum.wgsl
  maskFirst: u32,        // a mask's index of the window's first sample's first position (position-mask.wgsl)
}

fn hasFlag(flags: u32, flag: u32) -> bool { return (flags & flag) != 0u; }

// Index of this workgroup in a dispatch that may have been folded into 2-D because it had more than
// maxComputeWorkgroupsPerDimension workgroups.
fn linearGroup(wid: vec3u, gridX: u32) -> u32 { return wid.x + wid.y * gridX; }

// Channel of element i of the window (its sample may have started in an earlier window).
fn windowChannel(i: u32) -> u32 { return ((params.offset + i) / params.spatial) % params.channels; }

// Channel c's positions in the window: position k is value k % spatial of the channel's run in the
// window's k / spatial-th sample (the one that holds its first element is the 0th), at element
// (n*C + c)*spatial + s of the samples, `offset` before the window's first. The window is one range of
// elements, so each channel's positions in it are one range too, [first, end) (empty where the window
// holds none of the channel; [0, samples*spatial) for a window of whole samples).
fn channelPositions(c: u32) -> vec2<u32> { return vec2<u32>(channelPositionAt(c, params.offset), channelPositionAt(c, params.offset + params.total)); }

// The first position of channel c at or after element r of the samples.
fn channelPositionAt(c: u32, r: u32) -> u32 {
  let sampleElems = params.channels * params.spatial;
  let n = r / sampleElems;
  let run = c * params.spatial;
  return n * params.spatial + clamp(r - n * sampleElems, run, run + params.spatial) - run;
}

// Index in the bound window of value s of channel c's run in the window's n-th sample.
fn positionIndex(c: u32, n: u32, s: u32) -> u32 { return params.base + (n * params.channels + c) * params.spatial + s - params.offset; }

// Where partial `slice` of channel c of this window goes among all windows' partials.
fn partialIndex(c: u32, slice: u32) -> u32 { return c * params.partialStride + params.partialFirst + slice; }
