// Tolerances of the demo's kernels (demo/mnist/*.wgsl) against their float64 references
// (demo/mnist/reference.ts), stated once for the GPU tests. As the library's (src/reference/tolerances.ts), each bound
// scales with the size of the float32 terms a result is made of, and follows from float32 rounding (unit
// roundoff u = 2^-24) and WGSL's stated accuracy of exp (3 + 2|x| ULP) and log (3 ULP, or 2^-21 absolute
// on [0.5, 2]) and of f32 division (2.5 ULP). An ULP at a value v is at most 2u|v|.
import type { DenseDims } from './reference.js';

type Values = ArrayLike<number>;

/** float32's unit roundoff. */
const u = 2 ** -24;
/** The smallest normal float32: a GPU may flush values below it to zero. */
const MIN_NORMAL = 2 ** -126;

/**
 * A float32 sum of `terms` rounded products added one after another: |error| <= terms * u * sum|term|
 * (the first-order worst case of recursive summation, gamma_n; an FMA only tightens it).
 */
function sumBound(terms: number, magnitude: number): number {
  return terms * u * magnitude;
}

/** dense forward, y[n, o] = bias[o] + sum_i x[n, i] * weight[o, i]: inFeatures + 1 terms. */
export function denseForwardTolerance(x: Values, weight: Values, bias: Values, { inFeatures, outFeatures }: DenseDims): (index: number) => number {
  return (index) => {
    const n = Math.floor(index / outFeatures);
    const o = index % outFeatures;
    let magnitude = Math.abs(bias[o]!);
    for (let i = 0; i < inFeatures; i++) magnitude += Math.abs(x[n * inFeatures + i]! * weight[o * inFeatures + i]!);
    return sumBound(inFeatures + 1, magnitude);
  };
}

/** dense backwardInput, dx[n, i] = sum_o dy[n, o] * weight[o, i]: outFeatures terms. */
export function denseInputGradientTolerance(dy: Values, weight: Values, { inFeatures, outFeatures }: DenseDims): (index: number) => number {
  return (index) => {
    const n = Math.floor(index / inFeatures);
    const i = index % inFeatures;
    let magnitude = 0;
    for (let o = 0; o < outFeatures; o++) magnitude += Math.abs(dy[n * outFeatures + o]! * weight[o * inFeatures + i]!);
    return sumBound(outFeatures, magnitude);
  };
}

/** dense backwardWeight, dweight[o, i] = sum_n dy[n, o] * x[n, i]: batch terms. */
export function denseWeightGradientTolerance(dy: Values, x: Values, { batch, inFeatures, outFeatures }: DenseDims): (index: number) => number {
  return (index) => {
    const o = Math.floor(index / inFeatures);
    const i = index % inFeatures;
    let magnitude = 0;
    for (let n = 0; n < batch; n++) magnitude += Math.abs(dy[n * outFeatures + o]! * x[n * inFeatures + i]!);
    return sumBound(batch, magnitude);
  };
}

/** dense backwardWeight, dbias[o] = sum_n dy[n, o]: batch terms. */
export function denseBiasGradientTolerance(dy: Values, { batch, outFeatures }: DenseDims): (o: number) => number {
  return (o) => {
    let magnitude = 0;
    for (let n = 0; n < batch; n++) magnitude += Math.abs(dy[n * outFeatures + o]!);
    return sumBound(batch, magnitude);
  };
}

/**
 * sigmoid forward, from e = exp(-|z|) (relative error (3 + 2|z|) ULP): a = 1/(1 + e) for z >= 0 adds the
 * sum's and the division's rounding, a = e/(1 + e) for z < 0 takes e's error twice. Together at most
 * (9 + 4|z|) ULP of a, i.e. (18 + 8|z|) u relative.
 */
export function sigmoidTolerance(preActivation: Values, expected: Values): (index: number) => number {
  return (index) => (18 + 8 * Math.abs(preActivation[index]!)) * u * Math.abs(expected[index]!) + MIN_NORMAL;
}

