// The forward's fused activation: a ReLU when FLAG_RELU is set (NaN passes through, as torch.relu).
fn activate(v: Elem) -> Elem {
  return select(v, select(Elem(0.0), v, !(v <= Elem(0.0))), hasFlag(params.flags, FLAG_RELU));
}
