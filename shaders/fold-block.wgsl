// How the statistics loops (slice-statistics.wgsl, rows-statistics.wgsl) fold the values they load into
// an invocation's Welford state (welford.wgsl): a block of 16 values at a time. The block's mean takes a
// constant 1/16, its variance the mean of its squared deviations from that mean, and then one Chan merge
// (one division) adds the block to the state, where a Welford update per vec4 took two divisions for
// every 4 values in one dependent chain. Deviations are quartered before squaring (the mean of 16
// squares is the sum of the squares of the quarters), so no square overflows where the block's variance
// fits; nothing forms E[x^2] - E[x]^2.
// The block's sum is compensated value by value (elem-sums.wgsl, with accumulate-*.wgsl by the Gpu's
// numerics) and its mean passed on with its Lo part: a plain float32 sum of 16 values would round at 16
// times their size, where Welford's update per value (PyTorch's) rounds each value once at its own size,
// and the mean of a channel whose mean is near 0 would show it (summed plainly and compensated once per
// block, the long reductions' errors were up to 4.5 times PyTorch CUDA's; docs/numerics.md).
// BLOCK_VALUES and DEVIATION_SCALE (1/sqrt(BLOCK_VALUES)) are declared from src/engine/dispatch.ts's
// FOLD_BLOCK_VALUES, which also gives every invocation at least one whole block.
// Elems the loops load before each fold: one block (and as many loads in flight).
const FOLD_ELEMS: u32 = BLOCK_VALUES / LANES;

// The pivot the values are shifted by (pivot.wgsl): one that makes x - pivot exact, so the compensated
// sums have exact terms.
fn statisticsPivot(c: u32) -> f32 { return exactShiftPivot(c); }

// Folds the first `count` (1 ..= FOLD_ELEMS) of `values` (the loads past the end of an invocation's
// share come last and are ignored), shifted by the channel's pivot.
fn foldElems(state: ptr<function, Welford>, values: array<Elem, FOLD_ELEMS>, count: u32, pivot: f32) {
  var shifted: array<Elem, FOLD_ELEMS>;
  for (var j = 0u; j < FOLD_ELEMS; j++) { shifted[j] = values[j] - pivot; }
  var sum = ElemSum(shifted[0], Elem(0.0));
  for (var j = 1u; j < count; j++) { elemSumAccumulate(&sum, shifted[j]); }
  let total = elemSumTotal(sum);
  var block: Welford;
  // A block sum that is not finite (values near the float32 limit, or an Inf among them): the mean sums
  // the values scaled by 1/n first, finite where the values' mean is, Inf where one of them is.
  let overflowed = !isFinite(total.x);
  if (count == FOLD_ELEMS) {
    var mean = total * (1.0 / f32(BLOCK_VALUES)); // exact: a power of two
    if (overflowed) { mean = vec2<f32>(scaledSum(shifted, count, 1.0 / f32(BLOCK_VALUES)), 0.0); }
    var squares = 0.0;
    for (var j = 0u; j < FOLD_ELEMS; j++) { squares += elemSquares((shifted[j] - mean.x) * DEVIATION_SCALE); }
    block = Welford(f32(BLOCK_VALUES), mean.x, mean.y, total.x, total.y, squares, 0.0);
  } else { // the short last block of an invocation: divisions by its count
    let n = f32(count * LANES);
    var mean = dividedBy(total.x, total.y, n);
    if (overflowed) { mean = vec2<f32>(scaledSum(shifted, count, 1.0 / n), 0.0); }
    var squares = 0.0;
    for (var j = 0u; j < count; j++) { squares += elemSquares((shifted[j] - mean.x) * DEVIATION_SCALE); }
    block = Welford(n, mean.x, mean.y, total.x, total.y, squares * (f32(BLOCK_VALUES) / n), 0.0);
  }
  *state = welfordMerge(*state, block, vec2<f32>(0.0));
}

// The sum of the first `count` of `values`, each scaled by `scale` first (a plain float32 sum).
fn scaledSum(values: array<Elem, FOLD_ELEMS>, count: u32, scale: f32) -> f32 {
  var sum = 0.0;
  for (var j = 0u; j < count; j++) { sum += elemSum(values[j] * scale); }
  return sum;
}

// The state the loop built is the invocation's.
fn foldResult(state: Welford) -> Welford { return state; }
