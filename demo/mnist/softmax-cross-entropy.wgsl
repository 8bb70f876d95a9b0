// Softmax and cross-entropy of each row of logits against its label, one invocation per row:
//   rowLoss[n]    = logsumexp(logits[n]) - logits[n, label[n]]
//   dlogits[n, j] = (softmax(logits[n])_j - (j == label[n])) / batch
// dlogits is the gradient of the batch's mean loss; the mean itself is taken on the host from rowLoss
// when a readback wants it, so no step reduces over rows.

struct Dims {
  batch: u32,
  classes: u32,
}

override WORKGROUP_SIZE: u32;

// Bindings: declared from the record in kernels.ts.

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let n = id.x;
  if (n >= dims.batch) {
    return;
  }
  let row = n * dims.classes;
  // Shifted by the row's largest logit, so that no exp overflows.
  var largest = logits[row];
  for (var j = 1u; j < dims.classes; j++) {
    largest = max(largest, logits[row + j]);
  }
  var sum = 0.0;
  for (var j = 0u; j < dims.classes; j++) {
    sum += exp(logits[row + j] - largest);
  }
  let logSumExp = largest + log(sum);
  let label = labels[n];
  rowLoss[n] = logSumExp - logits[row + label];
  for (var j = 0u; j < dims.classes; j++) {
    let oneHot = select(0.0, 1.0, j == label);
    dlogits[row + j] = (exp(logits[row + j] - logSumExp) - oneHot) / f32(dims.batch);
  }
}
