// The statistics loops' fold as it was before the block merge (fold-block.wgsl): one Welford update per
// Elem, with two divisions each. Kept selectable (the internal GpuOptions.statisticsMerge: 'vec4') so one
// benchmark run can time both; its arithmetic is unchanged, and it leaves the Lo parts of the state 0.
// Its values are shifted by the median itself (pivot.wgsl), as before.
// Elems the loops load before each fold (loads in flight), folded in the order of one at a time.
const FOLD_ELEMS: u32 = 4u;

// The pivot the values are shifted by (pivot.wgsl): the median, as before.
fn statisticsPivot(c: u32) -> f32 { return medianPivot(c); }

fn foldElems(state: ptr<function, Welford>, values: array<Elem, FOLD_ELEMS>, count: u32, pivot: f32) {
  for (var j = 0u; j < count; j++) { welfordAdd(state, values[j] - pivot); }
}

// The state the loop built, with the sum that welfordAdd does not keep: count * mean, exactly.
fn foldResult(state: Welford) -> Welford {
  let sum = twoProduct(state.count, state.mean);
  return Welford(state.count, state.mean, state.meanLo, sum.x, sum.y, state.variance, state.varianceLo);
}

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
