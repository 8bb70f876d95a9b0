// One column of a row-major matrix, gathered into a vector from element `outputOffset` on, so that a
// readback carries only the values it plots (one hidden unit's input over the mini-batches since the last
// readback, each step writing its own slot), not the whole layer.

struct Dims {
  rows: u32,
  columns: u32,
  column: u32,
  outputOffset: u32,
}

override WORKGROUP_SIZE: u32;

// Bindings: declared from the record in kernels.ts.

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3u) {
  if (id.x >= dims.rows) {
    return;
  }
  columnValues[dims.outputOffset + id.x] = matrixValues[id.x * dims.columns + dims.column];
}
