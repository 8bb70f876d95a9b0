// Central finite differences of float64 losses, for the references' backward checks: truncation O(H^2) and
// rounding O(1e-16 / H) are both far below FD_TOLERANCE, relative to the gradient's largest element.
const H = 1e-5;
export const FD_TOLERANCE = 1e-7;

/** Central difference of f along each element of `values` (modified in place and restored). */
export function numericGradient(values: Float64Array, f: () => number): Float64Array {
  const grad = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    values[i] = v + H;
    const up = f();
    values[i] = v - H;
    const down = f();
    values[i] = v;
    grad[i] = (up - down) / (2 * H);
  }
  return grad;
}

/** Throws, naming the element, where `actual` is farther than FD_TOLERANCE * max(1, max|expected|) from `expected`. */
export function expectClose(what: string, actual: ArrayLike<number>, expected: Float64Array): void {
  const scale = Math.max(1, ...expected.map(Math.abs));
  if (actual.length !== expected.length) throw new Error(`${what}: ${actual.length} values, finite differences give ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    if (!(Math.abs(a - expected[i]!) <= FD_TOLERANCE * scale)) {
      throw new Error(`${what}[${i}]: backward ${a}, finite difference ${expected[i]} (tolerance ${FD_TOLERANCE * scale})`);
    }
  }
}
