// Error-free addition, the basis of every long sum: a + b = s + e exactly, s the float32 sum and e its
// rounding error (Knuth's TwoSum: any magnitudes, no branch). Sums that carry their errors along in a
// second float32 lose nothing to a long serial chain, where a plain float32 sum of n terms drifts by up to
// n roundings of its running total. Once s is infinite (or NaN) there is nothing to compensate, and
// Inf - Inf would turn the error into NaN: it is 0 then.
// WGSL lets a compiler reassociate float operations, and some do (Mesa's, lavapipe's among them: it
// turns (a + b) - a into b, and every error here into 0). Each intermediate therefore goes through a
// fence, an integer operation with a value the compiler cannot know (Params.zero, always 0), across which
// nothing can be reassociated or cancelled.
fn fence(v: f32) -> f32 { return bitcast<f32>(bitcast<u32>(v) ^ params.zero); }
fn fence2(v: vec2<f32>) -> vec2<f32> { return bitcast<vec2<f32>>(bitcast<vec2<u32>>(v) ^ vec2<u32>(params.zero)); }

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

// n * x as a compensated pair (.x + .y), exactly for a count n < 2^24 (an integer-valued float): both
// are cut into halves of at most 12 significant bits, n at a multiple of 4096 and x by masking its low
// mantissa bits, so that each of the four partial products is exact (and fenced: n*xHi + n*xLo must not
// become n*x).
fn countTimes(n: f32, x: f32) -> vec2<f32> {
  let nHi = floor(n * (1.0 / 4096.0)) * 4096.0;
  let nLo = n - nHi;
  let xHi = bitcast<f32>(bitcast<u32>(x) & 0xfffff000u);
  let xLo = x - xHi;
  let a = twoSum(fence(nHi * xHi), fence(nHi * xLo));
  let b = twoSum(a.x, fence(nLo * xHi));
  let c = twoSum(b.x, fence(nLo * xLo));
  return vec2<f32>(c.x, (a.y + b.y) + c.y);
}

// The compensated sum hi + lo divided by a count n < 2^24, as a compensated pair: the quotient q and, from
// the exact remainder hi + lo - q*n, what q missed.
fn dividedByCount(hi: f32, lo: f32, n: f32) -> vec2<f32> {
  let q = hi / n;
  let qn = countTimes(n, q);
  let remainder = (fence(hi - qn.x) - qn.y) + lo;
  return vec2<f32>(q, select(0.0, remainder / n, abs(q) <= 0x1.fffffep+127f));
}
