// A Welford state: count, mean and (biased) variance, the variance as M2/count rather than M2 so that
// every merge is a weighted average whose terms stay finite wherever the variance does (M2 of eight
// values of +-1e19 overflows float32, their variance of 1e38 does not), and an empty state (weight 0)
// adds 0, never 0 * Inf.
struct Welford { count: f32, mean: f32, variance: f32 }

// Adds one Elem (LANES values, already shifted by the pivot) to the state: Chan's merge with the Elem's
// own mean and variance, written as a correction added to the running variance (as to the mean):
// rescaling the variance by count/merged at every step would compound its rounding.
fn welfordAdd(state: ptr<function, Welford>, v: Elem) {
  let lanes = f32(LANES);
  let vMean = elemSum(v) / lanes;
  let merged = (*state).count + lanes;
  let wOld = (*state).count / merged;
  let wNew = lanes / merged;
  let delta = vMean - (*state).mean;
  (*state).mean += delta * wNew;
  (*state).variance += wNew * ((elemVariance(v, vMean) - (*state).variance) + (delta * wOld) * delta);
  (*state).count = merged;
}

// Chan's merge of two states of the same pivot, as weighted averages.
fn welfordMerge(a: Welford, b: Welford) -> Welford {
  let count = a.count + b.count;
  if (count == 0.0) { return a; }
  let wa = a.count / count;
  let wb = b.count / count;
  let delta = b.mean - a.mean;
  return Welford(count, a.mean + delta * wb, wa * a.variance + wb * b.variance + (delta * wa) * (delta * wb));
}
