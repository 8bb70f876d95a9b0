// The TensorFlow.js panel's settings of its own: how it trains and shows the seed CNN, whose network,
// batch norm config, optimizer, seed and loss tolerance are bench/seed-cnn.ts's (shared with the
// benchmark's model row).

/** Chosen: examples per mini-batch (the benchmark's model row starts at 64 too). */
export const DEFAULT_BATCH = 64;
/** Test accuracy is measured every this many steps (and before the first). */
export const EVALUATE_EVERY = 10;
/** The test digits are predicted this many at a time. */
export const PREDICT_CHUNK = 100;
/** The steps over which the two models' losses must agree within LOSS_AGREEMENT_RTOL (bench/seed-cnn.ts). */
export const LOSS_AGREEMENT_STEPS = 3;
