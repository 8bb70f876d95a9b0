// Keras 3's training forward with a mask or batch renormalization in TensorFlow.js ops: what the layer runs
// where this library's kernels do not (a backend other than webgpu, an input they do not take) and
// tfjs's own BatchNormalization cannot (it has neither feature). Every step is a tfjs op on the gradient
// tape, so tfjs differentiates it as Keras does: the masked moments give the positions a mask leaves out
// only the direct term, and r and d pass through a gradient of zero (Keras's stop_gradient). The masked
// moments divide by the kept count, as the kernels and the float64 reference do (Keras adds 1e-7 to it).
import {
  add, cast, clipByValue, clone, customGrad, div, expandDims, maximum, minimum, moments, mul, notEqual, relu, reshape, rsqrt, sqrt, square, sub, sum, where,
  zerosLike,
  type Tensor,
} from '@tensorflow/tfjs-core';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import type { RenormBounds } from '../../ops/batch-renorm.js';

/** Renorm's weights and settings, Keras's. */
export interface KerasOpsRenorm {
  readonly movingStddev: LayerVariable;
  readonly renormMean: LayerVariable;
  readonly renormStddev: LayerVariable;
  /** Keras's renorm_momentum: the weight of the old renorm_mean and renorm_stddev. */
  readonly momentum: number;
  readonly bounds: RenormBounds;
}

/** The layer's weights and settings for one training step. */
export interface KerasOpsLayer {
  /** The channel axis, non-negative. */
  readonly axis: number;
  readonly epsilon: number;
  /** Keras's momentum: the weight of the old moving statistics. */
  readonly momentum: number;
  readonly gamma: Tensor | null;
  readonly beta: Tensor | null;
  readonly movingMean: LayerVariable;
  readonly movingVariance: LayerVariable;
  readonly renorm: KerasOpsRenorm | null;
}

/** Keras's stop_gradient: the value, with a zero gradient. */
const stopGradient = customGrad((t) => ({ value: clone(t as Tensor), gradFunc: (dy: Tensor) => zerosLike(dy) }));

/**
 * One training step of keras.layers.BatchNormalization (with `mask`, x's shape without the channel axis,
 * and `layer.renorm` as its renorm): returns y and writes the moving weights. Run it inside tf.tidy.
 */
export function kerasTrainingByOps(x: Tensor, mask: Tensor | null, layer: KerasOpsLayer): Tensor {
  const axes = x.shape.map((_, i) => i).filter((i) => i !== layer.axis);
  const perChannel = (t: Tensor) => reshape(t, x.shape.map((d, i) => (i === layer.axis ? d : 1)));
  let mean: Tensor;
  let variance: Tensor;
  if (mask) {
    const keep = expandDims(notEqual(cast(mask, 'float32'), 0), layer.axis);
    // At least 1: a mask that keeps nothing gives mean 0 and variance 0, Keras's (and the kernels').
    const count = maximum(sum(cast(keep, 'float32'), axes), 1);
    // Positions left out are selected away, not multiplied by 0 as Keras does: NaN or Inf padding stays
    // out of the statistics, as in the kernels and the float64 reference.
    const kept = (t: Tensor) => where(keep, t, zerosLike(t));
    mean = div(sum(kept(x), axes), count);
    variance = div(sum(kept(square(sub(x, perChannel(mean)))), axes), count);
  } else {
    ({ mean, variance } = moments(x, axes));
  }
  const blend = (v: LayerVariable, value: Tensor, momentum: number) => v.write(add(mul(v.read(), momentum), mul(value, 1 - momentum)));
  let scale = layer.gamma;
  let offset = layer.beta;
  if (layer.renorm) {
    const { movingStddev, renormMean, renormStddev, momentum, bounds } = layer.renorm;
    const stddev = sqrt(add(variance, layer.epsilon));
    // r and d from renorm_mean and renorm_stddev before this step's update.
    const towards = maximum(renormStddev.read(), Math.sqrt(layer.epsilon));
    let r = div(stddev, towards);
    let d = div(sub(mean, renormMean.read()), towards);
    if (bounds.rmin !== null) r = maximum(r, bounds.rmin);
    if (bounds.rmax !== null) r = minimum(r, bounds.rmax);
    if (bounds.dmax !== null) d = clipByValue(d, -bounds.dmax, bounds.dmax);
    r = stopGradient(r);
    d = stopGradient(d);
    scale = layer.gamma ? mul(r, layer.gamma) : r;
    const shift = layer.gamma ? mul(d, layer.gamma) : d;
    offset = layer.beta ? add(shift, layer.beta) : shift;
    blend(renormMean, mean, momentum);
    blend(renormStddev, stddev, momentum);
    blend(layer.movingMean, mean, layer.momentum);
    blend(movingStddev, stddev, layer.momentum);
    // relu: rounding must not make the variance negative.
    layer.movingVariance.write(relu(sub(square(movingStddev.read()), layer.epsilon)));
  } else {
    blend(layer.movingMean, mean, layer.momentum);
    blend(layer.movingVariance, variance, layer.momentum);
  }
  let y = mul(sub(x, perChannel(mean)), perChannel(rsqrt(add(variance, layer.epsilon))));
  if (scale) y = mul(y, perChannel(scale));
  if (offset) y = add(y, perChannel(offset));
  return y;
}
