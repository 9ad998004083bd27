//! The element-wise and per-row parts of a BERT layer: GELU, layer norm and
//! attention over each sentence's own tokens. Written as plain loops the
//! compiler vectorises; each entry point has an AVX-512 twin picked at run
//! time.

use rayon::prelude::*;

/// `e^x` in f32 (relative error about 2e-7), branch-free so loops of it
/// vectorise: `2^n · p(r)` with `x = n ln 2 + r`, `|r| ≤ ln 2 / 2`.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5 · 2^23 rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    // Taylor coefficients to r^7 (Cephes' expf).
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 5e-1;
    let p = p * r * r + r + 1.0;
    // 2^n from the bits of n + ROUND, whose low mantissa bits hold n + 127
    // here: `n as i32` is a saturating conversion the compiler does not
    // vectorise, and it left every loop of exp one lane wide. Exact for the
    // clamped range (n in -126..=127), so the value is the same bits.
    let biased = (n + (ROUND + 127.0)).to_bits() - ROUND.to_bits();
    let scale = f32::from_bits(biased << 23);
    p * scale
}

/// `erf(x)`, absolute error below 1.5e-7 in exact arithmetic, 5e-7 in f32
/// (Abramowitz and Stegun 7.1.26).
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    let y = 1.0 - poly * exp(-a * a);
    y.copysign(x)
}

/// BERT's GELU: `x · Φ(x)` with the exact (erf) normal CDF.
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// Gemma's GELU (`gelu_pytorch_tanh`): `0.5 x (1 + tanh u)` with
/// `u = √(2/π) (x + 0.044715 x³)`, computed as `x · σ(2u)`, the same value.
#[inline(always)]
pub fn gelu_tanh(x: f32) -> f32 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    let u = SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x);
    x / (1.0 + exp(-2.0 * u))
}

/// [`gelu`] on 16 lanes with AVX-512 F: the same formulas, with fused
/// multiply-adds (the compiler would not fuse them, nor use whole
/// 512-bit vectors, on its own).
///
/// # Safety
/// The CPU must have AVX-512 F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub unsafe fn gelu_avx512(x: std::arch::x86_64::__m512) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::*;
    let set = _mm512_set1_ps;
    // erf(a) for a = |x| / √2 (Abramowitz and Stegun 7.1.26).
    let z = _mm512_mul_ps(x, set(std::f32::consts::FRAC_1_SQRT_2));
    let a = _mm512_abs_ps(z);
    let t = _mm512_div_ps(set(1.0), _mm512_fmadd_ps(set(0.327_591_1), a, set(1.0)));
    let mut poly = set(1.061_405_4);
    for c in [-1.453_152_1, 1.421_413_7, -0.284_496_74, 0.254_829_6] {
        poly = _mm512_fmadd_ps(poly, t, set(c));
    }
    poly = _mm512_mul_ps(poly, t);
    // e^(-a²): 2^n · p(r), as `exp`.
    let y = _mm512_max_ps(_mm512_mul_ps(_mm512_sub_ps(set(0.0), a), a), set(-87.0));
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
        _mm512_mul_ps(y, set(std::f32::consts::LOG2_E)),
    );
    let r = _mm512_fnmadd_ps(
        n,
        set(-2.121_944_4e-4),
        _mm512_fnmadd_ps(n, set(0.693_359_4), y),
    );
    let mut p = set(1.987_569_1e-4);
    for c in [
        1.398_199_9e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        5e-1,
    ] {
        p = _mm512_fmadd_ps(p, r, set(c));
    }
    p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, set(1.0)));
    let e = _mm512_scalef_ps(p, n);
    let erf_abs = _mm512_fnmadd_ps(poly, e, set(1.0));
    // Back to erf(z) with z's sign, then 0.5 · x · (1 + erf).
    let sign = _mm512_and_si512(_mm512_castps_si512(z), _mm512_set1_epi32(i32::MIN));
    let erf = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(erf_abs), sign));
    _mm512_mul_ps(_mm512_mul_ps(set(0.5), x), _mm512_add_ps(set(1.0), erf))
}

