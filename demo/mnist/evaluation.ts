// What the page computes from a readback, on the CPU in float64: test accuracy and mean cross-entropy from
// the test digits' logits, the mean of the last mini-batch's per-row losses, and percentiles of one
// sigmoid's input over the test digits.

type Values = ArrayLike<number>;

/** The row's largest logit's index (the first, on a tie). */
function argmax(logits: Values, row: number, classes: number): number {
  let best = 0;
  for (let j = 1; j < classes; j++) if (logits[row + j]! > logits[row + best]!) best = j;
  return best;
}

/** The fraction of rows whose largest logit is their label's. */
export function accuracy(logits: Values, labels: Values, classes: number): number {
  let correct = 0;
  for (let n = 0; n < labels.length; n++) if (argmax(logits, n * classes, classes) === labels[n]) correct++;
  return correct / labels.length;
}

/** The mean over rows of logsumexp(logits) - logits[label]. */
export function meanCrossEntropy(logits: Values, labels: Values, classes: number): number {
  let total = 0;
  for (let n = 0; n < labels.length; n++) {
    const row = n * classes;
    let largest = -Infinity;
    for (let j = 0; j < classes; j++) largest = Math.max(largest, logits[row + j]!);
    let sum = 0;
    for (let j = 0; j < classes; j++) sum += Math.exp(logits[row + j]! - largest);
    total += largest + Math.log(sum) - logits[row + labels[n]!]!;
  }
  return total / labels.length;
}

export function mean(values: Values): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]!;
  return sum / values.length;
}

/**
 * Percentiles (fractions in [0, 1]) of the values, interpolated linearly between the closest ranks (as
 * numpy.percentile's default): the sorted values' entry at (length - 1) * fraction.
 */
export function percentiles(values: Values, fractions: readonly number[]): number[] {
  if (values.length === 0) throw new RangeError('percentiles of no values');
  const sorted = Float64Array.from(values).sort();
  return fractions.map((fraction) => {
    const position = (sorted.length - 1) * fraction;
    const below = Math.floor(position);
    const above = Math.min(below + 1, sorted.length - 1);
    return sorted[below]! + (position - below) * (sorted[above]! - sorted[below]!);
  });
}
