// Chan's merge (welford.wgsl) of two statistics partials (struct Partial { state: Welford, pivot: f32 },
// declared by the kernel), as merge-*.wgsl and the gather of replicas use it: windows of a chunked tensor,
// and replicas, have their own pivots. An empty partial (count 0) adds nothing.
const EMPTY_PARTIAL = Partial(EMPTY_WELFORD, 0.0);

fn combine(a: Partial, b: Partial) -> Partial {
  if (a.state.count == 0.0) { return b; } // keeps b's pivot when a is an empty slot (and a's when b is)
  return Partial(welfordMerge(a.state, b.state, vec2<f32>(a.pivot, b.pivot)), a.pivot);
}
