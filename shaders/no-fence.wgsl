// No fences (the Gpu's numerics, fences: false): fence.wgsl's functions as plain values, so that one
// benchmark run times what the fences cost. Correct only where the compiler keeps the order of float
// operations; Mesa's (lavapipe's) does not.
fn fence(v: f32) -> f32 { return v; }
fn fence2(v: vec2<f32>) -> vec2<f32> { return v; }
fn fence4(v: vec4<f32>) -> vec4<f32> { return v; }
