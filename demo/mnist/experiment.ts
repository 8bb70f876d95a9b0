// The experiment's settings: those Ioffe and Szegedy state for their Figure 1 (2015, section 4.1), and the
// ones this demo chose where the paper gives none (marked). One place, so the page, the network, the
// references and the tests say the same.
import { DEFAULT_EPS, DEFAULT_MOMENTUM } from '../../src/index.js';
import { gaussian, seededUniform } from '../../bench/index.js';

export const CLASSES = 10;
/** 28x28 inputs, three hidden layers of 100 sigmoid units, 10 classes (the paper's network). */
export const LAYER_SIZES = [784, 100, 100, 100, CLASSES] as const;
export const HIDDEN_LAYERS = 3;
/** Examples per mini-batch (the paper's). */
export const BATCH_SIZE = 60;

/** Chosen: plain SGD's step, for every parameter. At this rate the sigmoid network without batch norm sits on a plateau (10% test accuracy) for about its first hundred steps. */
export const LEARNING_RATE = 0.5;
/** Chosen: "small random Gaussian values", N(0, 0.1^2), for every weight matrix; biases start at 0. */
export const INITIAL_WEIGHT_STD = 0.1;
export const WEIGHT_SEED = 2015;
/** Chosen: the seed of the mini-batch order (a fresh seeded shuffle every epoch). */
export const ORDER_SEED = 60;

/** The batch norm layers' eps and momentum: the library's defaults (PyTorch's). */
export const BATCH_NORM_EPS = DEFAULT_EPS;
export const BATCH_NORM_MOMENTUM = DEFAULT_MOMENTUM;

/** The sigmoid whose input distribution is plotted: this unit of the last hidden layer. */
export const WATCHED_UNIT = 0;
/** The percentiles the paper plots, as fractions. */
export const PERCENTILES = [0.15, 0.5, 0.85] as const;

/** Test accuracy and the percentiles are read back every this many steps. */
export const EVALUATE_EVERY = 20;

export interface InitialParameters {
  /** Per dense layer: weight [out, in] (nn.Linear's layout) and bias [out]. */
  readonly weights: readonly Float32Array[];
  readonly biases: readonly Float32Array[];
}

/** The seeded start both networks share. */
export function initialParameters(seed = WEIGHT_SEED, std = INITIAL_WEIGHT_STD): InitialParameters {
  const random = seededUniform(seed);
  const layers = LAYER_SIZES.slice(1).map((outFeatures, k) => ({ inFeatures: LAYER_SIZES[k]!, outFeatures }));
  return {
    weights: layers.map(({ inFeatures, outFeatures }) => gaussian(random, outFeatures * inFeatures, 0, std)),
    biases: layers.map(({ outFeatures }) => new Float32Array(outFeatures)),
  };
}
