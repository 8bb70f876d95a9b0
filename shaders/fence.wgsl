// Fences (the Gpu's numerics, fences: true): v itself, through an integer operation with a value the
// compiler cannot know (Params.zero, always 0), across which nothing can be reassociated or cancelled.
// WGSL lets a compiler reassociate float operations, and Mesa's (lavapipe's) does: without these it turns
// (a + b) - a into b, and every TwoSum error into 0.
fn fence(v: f32) -> f32 { return bitcast<f32>(bitcast<u32>(v) ^ params.zero); }
fn fence2(v: vec2<f32>) -> vec2<f32> { return bitcast<vec2<f32>>(bitcast<vec2<u32>>(v) ^ vec2<u32>(params.zero)); }
fn fence4(v: vec4<f32>) -> vec4<f32> { return bitcast<vec4<f32>>(bitcast<vec4<u32>>(v) ^ vec4<u32>(params.zero)); }
