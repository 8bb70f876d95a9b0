// How the loops' compensated sums take a value (the Gpu's numerics, compensation: 'value'): elem-sums.wgsl's
// TwoSum, lane by lane, the rounding error of every addition kept exactly.
fn elemSumAccumulate(s: ptr<function, ElemSum>, v: Elem) { elemSumAdd(s, v); }