/** sigmoid backward, dActivation * a * (1 - a): three roundings (two products, one difference). */
export function sigmoidBackwardTolerance(expected: Values): (index: number) => number {
  return (index) => 4 * u * Math.abs(expected[index]!);
}

/** Per row of logits: the bound on the error of its logsumexp and the largest |logit - max| it shifts by. */
function logSumExpBound(logits: Values, row: number, classes: number): { bound: number; logSumExp: number } {
  let largest = -Infinity;
  for (let j = 0; j < classes; j++) largest = Math.max(largest, logits[row + j]!);
  let sum = 0;
  let spread = 0;
  for (let j = 0; j < classes; j++) {
    sum += Math.exp(logits[row + j]! - largest);
    spread = Math.max(spread, largest - logits[row + j]!);
  }
  const logSumExp = largest + Math.log(sum);
  // The sum of exps: the differences' rounding (u|d|) and exp's (3 + 2|d|) ULP, then `classes` additions.
  const sumRelative = (classes + 6 + 5 * spread) * u;
  // log of a sum in [1, classes]: the sum's relative error, plus log's own (2^-21 absolute or 3 ULP), then the addition of the max.
  const bound = sumRelative + 2 ** -21 + 6 * u * Math.log(classes) + u * Math.abs(logSumExp);
  return { bound, logSumExp };
}

/** softmax cross-entropy's rowLoss = logsumexp - logit[label]: logsumexp's bound plus the difference's rounding. */
export function rowLossTolerance(logits: Values, classes: number, expected: Values): (n: number) => number {
  return (n) => logSumExpBound(logits, n * classes, classes).bound + u * Math.abs(expected[n]!);
}

/**
 * softmax cross-entropy's dlogits = (exp(logit - logsumexp) - onehot) / batch: p = exp(t) carries t's error
 * (logsumexp's bound plus the subtraction's u|t|) and exp's (3 + 2|t|) ULP; then one rounding of p - onehot
 * and the division's 2.5 ULP. A p below the smallest normal may be flushed to zero.
 */
export function dlogitsTolerance(logits: Values, labels: Values, batch: number, classes: number): (index: number) => number {
  return (index) => {
    const n = Math.floor(index / classes);
    const j = index % classes;
    const { bound, logSumExp } = logSumExpBound(logits, n * classes, classes);
    const t = logits[index]! - logSumExp;
    const p = Math.exp(t);
    const difference = Math.abs(p - (j === labels[n] ? 1 : 0));
    return (p * (bound + (6 + 5 * Math.abs(t)) * u) + 6 * u * difference + MIN_NORMAL) / batch;
  };
}

/** sgd, parameter - learningRate * gradient: a product and a difference, each rounded once. */
export function sgdTolerance(parameter: Values, gradient: Values, learningRate: number): (index: number) => number {
  return (index) => 2 * u * (Math.abs(parameter[index]!) + Math.abs(learningRate * gradient[index]!));
}

/**
 * A whole training step of the network against its float64 reference: each kernel's float32 error is of
 * the order of its bound above (about 1e-5 relative at most), and three batch norms and four dense layers
 * carry it through the step; STEP_RTOL leaves a margin over that while a wiring error (a wrong buffer, a
 * missing pass) moves a parameter by the size of its update. Each updated parameter must be within
 * STEP_RTOL of its tensor's largest update, plus its own rounding.
 */
export const STEP_RTOL = 1e-4;

export function stepTolerance(before: Values, expected: Values): (index: number) => number {
  let largestUpdate = 0;
  for (let i = 0; i < expected.length; i++) largestUpdate = Math.max(largestUpdate, Math.abs(expected[i]! - before[i]!));
  return (index) => STEP_RTOL * largestUpdate + 2 * u * Math.abs(expected[index]!);
}

/** Logits and sigmoid inputs of an evaluation after training steps: within STEP_RTOL of the tensor's largest magnitude. */
export function evaluationTolerance(expected: Values): (index: number) => number {
  let largest = 0;
  for (let i = 0; i < expected.length; i++) largest = Math.max(largest, Math.abs(expected[i]!));
  return () => STEP_RTOL * largest;
}
