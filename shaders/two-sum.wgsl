// Error-free addition, the basis of every long sum: a + b = s + e exactly, s the float32 sum and e its
// rounding error (Knuth's TwoSum: any magnitudes, no branch). Sums that carry their errors along in a
// second float32 lose nothing to a long serial chain, where a plain float32 sum of n terms drifts by up to
// n roundings of its running total. Once s is infinite (or NaN) there is nothing to compensate, and
// Inf - Inf would turn the error into NaN: it is 0 then.
// WGSL lets a compiler reassociate float operations, and some do (Mesa's, lavapipe's among them: it
// turns (a + b) - a into b, and every error here into 0). Each intermediate therefore goes through a
// fence (fence.wgsl; no-fence.wgsl where the Gpu's numerics turn them off to time them).

fn isFinite(v: f32) -> bool { return abs(v) <= 0x1.fffffep+127f; }

fn twoSum(a: f32, b: f32) -> vec2<f32> {
  let s = fence(a + b);
  let bb = fence(s - a);
  let e = fence(a - fence(s - bb)) + fence(b - bb);
  return vec2<f32>(s, select(0.0, e, abs(s) <= 0x1.fffffep+127f));
}

// Two compensated sums side by side: .xy the float32 sums, .zw their accumulated rounding errors.
fn addCompensated(sums: vec4<f32>, term: vec2<f32>) -> vec4<f32> {
  let x = twoSum(sums.x, term.x);
  let y = twoSum(sums.y, term.y);
  return vec4<f32>(x.x, y.x, sums.z + x.y, sums.w + y.y);
}

fn mergeCompensated(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
  return addCompensated(vec4<f32>(a.xy, a.zw + b.zw), b.xy);
}

// The compensated sums, each rounded once to float32.
fn compensatedTotal(sums: vec4<f32>) -> vec2<f32> { return sums.xy + sums.zw; }

// a * b as a compensated pair (.x + .y), exactly (Dekker's product): each is cut into halves of at
// most 12 significant bits by masking its low mantissa bits, so that each of the four partial products is
// exact (and fenced: a*bHi + a*bLo must not become a*b). Exact unless a partial product overflows or
// falls below the normal range.
fn twoProduct(a: f32, b: f32) -> vec2<f32> {
  let aHi = bitcast<f32>(bitcast<u32>(a) & 0xfffff000u);
  let aLo = a - aHi;
  let bHi = bitcast<f32>(bitcast<u32>(b) & 0xfffff000u);
  let bLo = b - bHi;
  let first = twoSum(fence(aHi * bHi), fence(aHi * bLo));
  let second = twoSum(first.x, fence(aLo * bHi));
  let third = twoSum(second.x, fence(aLo * bLo));
  return vec2<f32>(third.x, (first.y + second.y) + third.y);
}

// The compensated value hi + lo divided by d, as a compensated pair: the quotient q and, from the exact
// remainder hi + lo - q*d, what q missed.
fn dividedBy(hi: f32, lo: f32, d: f32) -> vec2<f32> {
  let q = hi / d;
  let qd = twoProduct(q, d);
  let remainder = (fence(hi - qd.x) - qd.y) + lo;
  return vec2<f32>(q, select(0.0, remainder / d, abs(q) <= 0x1.fffffep+127f));
}
