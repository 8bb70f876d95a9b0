// How the loops' compensated sums take a value (the Gpu's numerics, compensation: 'kahan'): Kahan's
// summation, lane by lane. The error carried so far joins the value first, and the addition's rounding
// error is taken as Fast2Sum takes it, (v + lost) - (next - sum): exact where |sum| >= |v + lost|, as in
// a long sum nearly always, and within one rounding of it otherwise. Four additions and two fences per
// value, where TwoSum takes six and four; the error of the whole sum stays within 2u of sum|v| (Kahan's
// bound), however long it is.
fn elemSumAccumulate(s: ptr<function, ElemSum>, v: Elem) {
  let y = v + (*s).lost;
  let next = elemFence((*s).sum + y);
  (*s).lost = y - elemFence(next - (*s).sum);
  (*s).sum = next;
}
