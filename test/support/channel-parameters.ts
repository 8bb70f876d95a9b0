// Seeded per-channel parameters of a test's forward: weight, bias and running statistics, on the host (for
// the references) and as the GPU tensors the operation takes.
import { Tensor, type Gpu } from '../../src/index.js';
import { uniform } from './random.js';

export interface ChannelParameters {
  readonly host: { readonly weight: Float32Array; readonly bias: Float32Array; readonly runningMean: Float32Array; readonly runningVar: Float32Array };
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
}

/** Weights in [0.5, 2], biases in [-1, 1], running means in [1, 2] and running variances in [2, 6]. */
export function channelParameters(gpu: Gpu, rnd: () => number, channels: number): ChannelParameters {
  const host = {
    weight: uniform(rnd, channels, 0.5, 2),
    bias: uniform(rnd, channels, -1, 1),
    runningMean: uniform(rnd, channels, 1, 2),
    runningVar: uniform(rnd, channels, 2, 6),
  };
  const perChannel = (data: Float32Array) => Tensor.fromArray(gpu, data, [channels]);
  return { host, weight: perChannel(host.weight), bias: perChannel(host.bias), runningMean: perChannel(host.runningMean), runningVar: perChannel(host.runningVar) };
}
