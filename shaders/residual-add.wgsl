// The residual (ResNet's shortcut) z, added to the normalized value before the activation in the
// forward's apply: y = act(x*scale + shift + z), one more read and no extra pass (cuDNN's
// CUDNN_BATCHNORM_OPS_BN_ADD_ACTIVATION, TensorFlow's _FusedBatchNormEx with a side input).
fn addResidual(i: u32, v: Elem) -> Elem { return v + loadZ(i); }
