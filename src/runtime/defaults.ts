// Defaults of batch norm's arguments, PyTorch's (torch.nn.BatchNorm2d), and keras.layers.BatchNormalization's
// where BatchNorm.keras and the Keras references differ: the functions, the module, the demo and the
// benchmark all read them from here.

/** Added to the variance before the square root. */
export const DEFAULT_EPS = 1e-5;
/** Weight of the batch statistics when they are blended into the running ones. */
export const DEFAULT_MOMENTUM = 0.1;

/** Keras's `epsilon` (keras.layers.BatchNormalization). */
export const KERAS_DEFAULT_EPSILON = 1e-3;
/** Keras's `momentum`, the weight of the old moving statistics: moving = moving*momentum + batch*(1 - momentum). */
export const KERAS_DEFAULT_MOMENTUM = 0.99;
/** Keras's `renorm_momentum`: the same convention for renorm_mean and renorm_stddev. */
export const KERAS_DEFAULT_RENORM_MOMENTUM = 0.99;
