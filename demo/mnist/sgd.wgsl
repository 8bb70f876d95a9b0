// Plain stochastic gradient descent on one parameter tensor: parameter -= learningRate * gradient.

struct Hyperparameters {
  learningRate: f32,
}

override WORKGROUP_SIZE: u32;

// Bindings: declared from the record in kernels.ts.

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3u) {
  if (id.x >= arrayLength(&parameter)) {
    return;
  }
  parameter[id.x] -= hyperparameters.learningRate * gradient[id.x];
}
