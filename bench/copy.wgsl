// The benchmark's roofline: a plain copy, one vec4 of f32 per invocation, every value read once and
// written once. Its bandwidth on the device at hand is what the benchmark's bandwidth figures are
// fractions of (bench/copy-kernel.ts). Not a library kernel.
override WORKGROUP_SIZE: u32;

@group(0) @binding(0) var<storage, read> source: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> destination: array<vec4<f32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  // Rows of the grid past the 65535 workgroups one dimension allows.
  let i = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (i < arrayLength(&destination)) {
    destination[i] = source[i];
  }
}