/// Sum with 16 running partial sums, so the loop vectorises (the order is
/// fixed, so the result is the same on every run).
#[inline(always)]
pub fn sum16(xs: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0f32; 16];
    let chunks = xs.chunks_exact(16);
    let tail = chunks.remainder();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += f(x);
        }
    }
    let mut total = tail.iter().map(|&x| f(x)).sum::<f32>();
    for a in acc {
        total += a;
    }
    total
}

#[inline(always)]
fn layer_norm_rows(x: &mut [f32], width: usize, gamma: &[f32], beta: &[f32], eps: f32) {
    for row in x.chunks_exact_mut(width) {
        let mean = sum16(row, |v| v) / width as f32;
        let var = sum16(row, |v| (v - mean) * (v - mean)) / width as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for ((v, &g), &b) in row.iter_mut().zip(gamma).zip(beta) {
            *v = (*v - mean) * inv * g + b;
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn layer_norm_rows_avx512(x: &mut [f32], width: usize, g: &[f32], b: &[f32], eps: f32) {
    layer_norm_rows(x, width, g, b, eps)
}

/// Rows handed to one layer-norm task.
const LAYER_NORM_ROWS: usize = 64;

/// Layer norm of each `width`-long row of `x`, in place.
pub fn layer_norm(
    x: &mut [f32],
    width: usize,
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    avx512: bool,
) {
    x.par_chunks_mut(LAYER_NORM_ROWS * width).for_each(|rows| {
        #[cfg(target_arch = "x86_64")]
        if avx512 {
            // SAFETY: the caller passes `avx512` only where the CPU has it.
            return unsafe { layer_norm_rows_avx512(rows, width, gamma, beta, eps) };
        }
        let _ = avx512;
        layer_norm_rows(rows, width, gamma, beta, eps)
    });
}

/// The shape of multi-head attention.
#[derive(Debug, Clone, Copy)]
pub struct Heads {
    pub heads: usize,
    pub head_dim: usize,
}

impl Heads {
    pub fn hidden(self) -> usize {
        self.heads * self.head_dim
    }
}

/// An additive bias on attention scores that depends only on the head and
/// on the key's position relative to the query within a sentence (MPNet's
/// relative position bias), for every distance of sentences up to
/// `longest` tokens.
pub struct DistanceBias {
    /// Head `h`'s bias for `key - query = d` is at
    /// `h * (2 * longest - 1) + longest - 1 + d`.
    values: Vec<f32>,
    longest: usize,
}

impl DistanceBias {
    /// The bias of `heads` heads for sentences up to `longest` tokens;
    /// `value(d, h)` is head `h`'s bias for `key - query = d`.
    pub fn new(heads: usize, longest: usize, value: impl Fn(i64, usize) -> f32) -> Self {
        let span = (2 * longest).saturating_sub(1);
        let mut values = vec![0f32; heads * span];
        for (h, row) in values.chunks_exact_mut(span.max(1)).enumerate() {
            for (v, d) in row.iter_mut().zip(1 - longest as i64..) {
                *v = value(d, h);
            }
        }
        DistanceBias { values, longest }
    }

    /// Head `head`'s bias for `key - query = distance`.
    pub fn value(&self, head: usize, distance: i64) -> f32 {
        let span = 2 * self.longest - 1;
        self.values[head * span + (self.longest as i64 - 1 + distance) as usize]
    }

    /// Head `head`'s bias for query `query` of a `len`-token sentence
    /// against keys `0..len`: one contiguous slice, since it depends on
    /// `key - query` only.
    #[inline(always)]
    fn row(&self, head: usize, query: usize, len: usize) -> &[f32] {
        let span = 2 * self.longest - 1;
        let start = head * span + self.longest - 1 - query;
        &self.values[start..start + len]
    }
}

/// Self-attention of one sentence: `qkv` holds its `len` rows of
/// `[query | key | value]` (each `hidden` wide), `ctx` receives `len × hidden`.
/// One head's keys (`hd` values at offset `ko` of each of `len` rows of
/// `stride`) transposed into `keys_t` (`hd × len`), so each query's scores
/// are one sweep over the keys.
#[inline(always)]
fn transpose_keys(
    qkv: &[f32],
    len: usize,
    stride: usize,
    ko: usize,
    hd: usize,
    keys_t: &mut [f32],
) {
    for j in 0..len {
        for d in 0..hd {
            keys_t[d * len + j] = qkv[j * stride + ko + d];
        }
    }
}

#[inline(always)]
fn attend_sentence(
    qkv: &[f32],
    len: usize,
    shape: Heads,
    bias: Option<&DistanceBias>,
    ctx: &mut [f32],
) {
    let (hd, hidden) = (shape.head_dim, shape.hidden());
    let stride = 3 * hidden;
    let scale = 1.0 / (hd as f32).sqrt();
    // Keys transposed (`hd × len`) so each query's scores are one
    // vectorised sweep over the keys.
    let mut keys_t = vec![0f32; hd * len];
    let mut scores = vec![0f32; len];
    let mut q = vec![0f32; hd];
    for h in 0..shape.heads {
        let (qo, ko, vo) = (h * hd, hidden + h * hd, 2 * hidden + h * hd);
        transpose_keys(qkv, len, stride, ko, hd, &mut keys_t);
        for i in 0..len {
            for (qd, &v) in q
                .iter_mut()
                .zip(&qkv[i * stride + qo..i * stride + qo + hd])
            {
                *qd = v * scale;
            }
            scores.fill(0.0);
            for (d, &qd) in q.iter().enumerate() {
                for (s, &k) in scores.iter_mut().zip(&keys_t[d * len..(d + 1) * len]) {
                    *s += qd * k;
                }
            }
            if let Some(bias) = bias {
                for (s, &b) in scores.iter_mut().zip(bias.row(h, i, len)) {
                    *s += b;
                }
            }
            let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            for s in scores.iter_mut() {
                *s = exp(*s - max);
            }
            let inv = 1.0 / sum16(&scores, |v| v);
            let out = &mut ctx[i * hidden + qo..i * hidden + qo + hd];
            out.fill(0.0);
            for (j, &p) in scores.iter().enumerate() {
                let v = &qkv[j * stride + vo..j * stride + vo + hd];
                for (o, &vd) in out.iter_mut().zip(v) {
                    *o += p * vd;
                }
            }
            for o in out.iter_mut() {
                *o *= inv;
            }
        }
    }
}

/// [`attend_sentence`] with AVX-512 F written out: 16 keys' scores per
/// vector (masked at the end), a head's 32 or 64 values in two or four
/// vectors. Other head widths take the plain loops.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn attend_sentence_avx512(
    qkv: &[f32],
    len: usize,
    shape: Heads,
    bias: Option<&DistanceBias>,
    ctx: &mut [f32],
) {
    use std::arch::x86_64::*;
    let (hd, hidden) = (shape.head_dim, shape.hidden());
    if hd % 16 != 0 || hd > 64 {
        return attend_sentence(qkv, len, shape, bias, ctx);
    }
    let vectors = hd / 16;
    let stride = 3 * hidden;
    let scale = 1.0 / (hd as f32).sqrt();
    let mut keys_t = vec![0f32; hd * len];
    let mut scores = vec![0f32; len];
    let mask = |from: usize| -> __mmask16 {
        if len - from >= 16 {
            0xffff
        } else {
            ((1u32 << (len - from)) - 1) as __mmask16
        }
    };
    for h in 0..shape.heads {
        let (qo, ko, vo) = (h * hd, hidden + h * hd, 2 * hidden + h * hd);
        transpose_keys(qkv, len, stride, ko, hd, &mut keys_t);
        for i in 0..len {
            let q = &qkv[i * stride + qo..i * stride + qo + hd];
            let bias_row = bias.map(|b| b.row(h, i, len));
            let mut top = _mm512_set1_ps(f32::NEG_INFINITY);
            for jb in (0..len).step_by(16) {
                let m = mask(jb);
                let mut acc = _mm512_setzero_ps();
                for (d, &qd) in q.iter().enumerate() {
                    let k = _mm512_maskz_loadu_ps(m, keys_t.as_ptr().add(d * len + jb));
                    acc = _mm512_fmadd_ps(_mm512_set1_ps(qd * scale), k, acc);
                }
                if let Some(b) = bias_row {
                    acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(m, b.as_ptr().add(jb)));
                }
                _mm512_mask_storeu_ps(scores.as_mut_ptr().add(jb), m, acc);
                top = _mm512_mask_max_ps(top, m, top, acc);
            }
            let max = _mm512_reduce_max_ps(top);
            for s in scores.iter_mut() {
                *s = exp(*s - max);
            }
            let inv = _mm512_set1_ps(1.0 / sum16(&scores, |v| v));
            let mut out = [_mm512_setzero_ps(); 4];
            for (j, &p) in scores.iter().enumerate() {
                let p = _mm512_set1_ps(p);
                let v = qkv.as_ptr().add(j * stride + vo);
                for (c, o) in out.iter_mut().enumerate().take(vectors) {
                    *o = _mm512_fmadd_ps(p, _mm512_loadu_ps(v.add(16 * c)), *o);
                }
            }
            let dst = ctx.as_mut_ptr().add(i * hidden + qo);
            for (c, o) in out.iter().enumerate().take(vectors) {
                _mm512_storeu_ps(dst.add(16 * c), _mm512_mul_ps(*o, inv));
            }
        }
    }
}

/// Self-attention of every sentence of a batch stored back to back (no
/// padding): sentence `s` is `lens[s]` rows of `qkv` (`3 × hidden` wide);
/// its context rows go to the same rows of `ctx` (`hidden` wide). `bias`,
/// when given, is added to every score (it must cover the longest
/// sentence). One call per layer; sentences run in parallel.
pub fn attention(
    qkv: &[f32],
    lens: &[usize],
    shape: Heads,
    bias: Option<&DistanceBias>,
    ctx: &mut [f32],
    avx512: bool,
) {
    let hidden = shape.hidden();
    if let Some(bias) = bias {
        let longest = lens.iter().copied().max().unwrap_or(0);
        assert!(
            longest <= bias.longest,
            "a {longest}-token sentence past the bias's {} tokens",
            bias.longest
        );
    }
    let mut pieces = Vec::with_capacity(lens.len());
    let (mut rest, mut row) = (ctx, 0);
    for &len in lens {
        let (head, tail) = rest.split_at_mut(len * hidden);
        pieces.push((row, len, head));
        rest = tail;
        row += len;
    }
    pieces.into_par_iter().for_each(|(row, len, out)| {
        let rows = &qkv[row * 3 * hidden..(row + len) * 3 * hidden];
        #[cfg(target_arch = "x86_64")]
        if avx512 {
            // SAFETY: the caller passes `avx512` only where the CPU has it.
            return unsafe { attend_sentence_avx512(rows, len, shape, bias, out) };
        }
        let _ = avx512;
        attend_sentence(rows, len, shape, bias, out)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gelu_tanh_matches_the_tanh_form() {
        for i in -120..=120 {
            let x = i as f32 * 0.05;
            let u = 0.797_884_6f64 * (x as f64 + 0.044_715 * (x as f64).powi(3));
            let want = 0.5 * x as f64 * (1.0 + u.tanh());
            let got = gelu_tanh(x) as f64;
            assert!(
                (got - want).abs() < 1e-6,
                "gelu_tanh({x}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn exp_matches_std() {
        for i in -800..=800 {
            let x = i as f32 * 0.1;
            let (got, want) = (exp(x), x.exp());
            assert!(
                ((got - want) / want).abs() < 1e-6,
                "exp({x}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn exp_scales_by_exactly_two_to_the_n() {
        // The power of two as the integer conversion made it, for every n
        // the clamp allows (x from -87 to 88, and beyond, which clamp).
        for i in -100_000..=100_000 {
            let x = i as f32 * 1e-3;
            let c = x.clamp(-87.0, 88.0);
            let n = (c * std::f32::consts::LOG2_E + 12_582_912.0) - 12_582_912.0;
            let want = f32::from_bits(((n as i32 + 127) as u32) << 23);
            let biased = (n + (12_582_912.0 + 127.0)).to_bits() - 12_582_912f32.to_bits();
            assert_eq!(f32::from_bits(biased << 23), want, "x = {x}");
        }
        assert!(exp(f32::NAN).is_nan());
    }

    #[test]
    fn erf_matches_series_and_symmetry() {
        // erf(x) = 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1)), in f64.
        for i in -30..=30 {
            let x = i as f64 * 0.1;
            let (mut term, mut sum) = (x, x);
            for n in 1..60 {
                term *= -x * x / n as f64;
                sum += term / (2 * n + 1) as f64;
            }
            let want = sum * 2.0 / std::f64::consts::PI.sqrt();
            let got = erf(x as f32) as f64;
            assert!((got - want).abs() < 5e-7, "erf({x}) = {got}, want {want}");
        }
        assert_eq!(gelu(0.0), 0.0);
        assert!((gelu(10.0) - 10.0).abs() < 1e-5 && gelu(-10.0).abs() < 1e-5);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn gelu_avx512_matches_the_scalar_gelu() {
        if !std::arch::is_x86_feature_detected!("avx512f") {
            eprintln!("skipped: this CPU has no AVX-512 F");
            return;
        }
        use std::arch::x86_64::*;
        for start in (-160..160).step_by(16) {
            let xs: Vec<f32> = (start..start + 16).map(|i| i as f32 * 0.05).collect();
            let mut got = [0f32; 16];
            // SAFETY: AVX-512 F was detected above.
            unsafe {
                _mm512_storeu_ps(got.as_mut_ptr(), gelu_avx512(_mm512_loadu_ps(xs.as_ptr())))
            };
            for (&x, &g) in xs.iter().zip(&got) {
                assert!((g - gelu(x)).abs() < 1e-6, "gelu({x}): {g} vs {}", gelu(x));
            }
        }
    }

    /// A distance bias reaches each sentence's own scores only: two
    /// sentences packed give what each gives alone, the bias changes the
    /// result, and the AVX-512 kernel agrees with the plain loops.
    #[test]
    fn biased_attention_stays_within_each_sentence() {
        let shape = Heads {
            heads: 2,
            head_dim: 16,
        };
        let width = 3 * shape.hidden();
        let lens = [5usize, 9];
        let rows: usize = lens.iter().sum();
        let qkv: Vec<f32> = (0..rows * width)
            .map(|i| ((i * 37 % 101) as f32 / 101.0 - 0.5) * 2.0)
            .collect();
        let bias = DistanceBias::new(2, 9, |d, h| (d as f32 * 0.3).sin() * (h as f32 + 1.0));
        let run = |qkv: &[f32], lens: &[usize], bias: Option<&DistanceBias>, avx512: bool| {
            let mut ctx = vec![0f32; lens.iter().sum::<usize>() * shape.hidden()];
            attention(qkv, lens, shape, bias, &mut ctx, avx512);
            ctx
        };
        let packed = run(&qkv, &lens, Some(&bias), false);
        let first = run(&qkv[..5 * width], &[5], Some(&bias), false);
        let second = run(&qkv[5 * width..], &[9], Some(&bias), false);
        assert_eq!(packed, [first, second].concat());
        assert_ne!(packed, run(&qkv, &lens, None, false));
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            let fast = run(&qkv, &lens, Some(&bias), true);
            for (a, b) in fast.iter().zip(&packed) {
                assert!((a - b).abs() < 1e-5, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn layer_norm_centres_and_scales() {
        let mut x: Vec<f32> = (0..64).map(|i| i as f32).collect();
        layer_norm(&mut x, 32, &[2.0; 32], &[1.0; 32], 1e-12, false);
        for row in x.chunks(32) {
            let mean = row.iter().sum::<f32>() / 32.0;
            let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 32.0;
            assert!(
                (mean - 1.0).abs() < 1e-5 && (var - 4.0).abs() < 1e-3,
                "{mean} {var}"
            );
        }
    }
}
