// Plain float32 CPU batch norm, the "what a straightforward JavaScript port would do" side of the
// GPU-vs-CPU comparison (the float64 reference in src/reference/forward.ts is the other). Values live in
// Float32Arrays; JavaScript does the arithmetic in doubles, as any JS loop would.
import { channelLayout } from '../src/runtime/shape.js';

export interface CpuForwardOptions {
  weight: Float32Array;
  bias: Float32Array;
  eps: number;
}

/** Training forward: per-channel mean and biased variance (two passes), then y = x*a[c] + b[c]. */
export function cpuForwardFloat32(x: Float32Array, shape: readonly number[], options: CpuForwardOptions, y: Float32Array): void {
  const [batch, channels, spatial] = layout(shape);
  const count = batch * spatial;
  for (let c = 0; c < channels; c++) {
    let sum = 0;
    for (let n = 0; n < batch; n++) {
      for (let i = (n * channels + c) * spatial, end = i + spatial; i < end; i++) sum += x[i]!;
    }
    const mean = sum / count;
    let squares = 0;
    for (let n = 0; n < batch; n++) {
      for (let i = (n * channels + c) * spatial, end = i + spatial; i < end; i++) {
        const d = x[i]! - mean;
        squares += d * d;
      }
    }
    const scale = options.weight[c]! / Math.sqrt(squares / count + options.eps);
    const shift = options.bias[c]! - mean * scale;
    for (let n = 0; n < batch; n++) {
      for (let i = (n * channels + c) * spatial, end = i + spatial; i < end; i++) y[i] = x[i]! * scale + shift;
    }
  }
}

export interface CpuBackwardOptions {
  weight: Float32Array;
  /** The forward's per-channel batch mean and 1/sqrt(var + eps). */
  mean: ArrayLike<number>;
  invstd: ArrayLike<number>;
}

export interface CpuBackwardGradients {
  dx: Float32Array;
  dweight: Float32Array;
  dbias: Float32Array;
}

/**
 * Training backward: dbias = sum(dy), dweight = sum(dy*xhat), and
 * dx = weight*invstd*(dy - dbias/M - xhat*dweight/M) with M = N*spatial values per channel.
 */
export function cpuBackwardFloat32(
  dy: Float32Array,
  x: Float32Array,
  shape: readonly number[],
  options: CpuBackwardOptions,
  out: CpuBackwardGradients,
): void {
  const [batch, channels, spatial] = layout(shape);
  const count = batch * spatial;
  for (let c = 0; c < channels; c++) {
    const mean = options.mean[c]!;
    const invstd = options.invstd[c]!;
    let sumDy = 0;
    let sumDyXmu = 0;
    for (let n = 0; n < batch; n++) {
      for (let i = (n * channels + c) * spatial, end = i + spatial; i < end; i++) {
        sumDy += dy[i]!;
        sumDyXmu += dy[i]! * (x[i]! - mean);
      }
    }
    const dweight = sumDyXmu * invstd;
    out.dbias[c] = sumDy;
    out.dweight[c] = dweight;
    const scale = options.weight[c]! * invstd;
    const meanDy = sumDy / count;
    const projection = (dweight * invstd) / count;
    for (let n = 0; n < batch; n++) {
      for (let i = (n * channels + c) * spatial, end = i + spatial; i < end; i++) {
        out.dx[i] = scale * (dy[i]! - meanDy - (x[i]! - mean) * projection);
      }
    }
  }
}

function layout(shape: readonly number[]): [batch: number, channels: number, spatial: number] {
  const { batch, channels, spatial } = channelLayout(shape);
  return [batch, channels, spatial];
}
