// The backward of a forward with a residual writes dz, the residual's gradient: dy masked by the fused
// activation, which is also what reaches the batch norm (cuDNN's BatchNormalizationBackwardEx).
fn writeResidualGradient(at: u32, g: Elem) { storeDz(at, g); }
