// Per-call values shared by every batch-norm kernel. They are uniforms, so one compiled pipeline serves
// every shape, eps and momentum. Counts are in elements of the kernel's Elem type (scalar or vec4).
// A tensor larger than one storage binding is processed in windows of whole samples (src/engine/chunking.ts):
// each window has its own Params, with `batch`, `total`, `base` and the grids of that window.
struct Params {
  batch: u32,            // N of this window
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
}

fn hasFlag(flags: u32, flag: u32) -> bool { return (flags & flag) != 0u; }

// Index of this workgroup in a dispatch that may have been folded into 2-D because it had more than
// maxComputeWorkgroupsPerDimension workgroups.
fn linearGroup(wid: vec3u, gridX: u32) -> u32 { return wid.x + wid.y * gridX; }

// Where partial `slice` of channel c of this window goes among all windows' partials.
fn partialIndex(c: u32, slice: u32) -> u32 { return c * params.partialStride + params.partialFirst + slice; }
