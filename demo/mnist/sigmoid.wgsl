// The logistic sigmoid, elementwise over any number of values (the binding's length).
//   forward:  activation = 1 / (1 + exp(-preActivation))
//   backward: dPreActivation = dActivation * activation * (1 - activation), from the forward's output

override WORKGROUP_SIZE: u32;

// Bindings: declared from the record in kernels.ts.

@compute @workgroup_size(WORKGROUP_SIZE)
fn forward(@builtin(global_invocation_id) id: vec3u) {
  if (id.x >= arrayLength(&activation)) {
    return;
  }
  let z = preActivation[id.x];
  // exp of a non-positive argument only: exp(-z) for large negative z would overflow.
  let e = exp(-abs(z));
  activation[id.x] = select(e / (1.0 + e), 1.0 / (1.0 + e), z >= 0.0);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backward(@builtin(global_invocation_id) id: vec3u) {
  if (id.x >= arrayLength(&dPreActivation)) {
    return;
  }
  let a = savedActivation[id.x];
  dPreActivation[id.x] = dActivation[id.x] * a * (1.0 - a);
}
