// No residual: the forward's value goes to the activation as it is (residual-add.wgsl adds z), and the
// backward writes no dz (residual-gradient.wgsl writes it).
fn addResidual(i: u32, v: Elem) -> Elem { return v; }
fn writeResidualGradient(at: u32, g: Elem) {}
