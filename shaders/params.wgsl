// Per-call values shared by every batch-norm kernel. They are uniforms, so one compiled pipeline serves
// every shape, eps and momentum. Counts are in elements of the kernel's Elem type (scalar or vec4).
struct Params {
  batch: u32,            // N
  channels: u32,         // C
  spatial: u32,          // elements of one contiguous run (H*W..., divided by LANES)
  slices: u32,           // slices per channel in the statistics pass
  sliceLen: u32,         // elements per slice (the last slice may be shorter)
  statsGridX: u32,       // workgroups per row of each folded 2-D dispatch
  applyGridX: u32,
  finalizeGridX: u32,
  total: u32,            // N*C*spatial
  flags: u32,            // FLAG_* bits below
  eps: f32,
  momentum: f32,         // running-statistics factor (1/numBatchesTracked for a cumulative average)
}

const FLAG_TRAINING: u32 = 1u;
const FLAG_HAS_WEIGHT: u32 = 2u;
const FLAG_HAS_BIAS: u32 = 4u;
const FLAG_UPDATE_RUNNING: u32 = 8u;

fn hasFlag(flags: u32, flag: u32) -> bool { return (flags & flag) != 0u; }

// Index of this workgroup in a dispatch that may have been folded into 2-D because it had more than
// maxComputeWorkgroupsPerDimension workgroups.
fn linearGroup(wid: vec3u, gridX: u32) -> u32 { return wid.x + wid.y * gridX; }
