// Element type for runs whose length is not a multiple of 4.
alias Elem = f32;
const LANES: u32 = 1u;
fn elemFirst(v: Elem) -> f32 { return v; }
fn elemSum(v: Elem) -> f32 { return v; }
fn elemSquares(v: Elem) -> f32 { return v * v; }
fn elemLanes(v: Elem) -> vec4<f32> { return vec4<f32>(v, 0.0, 0.0, 0.0); }
// v itself, fenced against reassociation (fence.wgsl).
fn elemFence(v: Elem) -> Elem { return fence(v); }
fn elemVariance(v: Elem, m: f32) -> f32 { return 0.0; } // one value has none
