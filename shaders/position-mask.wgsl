// Masked statistics (Keras's call(inputs, training, mask)): `mask` holds one f32 per position of x
// without its channel axis, and a position whose entry is 0 is left out of the mean and variance (and
// gets only the direct term of dx). It is bound whole; params.maskFirst is its index of the window's
// first sample's first position. Kernels without a mask keep every position (all-positions.wgsl).

// Whether the mask keeps position k of the window's positions (value k % spatial of its k / spatial-th
// sample, as rows-walk.wgsl counts them).
fn positionKept(k: u32) -> bool { return mask[params.maskFirst + k] != 0.0; }

// Whether the mask keeps the position of the window's element i (scalar Elems).
fn elementKept(i: u32) -> bool {
  let value = params.offset + i;
  let n = value / (params.channels * params.spatial);
  return positionKept(n * params.spatial + value % params.spatial);
}
