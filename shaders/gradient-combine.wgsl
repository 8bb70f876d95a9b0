// The merge of two gradient partials (struct Partial { sums: vec4<f32>, count: f32 }, declared by the
// kernel: compensated sums, two-sum.wgsl), as merge-*.wgsl uses it.
const EMPTY_PARTIAL = Partial(vec4<f32>(0.0), 0.0);

fn combine(a: Partial, b: Partial) -> Partial {
  return Partial(mergeCompensated(a.sums, b.sums), a.count + b.count);
}
