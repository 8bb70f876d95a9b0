// Element type for runs whose length is a multiple of 4: one 16-byte load carries four values of one channel.
alias Elem = vec4<f32>;
const LANES: u32 = 4u;
fn elemFirst(v: Elem) -> f32 { return v.x; }
fn elemSum(v: Elem) -> f32 { return dot(v, vec4<f32>(1.0)); }
fn elemSquares(v: Elem) -> f32 { return dot(v, v); }
fn elemLanes(v: Elem) -> vec4<f32> { return v; }
// v itself, fenced against reassociation (fence.wgsl).
fn elemFence(v: Elem) -> Elem { return fence4(v); }
// Mean squared deviation of the lanes from m, halved before squaring so no square overflows first.
fn elemVariance(v: Elem, m: f32) -> f32 { let d = (v - vec4<f32>(m)) * 0.5; return dot(d, d); }
