// Compensated sums of Elems, lane by lane (two-sum.wgsl's TwoSum on each lane, fenced alike): summing an Elem's lanes
// first would round every Elem at the size of the four, and a long sum of those roundings would drift.
// `lost` holds the lanes' rounding errors (NaN only where a lane's sum is not finite).
struct ElemSum { sum: Elem, lost: Elem }

fn elemSumAdd(s: ptr<function, ElemSum>, v: Elem) {
  let next = elemFence((*s).sum + v);
  let back = elemFence(next - (*s).sum);
  (*s).lost += elemFence((*s).sum - elemFence(next - back)) + elemFence(v - back);
  (*s).sum = next;
}

// The total over the lanes, as a compensated pair.
fn elemSumTotal(s: ElemSum) -> vec2<f32> {
  let lanes = elemLanes(s.sum);
  let front = twoSum(lanes.x, lanes.y);
  let rear = twoSum(lanes.z, lanes.w);
  let total = twoSum(front.x, rear.x);
  return vec2<f32>(total.x, select(0.0, ((total.y + front.y) + rear.y) + elemSum(s.lost), abs(total.x) <= 0x1.fffffep+127f));
}
