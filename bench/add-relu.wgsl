// The unfused sequence of the benchmark's residual comparison: after batchNorm has written y, a kernel of
// its own adds the residual and applies the ReLU, result = relu(y + z), one vec4 of f32 per invocation,
// the ReLU as the library's (NaN passes through). What a framework without the fused op runs (its add and
// ReLU already fused with each other). Not a library kernel: bench/add-relu-kernel.ts.
override WORKGROUP_SIZE: u32;

@group(0) @binding(0) var<storage, read> y: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> z: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> result: array<vec4<f32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  // Rows of the grid past the 65535 workgroups one dimension allows.
  let i = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (i < arrayLength(&result)) {
    let v = y[i] + z[i];
    result[i] = select(vec4<f32>(0.0), v, !(v <= vec4<f32>(0.0)));
  }
}
