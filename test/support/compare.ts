// Elementwise comparison against the float64 reference, in the manner of the WebGPU CTS's
// checkElementsPassPredicate: a failure lists the worst elements, expected vs actual.

export interface Comparison {
  /** Largest |actual - expected| over all elements. */
  maxAbsError: number;
  /** Largest |actual - expected| / tolerance (<= 1 passes). */
  worstRatio: number;
}

/**
 * Checks |actual[i] - expected[i]| <= tolerance(i) for every i (NaN must match NaN, an infinity the same
 * infinity) and throws a message naming the five worst elements otherwise.
 */
export function compareElements(
  what: string,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance: (i: number) => number,
): Comparison {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: length ${actual.length}, expected ${expected.length}`);
  }
  let maxAbsError = 0;
  let worstRatio = 0;
  const failures: { i: number; ratio: number }[] = [];
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e) || Number.isNaN(a)) {
      if (Number.isNaN(e) !== Number.isNaN(a)) failures.push({ i, ratio: Infinity });
      continue;
    }
    if (a === e) continue; // exact, which is the only way an infinity matches (Inf - Inf is NaN)
    const err = Math.abs(a - e);
    const ratio = err / tolerance(i);
    maxAbsError = Math.max(maxAbsError, err);
    worstRatio = Math.max(worstRatio, ratio);
    if (!(ratio <= 1)) failures.push({ i, ratio });
  }
  if (failures.length > 0) {
    failures.sort((p, q) => q.ratio - p.ratio);
    const lines = failures
      .slice(0, 5)
      .map(({ i }) => `  [${i}] expected ${expected[i]} got ${actual[i]} (tolerance ${tolerance(i).toExponential(2)})`);
    throw new Error(`${what}: ${failures.length} of ${actual.length} elements out of tolerance; worst:\n${lines.join('\n')}`);
  }
  return { maxAbsError, worstRatio };
}
