// Batch renormalization's pass 2 (Keras 3's BatchNormalization with renorm=True), per channel (a workgroup
// or an invocation each: merge-*.wgsl). It merges the channel's partials into the batch mean and biased
// variance as the training finalize does, takes r and d from renorm_mean and renorm_stddev as they were
// before this step, writes what the apply pass (scale-shift-given.wgsl) and the backward read, and updates
// the five moving statistics with Keras's rules:
//   sigma = sqrt(variance + eps), s = max(renorm_stddev, sqrt(eps)),
//   r = clip(sigma / s, rmin, rmax), d = clip((mean - renorm_mean) / s, -dmax, dmax),
//   y = xhat*(r*gamma) + (d*gamma + beta): the renormalized weight r*gamma and bias d*gamma + beta;
//   renorm_mean, renorm_stddev blend mean and sigma with settings.momentum; moving_mean and moving_stddev
//   with params.momentum; moving_variance = max(moving_stddev^2 - eps, 0).
// Each factor is the weight of the batch's value (1 - Keras's momentum). Everything is f32. Where rounding
// matters: moving_variance is a difference, whose error is relative to moving_stddev^2 (not to itself) when
// the spread is near sqrt(eps); r and d inherit the relative error of sigma and the mean's, a few ulps, and
// s is never below sqrt(eps), so neither divides by a rounding error.

struct Partial { state: Welford, pivot: f32 } // the state's mean is relative to the pivot; biased variance

// The module's constants (src/ops/batch-renorm.ts writes them): the renorm momentum, and the bounds of
// Keras's renorm_clipping with a flag each (clips.x, .y, .z: 1 where rmin, rmax, dmax are given), since a
// missing key clips nothing.
struct RenormSettings { momentum: f32, rmin: f32, rmax: f32, dmax: f32, clips: vec4<f32> }

// The rows of the `renorm` tensor, each RENORM_ROW_VALUES-aligned so that every row is a tensor of its own
// for the other passes (a 256-byte offset: WebGPU's largest minStorageBufferOffsetAlignment). Mirrored by
// RENORM_ROWS in src/ops/batch-renorm.ts.
const RENORM_ROW_VALUES: u32 = 64u;
const ROW_RUNNING_STDDEV: u32 = 0u;
const ROW_RENORM_MEAN: u32 = 1u;
const ROW_RENORM_STDDEV: u32 = 2u;
const ROW_SAVE_MEAN: u32 = 3u;
const ROW_SAVE_INVSTD: u32 = 4u;
const ROW_WEIGHT: u32 = 5u;
const ROW_BIAS: u32 = 6u;
const ROW_R: u32 = 7u;
const ROW_D: u32 = 8u;

fn renormAt(row: u32, c: u32) -> u32 {
  return row * ((params.channels + RENORM_ROW_VALUES - 1u) / RENORM_ROW_VALUES * RENORM_ROW_VALUES) + c;
}

// Bindings, declared from their record in src/engine/kernels.ts: params, partials, weight, bias, settings, runningMean, runningVar, renorm.

@compute @workgroup_size(FINALIZE_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = finalizeChannel(linearGroup(wid, params.finalizeGridX), lid);
  if (c >= params.channels) { return; }
  let stats = mergeChannelPartials(c, lid);
  if (!isChannelWriter(lid)) { return; }
  let mean = channelMean(stats);
  let sigma = sqrt(welfordVariance(stats.state) + params.eps);
  let s = max(renorm[renormAt(ROW_RENORM_STDDEV, c)], sqrt(params.eps));
  var r = sigma / s;
  var d = (mean - renorm[renormAt(ROW_RENORM_MEAN, c)]) / s;
  if (settings.clips.x != 0.0) { r = max(r, settings.rmin); }
  if (settings.clips.y != 0.0) { r = min(r, settings.rmax); }
  if (settings.clips.z != 0.0) { d = min(max(d, -settings.dmax), settings.dmax); }
  let gamma = select(1.0, weight[c], hasFlag(params.flags, FLAG_HAS_WEIGHT));
  let beta = select(0.0, bias[c], hasFlag(params.flags, FLAG_HAS_BIAS));
  renorm[renormAt(ROW_SAVE_MEAN, c)] = mean;
  renorm[renormAt(ROW_SAVE_INVSTD, c)] = 1.0 / sigma;
  renorm[renormAt(ROW_WEIGHT, c)] = r * gamma;
  renorm[renormAt(ROW_BIAS, c)] = d * gamma + beta;
  renorm[renormAt(ROW_R, c)] = r;
  renorm[renormAt(ROW_D, c)] = d;

  let k = settings.momentum;
  renorm[renormAt(ROW_RENORM_MEAN, c)] = (1.0 - k) * renorm[renormAt(ROW_RENORM_MEAN, c)] + k * mean;
  renorm[renormAt(ROW_RENORM_STDDEV, c)] = (1.0 - k) * renorm[renormAt(ROW_RENORM_STDDEV, c)] + k * sigma;
  let m = params.momentum;
  runningMean[c] = (1.0 - m) * runningMean[c] + m * mean;
  let stddev = (1.0 - m) * renorm[renormAt(ROW_RUNNING_STDDEV, c)] + m * sigma;
  renorm[renormAt(ROW_RUNNING_STDDEV, c)] = stddev;
  runningVar[c] = max(stddev * stddev - params.eps, 0.0);
}
