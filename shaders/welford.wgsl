// A Welford state of values shifted by a pivot: count, mean, sum and (biased) variance, the variance as
// M2/count rather than M2 so that every merge is a weighted average whose terms stay finite wherever the
// variance does (M2 of eight values of +-1e19 overflows float32, their variance of 1e38 does not). Mean,
// sum and variance each carry the rounding errors of their updates in a second float32 (the Lo parts,
// two-sum.wgsl), so a chain of thousands of merges loses no more than one. The sum, which merges only
// add, gives the channel's mean (channel-statistics.wgsl); the mean is what merges subtract, exactly
// where two means are close, and so gives the variance its precision.
struct Welford { count: f32, mean: f32, meanLo: f32, sum: f32, sumLo: f32, variance: f32, varianceLo: f32 }

const EMPTY_WELFORD = Welford(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);

// Chan's merge of b into a; `pivots` holds a's and b's (vec2(0.0) for states of one pivot). One division.
// Mean and variance are updated as a correction added to a's, mean += delta*wb and variance +=
// wb*(vb - va) + wa*wb*delta^2, so that the rounding is relative to the correction, not to the moment,
// and is carried in the Lo parts; (delta*wa)*(delta*wb) stays finite wherever the merged variance does.
// An empty b changes nothing, and an empty a gives b (never 0 * Inf).
fn welfordMerge(a: Welford, b: Welford, pivots: vec2<f32>) -> Welford {
  if (b.count == 0.0) { return a; }
  // b's sum relative to a's pivot, exactly: + count*(b's pivot) - count*(a's pivot).
  var bSum = vec2<f32>(b.sum, b.sumLo);
  if (pivots.x != pivots.y) {
    let up = twoProduct(b.count, pivots.y);
    let down = twoProduct(b.count, -pivots.x);
    let first = twoSum(bSum.x, up.x);
    let second = twoSum(first.x, down.x);
    bSum = vec2<f32>(second.x, ((bSum.y + up.y) + down.y) + (first.y + second.y));
  }
  let shift = pivots.y - pivots.x;
  if (a.count == 0.0) {
    let mean = twoSum(b.mean, shift);
    return Welford(b.count, mean.x, mean.y + b.meanLo, bSum.x, bSum.y, b.variance, b.varianceLo);
  }
  let count = a.count + b.count;
  let r = 1.0 / count;
  let wa = a.count * r;
  let wb = b.count * r;
  let delta = (fence(b.mean - a.mean) + shift) + (b.meanLo - a.meanLo);
  var mean = twoSum(a.mean, delta * wb);
  // Means an infinite delta apart (an Inf among the values, or means of both signs near the float32
  // limit): their weighted average, Inf where one is (NaN where both are, of opposite signs) and finite
  // where both are, as the mean of the values is; the correction form would give Inf - Inf.
  if (!isFinite(delta)) { mean = vec2<f32>(fence(a.mean * wa) + (b.mean + shift) * wb, 0.0); }
  let sum = twoSum(a.sum, bSum.x);
  let spread = fence(b.variance - a.variance) + (b.varianceLo - a.varianceLo);
  var variance = twoSum(a.variance, wb * spread + (delta * wa) * (delta * wb));
  // Variances that overflowed (Inf - Inf in the spread), or means an infinite delta apart: the sum of
  // the non-negative terms, Inf where the variance overflows float32 (invstd 0, as PyTorch's float32
  // variance gives) and NaN where the values hold an Inf (as the float64 variance).
  if (!isFinite(delta) || !isFinite(spread)) { variance = vec2<f32>(fence(a.variance * wa) + b.variance * wb + (delta * wa) * (delta * wb), 0.0); }
  return Welford(count, mean.x, a.meanLo + mean.y, sum.x, (a.sumLo + bSum.y) + sum.y, variance.x, a.varianceLo + variance.y);
}

// The state's variance, rounded once.
fn welfordVariance(s: Welford) -> f32 { return s.variance + s.varianceLo; }
