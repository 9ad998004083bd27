//! Dense layers (`y = x · Wᵀ + b`, PyTorch's `Linear`) on plain buffers,
//! with the weights packed once at load time into the layout the
//! microkernels stream ([`super::kernels`]), and the bias, GELU or residual
//! applied while the tile is still in registers' reach.
//!
//! Rows are split into one task per thread (more when they do not fit the
//! cache); every row is computed by one kernel call whatever the split, so
//! the result does not depend on the thread count or on the other rows.

use rayon::prelude::*;

use super::kernels::{self, Cpu, Tile, MR, NR};
use super::ops;

/// What happens to `x · Wᵀ + b` before it is stored.
#[derive(Debug, Clone, Copy)]
pub enum Epilogue<'a> {
    /// Stored as is.
    Bias,
    /// Through BERT's GELU (the erf form).
    BiasGelu,
    /// Plus the same-shaped `residual` (`rows × out`).
    BiasResidual(&'a [f32]),
    /// Gemma's GeGLU, on a layer whose columns come as [`interleave_gate_up`]
    /// lays them out (each tile 16 gate columns, then their 16 up columns):
    /// stores `gelu_tanh(gate) · up`, `width` columns a row. The gate and up
    /// products never reach memory.
    GeGlu { width: usize },
}

impl Epilogue<'_> {
    /// Columns a row of the output holds, for a layer of `out` columns.
    fn output_width(&self, out: usize) -> usize {
        match *self {
            Epilogue::GeGlu { width } => width,
            _ => out,
        }
    }
}

/// Gate and up projections (`width × inp` each, row-major) as one layer for
/// [`Epilogue::GeGlu`]: 16 gate rows, then the same 16 up rows, and so on,
/// the last pair zero-padded to 16 each. Returns the weights and their rows
/// (`32 × ⌈width / 16⌉`). Each output column is the same dot product as in
/// separate layers, so the values are the same bits.
pub fn interleave_gate_up(gate: &[f32], up: &[f32], width: usize, inp: usize) -> (Vec<f32>, usize) {
    const HALF: usize = NR / 2;
    let blocks = width.div_ceil(HALF);
    let mut w = vec![0f32; blocks * NR * inp];
    for b in 0..blocks {
        let rows = HALF.min(width - b * HALF);
        for (half, src) in [gate, up].into_iter().enumerate() {
            let from = &src[b * HALF * inp..(b * HALF + rows) * inp];
            let to = (b * NR + half * HALF) * inp;
            w[to..to + rows * inp].copy_from_slice(from);
        }
    }
    (w, blocks * NR)
}

/// Most row blocks one task packs and keeps hot: 8 × 12 rows × 1536 inputs
/// × 4 bytes is 590 KB, within a core's L2 beside one weight panel.
const MAX_BLOCKS_PER_TASK: usize = 8;

/// An element of the packed operands: an f32, a pair of bf16, or a quad of
/// int8 (all 32 bits wide).
pub trait Packed: Copy + Default + Send + Sync + 'static {
    /// Input values per element.
    const STEP: usize;
    /// Whether values are quantised: each weight row (output) gets a scale,
    /// each activation row a scale and a zero point, the kernel's integer
    /// sums are corrected for the zero point and multiplied by both scales,
    /// and each weight panel ends with one row of start sums (zero).
    const QUANTISED: bool = false;
    /// The scale of one row of weights (1 unless quantised).
    fn weight_scale(_row: &[f32]) -> f32 {
        1.0
    }
    /// The quantiser of one row of activations (identity unless quantised).
    fn activation_quant(_row: &[f32]) -> Quant {
        Quant::IDENTITY
    }
    /// Packs weights `values[0..STEP]` (missing ones are zero).
    fn weight(values: &[f32], scale: f32) -> Self;
    /// Packs activations `values[0..STEP]` (missing ones are zero).
    fn activation(values: &[f32], q: Quant) -> Self;
    /// The element with these 32 bits.
    fn from_bits(bits: u32) -> Self;
    /// Packs one row of activations: step `s` goes to `out[s * MR]`.
    /// `scratch` is a buffer to reuse.
    #[inline(always)]
    fn pack_row(row: &[f32], q: Quant, steps: usize, out: &mut [Self], _scratch: &mut Vec<u8>) {
        for s in 0..steps {
            let from = (s * Self::STEP).min(row.len());
            let to = ((s + 1) * Self::STEP).min(row.len());
            out[s * MR] = Self::activation(&row[from..to], q);
        }
    }
}

/// How a row of activations maps to bytes: `x ≈ scale · (q − zero)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quant {
    pub scale: f32,
    pub zero: f32,
}

impl Quant {
    const IDENTITY: Quant = Quant {
        scale: 1.0,
        zero: 0.0,
    };
}

impl Packed for f32 {
    const STEP: usize = 1;
    fn weight(values: &[f32], _: f32) -> Self {
        values.first().copied().unwrap_or(0.0)
    }
    fn activation(values: &[f32], _: Quant) -> Self {
        values.first().copied().unwrap_or(0.0)
    }
    fn from_bits(bits: u32) -> Self {
        f32::from_bits(bits)
    }
}

/// Two bf16 values, the first in the low half.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(transparent)]
pub struct Bf16Pair(pub u32);

impl Bf16Pair {
    fn new(values: &[f32]) -> Self {
        let lo = values.first().map_or(0, |&v| kernels::to_bf16(v));
        let hi = values.get(1).map_or(0, |&v| kernels::to_bf16(v));
        Bf16Pair(u32::from(lo) | (u32::from(hi) << 16))
    }
}

impl Packed for Bf16Pair {
    const STEP: usize = 2;
    fn weight(values: &[f32], _: f32) -> Self {
        Bf16Pair::new(values)
    }
    fn activation(values: &[f32], _: Quant) -> Self {
        Bf16Pair::new(values)
    }
    fn from_bits(bits: u32) -> Self {
        Bf16Pair(bits)
    }
    /// Rounds 16 pairs at a time into a buffer, in a loop the compiler
    /// vectorises, then spreads them to their places (step by step, each
    /// value through [`kernels::to_bf16`] alone, this was 7% of
    /// EmbeddingGemma's time).
    #[inline(always)]
    fn pack_row(row: &[f32], q: Quant, steps: usize, out: &mut [Self], _: &mut Vec<u8>) {
        const CHUNK: usize = 16;
        let whole = (row.len() / 2).min(steps);
        let mut pairs = [0u32; CHUNK];
        for (c, values) in row[..2 * whole].chunks(2 * CHUNK).enumerate() {
            for (p, v) in pairs.iter_mut().zip(values.chunks_exact(2)) {
                *p = u32::from(kernels::to_bf16(v[0])) | (u32::from(kernels::to_bf16(v[1])) << 16);
            }
            for (i, &p) in pairs.iter().take(values.len() / 2).enumerate() {
                out[(c * CHUNK + i) * MR] = Bf16Pair(p);
            }
        }
        for s in whole..steps {
            let from = (s * 2).min(row.len());
            let to = (s * 2 + 2).min(row.len());
            out[s * MR] = Self::activation(&row[from..to], q);
        }
    }
}

/// Four int8 values, the first in the low byte: signed weights
/// (`round(w / scale)`, scale = the output row's largest |w| / 127), or
/// unsigned activations (`round(x / scale) + zero`, from the token's
/// smallest and largest values: asymmetric, so that skewed rows such as
/// GELU's outputs use all 256 levels). `vpdpbusd` multiplies unsigned by
/// signed bytes; the zero point comes out as `zero · Σ w` per output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(transparent)]
pub struct I8Quad(pub u32);

impl I8Quad {
    /// The value weight `w` has once quantised with `scale`.
    fn weight_value(w: f32, scale: f32) -> f32 {
        (w / scale).round().clamp(-127.0, 127.0) * scale
    }

    fn new(values: &[f32], scale: f32, offset: f32) -> Self {
        let mut bytes = [0u8; 4];
        for (b, &v) in bytes.iter_mut().zip(values) {
            *b = ((v / scale).round().clamp(-127.0, 127.0) + offset) as i32 as u8;
        }
        if values.len() < 4 && offset != 0.0 {
            // Missing activations are zero, stored as the zero point.
            for b in &mut bytes[values.len()..] {
                *b = offset as u8;
            }
        }
        I8Quad(u32::from_le_bytes(bytes))
    }
}

/// Rounds to the nearest integer, ties to even, for |x| < 2^22; written
/// so that loops of it vectorise (`f32::round` is a library call).
#[inline(always)]
fn round_small(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 · 2^23
    (x + MAGIC) - MAGIC
}

/// `round(v · inv) + zero`, clamped to 0..=255, for each of `row`.
fn quantise(row: &[f32], inv: f32, zero: f32, bytes: &mut [u8]) {
    for (b, &v) in bytes.iter_mut().zip(row) {
        *b = (round_small((v * inv).clamp(-255.0, 255.0)) + zero).clamp(0.0, 255.0) as u8;
    }
}

/// [`quantise`] 16 values a step (the same results: the conversion rounds
/// to nearest even, as `round_small` does).
///
/// # Safety
/// The CPU must have AVX-512 F; `bytes` must be at least as long as `row`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn quantise_avx512(row: &[f32], inv: f32, zero: f32, bytes: &mut [u8]) {
    use std::arch::x86_64::*;
    debug_assert!(bytes.len() >= row.len());
    let (vinv, lo, hi) = (
        _mm512_set1_ps(inv),
        _mm512_set1_ps(-255.0),
        _mm512_set1_ps(255.0),
    );
    let (zero_point, floor) = (_mm512_set1_epi32(zero as i32), _mm512_setzero_si512());
    let chunks = row.len() / 16;
    for c in 0..chunks {
        let v = _mm512_loadu_ps(row.as_ptr().add(16 * c));
        let v = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(v, vinv), lo), hi);
        let q = _mm512_max_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(v), zero_point), floor);
        // Unsigned saturation caps at 255.
        _mm_storeu_si128(
            bytes.as_mut_ptr().add(16 * c).cast(),
            _mm512_cvtusepi32_epi8(q),
        );
    }
    let done = 16 * chunks;
    quantise(&row[done..], inv, zero, &mut bytes[done..]);
}

impl Packed for I8Quad {
    const STEP: usize = 4;
    const QUANTISED: bool = true;
    #[inline(always)]
    fn activation_quant(row: &[f32]) -> Quant {
        // 16 running minima and maxima, so the loop vectorises; the range
        // always holds 0, so that zero stays exact.
        let (mut lo, mut hi) = ([0f32; 16], [0f32; 16]);
        let chunks = row.chunks_exact(16);
        let (mut min, mut max) = (0f32, 0f32);
        for &v in chunks.remainder() {
            min = if v < min { v } else { min };
            max = if v > max { v } else { max };
        }
        for c in chunks {
            for ((l, h), &v) in lo.iter_mut().zip(hi.iter_mut()).zip(c) {
                *l = if v < *l { v } else { *l };
                *h = if v > *h { v } else { *h };
            }
        }
        for (l, h) in lo.into_iter().zip(hi) {
            min = if l < min { l } else { min };
            max = if h > max { h } else { max };
        }
        if max > min {
            let scale = (max - min) / 255.0;
            Quant {
                scale,
                zero: round_small(-min / scale).clamp(0.0, 255.0),
            }
        } else {
            Quant::IDENTITY
        }
    }
    #[inline(always)]
    fn weight_scale(row: &[f32]) -> f32 {
        // 16 running maxima, so the loop vectorises.
        let mut lanes = [0f32; 16];
        let chunks = row.chunks_exact(16);
        let mut max = chunks
            .remainder()
            .iter()
            .fold(0f32, |m, &v| if v.abs() > m { v.abs() } else { m });
        for c in chunks {
            for (l, &v) in lanes.iter_mut().zip(c) {
                *l = if v.abs() > *l { v.abs() } else { *l };
            }
        }
        for l in lanes {
            max = if l > max { l } else { max };
        }
        if max > 0.0 {
            max / 127.0
        } else {
            1.0
        }
    }
    fn weight(values: &[f32], scale: f32) -> Self {
        I8Quad::new(values, scale, 0.0)
    }
    fn activation(values: &[f32], q: Quant) -> Self {
        let mut bytes = [q.zero as u8; 4];
        for (b, &v) in bytes.iter_mut().zip(values) {
            *b = (round_small(v / q.scale) + q.zero).clamp(0.0, 255.0) as u8;
        }
        I8Quad(u32::from_le_bytes(bytes))
    }
    fn from_bits(bits: u32) -> Self {
        I8Quad(bits)
    }
    #[inline(always)]
    fn pack_row(row: &[f32], q: Quant, steps: usize, out: &mut [Self], bytes: &mut Vec<u8>) {
        // Quantise the row into contiguous bytes (a vectorised loop), then
        // deal them out four at a time.
        bytes.clear();
        bytes.resize(steps * 4, q.zero as u8);
        let inv = 1.0 / q.scale;
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512 F; `bytes` is at least `row` long.
            unsafe { quantise_avx512(row, inv, q.zero, bytes) };
        } else {
            quantise(row, inv, q.zero, bytes);
        }
        #[cfg(not(target_arch = "x86_64"))]
        quantise(row, inv, q.zero, bytes);
        for (s, quad) in bytes.chunks_exact(4).enumerate() {
            out[s * MR] = I8Quad(u32::from_le_bytes([quad[0], quad[1], quad[2], quad[3]]));
        }
    }
}

/// The 32-bit words of packed elements, for the kernels.
fn words<E: Packed>(s: &[E]) -> &[u32] {
    assert_eq!(std::mem::size_of::<E>(), 4);
    // SAFETY: every `Packed` type is 32 bits of plain data (f32, or a
    // `repr(transparent)` u32), so the slice reinterprets in place.
    unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<u32>(), s.len()) }
}

/// A microkernel: `steps` packed steps of one row block against one panel.
type Kernel<E> = fn(usize, &[E], &[E], &mut Tile);

/// A dense layer with its weights packed as `E`.
pub struct PackedLinear<E: Packed> {
    out: usize,
    inp: usize,
    /// Packed steps per row: `inp / E::STEP`, rounded up.
    steps: usize,
    /// `ceil(out / NR)` panels of `steps × NR` elements (then, when
    /// quantised, `NR` start sums).
    panels: Vec<E>,
    /// Elements per panel.
    panel_len: usize,
    /// The bias, zero-padded to whole panels.
    bias: Vec<f32>,
    /// Each output's weight scale, zero-padded (quantised layers only).
    col_scale: Vec<f32>,
    /// Each output's sum of quantised weights (quantised layers only).
    col_sum: Vec<i32>,
    kernel: Kernel<E>,
    /// Whether the epilogue may use AVX-512 F.
    avx512: bool,
    /// Quantised layers only: how many outliers each row of activations
    /// may set aside (see [`Outliers`]; 0: none), and the threshold, in
    /// root mean squares of the row, above which a value is one.
    outliers: usize,
    outlier_tau: f32,
    /// The weights in f32, transposed (`in × ` padded `out`), for the
    /// outliers' product (quantised layers with outliers only).
    outlier_w: Vec<f32>,
    /// The weights' rounding errors, quantised in turn (quantised layers
    /// only, where asked): the product adds both, so that the weights are
    /// good to about 15 bits.
    second: Option<Box<PackedLinear<E>>>,
}

/// Most outliers a row may have.
pub const MAX_OUTLIERS: usize = 8;

/// A row's largest values, computed in f32 beside the int8 product.
#[derive(Debug, Clone, Copy)]
pub struct Outliers {
    pub len: usize,
    pub index: [u32; MAX_OUTLIERS],
    pub value: [f32; MAX_OUTLIERS],
}

impl Default for Outliers {
    fn default() -> Self {
        Outliers {
            len: 0,
            index: [0; MAX_OUTLIERS],
            value: [0.0; MAX_OUTLIERS],
        }
    }
}

impl Outliers {
    /// Moves out of `row` (setting them to zero) its `k` largest values in
    /// magnitude among those above `tau` times the row's root mean square;
    /// ties go to the lower index.
    pub fn take(&mut self, row: &mut [f32], k: usize, tau: f32, avx512: bool) {
        self.len = 0;
        if k == 0 || row.is_empty() {
            return;
        }
        let mut lanes = [0f32; 16];
        let mut max_lanes = [0f32; 16];
        let chunks = row.chunks_exact(16);
        let mut ss = 0f32;
        let mut max = 0f32;
        for &v in chunks.remainder() {
            ss += v * v;
            max = if v.abs() > max { v.abs() } else { max };
        }
        for c in chunks {
            for ((l, m), &v) in lanes.iter_mut().zip(max_lanes.iter_mut()).zip(c) {
                *l += v * v;
                *m = if v.abs() > *m { v.abs() } else { *m };
            }
        }
        for (l, m) in lanes.into_iter().zip(max_lanes) {
            ss += l;
            max = if m > max { m } else { max };
        }
        let t = tau * (ss / row.len() as f32).sqrt();
        if max <= t {
            return;
        }
        let mut push = |j: usize, v: f32| {
            // Insertion into the list, largest first.
            let a = v.abs();
            let mut at = self.len;
            while at > 0 && self.value[at - 1].abs() < a {
                at -= 1;
            }
            if at >= k {
                return;
            }
            let end = (self.len + 1).min(k);
            for i in (at + 1..end).rev() {
                self.index[i] = self.index[i - 1];
                self.value[i] = self.value[i - 1];
            }
            self.index[at] = j as u32;
            self.value[at] = v;
            self.len = end;
        };
        #[cfg(target_arch = "x86_64")]
        if avx512 {
            // SAFETY: the caller says the CPU has AVX-512 F.
            unsafe { scan_avx512(row, t, &mut push) };
        } else {
            for (j, &v) in row.iter().enumerate() {
                if v.abs() > t {
                    push(j, v);
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        for (j, &v) in row.iter().enumerate() {
            if v.abs() > t {
                push(j, v);
            }
        }
        for &j in &self.index[..self.len] {
            row[j as usize] = 0.0;
        }
    }
}

/// Calls `push(j, row[j])` for each `|row[j]| > t`, in order.
///
/// # Safety
/// The CPU must have AVX-512 F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn scan_avx512(row: &[f32], t: f32, push: &mut impl FnMut(usize, f32)) {
    use std::arch::x86_64::*;
    let vt = _mm512_set1_ps(t);
    let chunks = row.len() / 16;
    for c in 0..chunks {
        let v = _mm512_loadu_ps(row.as_ptr().add(16 * c));
        let mut mask = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(_mm512_abs_ps(v), vt);
        while mask != 0 {
            let i = mask.trailing_zeros() as usize;
            push(16 * c + i, row[16 * c + i]);
            mask &= mask - 1;
        }
    }
    for (j, &v) in row.iter().enumerate().skip(16 * chunks) {
        if v.abs() > t {
            push(j, v);
        }
    }
}

/// A dense layer in f32.
pub type F32Linear = PackedLinear<f32>;
/// A dense layer with bf16 weights, its inputs rounded to bf16, summed in f32.
pub type Bf16Linear = PackedLinear<Bf16Pair>;
/// A dense layer with int8 weights (a scale per output) and its inputs
/// quantised to int8 per token, summed exactly in i32 (with the options of
/// [`I8Options`]).
pub type I8Linear = PackedLinear<I8Quad>;

/// Packs a block of `rows ≤ MR` rows of `x` (each `inp` long) as `steps ×
/// MR` elements, and writes each row's scale.
#[inline(always)]
fn pack_block<E: Packed>(
    x: &[f32],
    rows: usize,
    inp: usize,
    steps: usize,
    out: &mut [E],
    quants: &mut [Quant],
) {
    let mut scratch = Vec::new();
    for r in 0..MR {
        if r >= rows {
            for s in 0..steps {
                out[s * MR + r] = E::default();
            }
            quants[r] = Quant::IDENTITY;
            continue;
        }
        let row = &x[r * inp..(r + 1) * inp];
        let q = E::activation_quant(row);
        quants[r] = q;
        E::pack_row(row, q, steps, &mut out[r..], &mut scratch);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn pack_block_avx512<E: Packed>(
    x: &[f32],
    rows: usize,
    inp: usize,
    steps: usize,
    out: &mut [E],
    quants: &mut [Quant],
) {
    pack_block(x, rows, inp, steps, out, quants)
}

impl<E: Packed> PackedLinear<E> {
    fn with_kernel(
        weight: &[f32],
        bias: &[f32],
        out: usize,
        inp: usize,
        kernel: Kernel<E>,
        avx512: bool,
    ) -> Self {
        assert_eq!(weight.len(), out * inp, "weight is out × in");
        assert_eq!(bias.len(), out, "one bias per output");
        let steps = inp.div_ceil(E::STEP);
        let n_panels = out.div_ceil(NR);
        let panel_len = (steps + usize::from(E::QUANTISED)) * NR;
        let mut panels = vec![E::default(); n_panels * panel_len];
        let mut col_scale = Vec::new();
        let mut col_sum = Vec::new();
        for (p, panel) in panels.chunks_exact_mut(panel_len).enumerate() {
            for c in 0..NR {
                if p * NR + c >= out {
                    col_scale.push(0.0);
                    col_sum.push(0);
                    continue;
                }
                let row = &weight[(p * NR + c) * inp..(p * NR + c + 1) * inp];
                let scale = E::weight_scale(row);
                let mut sum = 0i64;
                for s in 0..steps {
                    let from = (s * E::STEP).min(inp);
                    let to = ((s + 1) * E::STEP).min(inp);
                    let e = E::weight(&row[from..to], scale);
                    panel[s * NR + c] = e;
                    if E::QUANTISED {
                        let bytes = words(std::slice::from_ref(&e))[0].to_le_bytes();
                        sum += bytes.iter().map(|&b| i64::from(b as i8)).sum::<i64>();
                    }
                }
                if E::QUANTISED {
                    // The sums start from zero; the zero points come out
                    // through `col_sum` in `dequantise`.
                    panel[steps * NR + c] = E::from_bits(0);
                    col_sum.push(i32::try_from(sum).expect("weight sum fits i32"));
                }
                col_scale.push(scale);
            }
        }
        if !E::QUANTISED {
            col_scale.clear();
        }
        let mut padded_bias = bias.to_vec();
        padded_bias.resize(n_panels * NR, 0.0);
        PackedLinear {
            out,
            inp,
            steps,
            panels,
            panel_len,
            bias: padded_bias,
            col_scale,
            col_sum,
            kernel,
            avx512,
            outliers: 0,
            outlier_tau: 0.0,
            outlier_w: Vec::new(),
            second: None,
        }
    }

    pub fn out_features(&self) -> usize {
        self.out
    }

    /// `y = epilogue(x · Wᵀ + b)` for `x` of `rows × in`, `y` of `rows × out`.
    pub fn forward(&self, x: &[f32], rows: usize, y: &mut [f32], epilogue: Epilogue) {
        let width = epilogue.output_width(self.out);
        assert_eq!(x.len(), rows * self.inp);
        assert_eq!(y.len(), rows * width);
        if let Epilogue::GeGlu { width } = epilogue {
            assert_eq!(self.out, width.div_ceil(NR / 2) * NR, "not a GeGLU layer");
        }
        if let Epilogue::BiasResidual(r) = epilogue {
            assert_eq!(r.len(), y.len());
        }
        if rows == 0 {
            return;
        }
        let blocks = rows.div_ceil(MR);
        let threads = rayon::current_num_threads().max(1);
        let tasks = blocks
            .div_ceil(MAX_BLOCKS_PER_TASK)
            .div_ceil(threads)
            .max(1)
            * threads;
        let blocks_per_task = blocks.div_ceil(tasks).max(1);
        let rows_per_task = blocks_per_task * MR;
        y.par_chunks_mut(rows_per_task * width)
            .enumerate()
            .for_each(|(t, y_task)| {
                let row0 = t * rows_per_task;
                let n = y_task.len() / width;
                self.task(
                    &x[row0 * self.inp..(row0 + n) * self.inp],
                    row0,
                    n,
                    y_task,
                    epilogue,
                );
            });
    }

    /// Rows `row0 .. row0 + n` (`x` and `y` hold only those).
    fn task(&self, x: &[f32], row0: usize, n: usize, y: &mut [f32], epilogue: Epilogue) {
        let blocks = n.div_ceil(MR);
        let block_len = self.steps * MR;
        let mut packed = vec![E::default(); blocks * block_len];
        let mut row_quants = vec![Quant::IDENTITY; blocks * MR];
        let use_out = E::QUANTISED && self.outliers > 0;
        let mut outl = vec![Outliers::default(); if use_out { blocks * MR } else { 0 }];
        // One block's rows with their outliers taken out.
        let mut scratch = Vec::new();
        for (b, (dst, quants)) in packed
            .chunks_exact_mut(block_len)
            .zip(row_quants.chunks_exact_mut(MR))
            .enumerate()
        {
            let rows = MR.min(n - b * MR);
            let mut x = &x[b * MR * self.inp..];
            if use_out {
                scratch.clear();
                scratch.extend_from_slice(&x[..rows * self.inp]);
                for (o, row) in outl[b * MR..]
                    .iter_mut()
                    .zip(scratch.chunks_exact_mut(self.inp))
                {
                    o.take(row, self.outliers, self.outlier_tau, self.avx512);
                }
                x = &scratch;
            }
            #[cfg(target_arch = "x86_64")]
            if self.avx512 {
                // SAFETY: `avx512` is set only where the CPU has AVX-512 F.
                unsafe { pack_block_avx512(x, rows, self.inp, self.steps, dst, quants) };
                continue;
            }
            pack_block(x, rows, self.inp, self.steps, dst, quants);
        }
        let mut tile: Tile = [0.0; MR * NR];
        for (p, panel) in self.panels.chunks_exact(self.panel_len).enumerate() {
            for (b, xb) in packed.chunks_exact(block_len).enumerate() {
                (self.kernel)(self.steps, xb, panel, &mut tile);
                if E::QUANTISED {
                    let cols = p * NR..(p + 1) * NR;
                    if let Some(s2) = &self.second {
                        // The rounding errors' product, added to the
                        // integer sums' once both are values.
                        let mut t2: Tile = [0.0; MR * NR];
                        let panel2 = &s2.panels[p * s2.panel_len..(p + 1) * s2.panel_len];
                        (s2.kernel)(self.steps, xb, panel2, &mut t2);
                        self.dequantise(
                            &mut t2,
                            &row_quants[b * MR..(b + 1) * MR],
                            &s2.col_scale[cols.clone()],
                            &s2.col_sum[cols.clone()],
                            None,
                        );
                        self.dequantise(
                            &mut tile,
                            &row_quants[b * MR..(b + 1) * MR],
                            &self.col_scale[cols.clone()],
                            &self.col_sum[cols.clone()],
                            Some(&t2),
                        );
                    } else {
                        self.dequantise(
                            &mut tile,
                            &row_quants[b * MR..(b + 1) * MR],
                            &self.col_scale[cols.clone()],
                            &self.col_sum[cols.clone()],
                            None,
                        );
                    }
                    if use_out {
                        let outp = self.bias.len();
                        let rows = MR.min(n - b * MR);
                        self.add_outliers(&mut tile, &outl[b * MR..b * MR + rows], outp, p * NR);
                    }
                }
                let rows = MR.min(n - b * MR);
                let place = TilePlace {
                    row: b * MR,
                    rows,
                    col: p * NR,
                    cols: NR.min(self.out - p * NR),
                    global_row0: row0,
                };
                self.store(&tile, place, y, epilogue);
            }
        }
    }

    /// [`dequantise`], vectorised where the CPU has AVX-512 F; `plus` is
    /// added to the values.
    #[inline(always)]
    fn dequantise(
        &self,
        tile: &mut Tile,
        rows: &[Quant],
        col_scale: &[f32],
        col_sum: &[i32],
        plus: Option<&Tile>,
    ) {
        #[cfg(target_arch = "x86_64")]
        if self.avx512 {
            // SAFETY: `avx512` is set only where the CPU has AVX-512 F.
            return unsafe { dequantise_avx512(tile, rows, col_scale, col_sum, plus) };
        }
        dequantise(tile, rows, col_scale, col_sum);
        if let Some(plus) = plus {
            for (a, &b) in tile.iter_mut().zip(plus) {
                *a += b;
            }
        }
    }

    /// Adds each row's outliers times their (f32) weights to the tile of
    /// columns `col .. col + NR`.
    #[inline(always)]
    fn add_outliers(&self, tile: &mut Tile, rows: &[Outliers], outp: usize, col: usize) {
        #[cfg(target_arch = "x86_64")]
        if self.avx512 {
            // SAFETY: `avx512` is set only where the CPU has AVX-512 F.
            return unsafe { add_outliers_avx512(tile, rows, &self.outlier_w, outp, col) };
        }
        for (acc, o) in tile.chunks_exact_mut(NR).zip(rows) {
            for (&j, &v) in o.index[..o.len].iter().zip(&o.value) {
                let at = j as usize * outp + col;
                for (t, &w) in acc.iter_mut().zip(&self.outlier_w[at..at + NR]) {
                    *t += v * w;
                }
            }
        }
    }

    fn store(&self, tile: &Tile, at: TilePlace, y: &mut [f32], epilogue: Epilogue) {
        #[cfg(target_arch = "x86_64")]
        if self.avx512 {
            // SAFETY: `avx512` is set only where the CPU has AVX-512 F.
            return unsafe { store_avx512(tile, at, &self.bias, self.out, y, epilogue) };
        }
        store_tile(tile, at, &self.bias, self.out, y, epilogue)
    }
}

/// Integer sums to values. The kernel left each sum's i32 bits in the
/// tile; `Σ q·w − zero · Σ w` is exact in i32, then scaled by the row's and
/// the column's scales.
fn dequantise(tile: &mut Tile, rows: &[Quant], col_scale: &[f32], col_sum: &[i32]) {
    for (acc, q) in tile.chunks_exact_mut(NR).zip(rows) {
        let zero = q.zero as i32;
        for ((a, &cs), &sum) in acc.iter_mut().zip(col_scale).zip(col_sum) {
            let exact = (a.to_bits() as i32).wrapping_sub(zero.wrapping_mul(sum));
            *a = exact as f32 * q.scale * cs;
        }
    }
}

/// [`dequantise`] 16 columns a step, then adds `plus`.
///
/// # Safety
/// The CPU must have AVX-512 F; `col_scale` and `col_sum` hold `NR` values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn dequantise_avx512(
    tile: &mut Tile,
    rows: &[Quant],
    col_scale: &[f32],
    col_sum: &[i32],
    plus: Option<&Tile>,
) {
    use std::arch::x86_64::*;
    assert!(col_scale.len() >= NR && col_sum.len() >= NR && rows.len() >= MR);
    let t = tile.as_mut_ptr();
    for v in 0..NR / 16 {
        let cs = _mm512_loadu_ps(col_scale.as_ptr().add(16 * v));
        let sum = _mm512_loadu_si512(col_sum.as_ptr().add(16 * v).cast());
        for (r, q) in rows.iter().enumerate().take(MR) {
            let at = t.add(r * NR + 16 * v);
            let acc = _mm512_castps_si512(_mm512_loadu_ps(at));
            let exact = _mm512_sub_epi32(
                acc,
                _mm512_mullo_epi32(_mm512_set1_epi32(q.zero as i32), sum),
            );
            let scale = _mm512_mul_ps(_mm512_set1_ps(q.scale), cs);
            let mut val = _mm512_mul_ps(_mm512_cvtepi32_ps(exact), scale);
            if let Some(plus) = plus {
                val = _mm512_add_ps(val, _mm512_loadu_ps(plus.as_ptr().add(r * NR + 16 * v)));
            }
            _mm512_storeu_ps(at, val);
        }
    }
}

/// The outliers' f32 product, added to the tile (see
/// [`PackedLinear::add_outliers`]).
///
/// # Safety
/// The CPU must have AVX-512 F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn add_outliers_avx512(
    tile: &mut Tile,
    rows: &[Outliers],
    weights: &[f32],
    outp: usize,
    col: usize,
) {
    use std::arch::x86_64::*;
    for (r, o) in rows.iter().enumerate().take(MR) {
        if o.len == 0 {
            continue;
        }
        let at = tile.as_mut_ptr().add(r * NR);
        let (mut a0, mut a1) = (_mm512_loadu_ps(at), _mm512_loadu_ps(at.add(16)));
        for (&j, &v) in o.index[..o.len].iter().zip(&o.value) {
            let w = &weights[j as usize * outp + col..j as usize * outp + col + NR];
            let v = _mm512_set1_ps(v);
            a0 = _mm512_fmadd_ps(v, _mm512_loadu_ps(w.as_ptr()), a0);
            a1 = _mm512_fmadd_ps(v, _mm512_loadu_ps(w.as_ptr().add(16)), a1);
        }
        _mm512_storeu_ps(at, a0);
        _mm512_storeu_ps(at.add(16), a1);
    }
}

/// Where a tile goes in the task's output.
#[derive(Debug, Clone, Copy)]
struct TilePlace {
    /// First row within the task, and how many rows are real.
    row: usize,
    rows: usize,
    /// First column, and how many columns are real.
    col: usize,
    cols: usize,
    /// The task's first row in the whole output (for the residual).
    global_row0: usize,
}

#[inline(always)]
fn store_tile(
    tile: &Tile,
    at: TilePlace,
    bias: &[f32],
    out: usize,
    y: &mut [f32],
    epilogue: Epilogue,
) {
    if let Epilogue::GeGlu { width } = epilogue {
        // `out` is the layer's column count; the output rows are `width`.
        const HALF: usize = NR / 2;
        let first = at.col / 2;
        let cols = HALF.min(width - first);
        let (gate_bias, up_bias) = bias[at.col..at.col + NR].split_at(HALF);
        for r in 0..at.rows {
            let (gate, up) = tile[r * NR..(r + 1) * NR].split_at(HALF);
            let start = (at.row + r) * width + first;
            let dst = &mut y[start..start + cols];
            if let Ok(dst) = <&mut [f32; HALF]>::try_from(&mut *dst) {
                // A whole block: fixed lengths, so the loop is one vector.
                let (g, gb): (&[f32; HALF], &[f32; HALF]) =
                    (gate.try_into().unwrap(), gate_bias.try_into().unwrap());
                let (u, ub): (&[f32; HALF], &[f32; HALF]) =
                    (up.try_into().unwrap(), up_bias.try_into().unwrap());
                for c in 0..HALF {
                    dst[c] = ops::gelu_tanh(g[c] + gb[c]) * (u[c] + ub[c]);
                }
                continue;
            }
            for (c, d) in dst.iter_mut().enumerate() {
                *d = ops::gelu_tanh(gate[c] + gate_bias[c]) * (up[c] + up_bias[c]);
            }
        }
        return;
    }
    let bias = &bias[at.col..at.col + at.cols];
    for r in 0..at.rows {
        let acc = &tile[r * NR..r * NR + at.cols];
        let start = (at.row + r) * out + at.col;
        let dst = &mut y[start..start + at.cols];
        match epilogue {
            Epilogue::Bias => {
                for ((d, &a), &b) in dst.iter_mut().zip(acc).zip(bias) {
                    *d = a + b;
                }
            }
            Epilogue::BiasGelu => {
                for ((d, &a), &b) in dst.iter_mut().zip(acc).zip(bias) {
                    *d = ops::gelu(a + b);
                }
            }
            Epilogue::BiasResidual(res) => {
                let g = (at.global_row0 + at.row + r) * out + at.col;
                let res = &res[g..g + at.cols];
                for (((d, &a), &b), &x) in dst.iter_mut().zip(acc).zip(bias).zip(res) {
                    *d = a + b + x;
                }
            }
            Epilogue::GeGlu { .. } => unreachable!("stored above"),
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn store_avx512(
    tile: &Tile,
    at: TilePlace,
    bias: &[f32],
    out: usize,
    y: &mut [f32],
    epilogue: Epilogue,
) {
    use std::arch::x86_64::*;
    if matches!(epilogue, Epilogue::BiasGelu) && at.cols == NR {
        // GELU is the costly epilogue: whole vectors, fused multiply-adds.
        let b = bias.as_ptr().add(at.col);
        for r in 0..at.rows {
            let dst = y.as_mut_ptr().add((at.row + r) * out + at.col);
            for v in 0..NR / 16 {
                let acc = _mm512_loadu_ps(tile.as_ptr().add(r * NR + 16 * v));
                let x = _mm512_add_ps(acc, _mm512_loadu_ps(b.add(16 * v)));
                _mm512_storeu_ps(dst.add(16 * v), ops::gelu_avx512(x));
            }
        }
        return;
    }
    store_tile(tile, at, bias, out, y, epilogue)
}

impl F32Linear {
    /// Packs PyTorch's `weight` (`out × in`, row-major) and `bias`, with the
    /// fastest kernel `cpu` runs.
    pub fn new(weight: &[f32], bias: &[f32], out: usize, inp: usize, cpu: Cpu) -> Self {
        #[cfg(target_arch = "x86_64")]
        if cpu.avx512f {
            fn kernel(k: usize, x: &[f32], w: &[f32], tile: &mut Tile) {
                // SAFETY: chosen only where the CPU has AVX-512 F; the
                // packed operands hold `k` steps (checked in debug builds).
                unsafe { kernels::x86::f32_avx512(k, x, w, tile) }
            }
            return Self::with_kernel(weight, bias, out, inp, kernel, true);
        }
        Self::with_kernel(weight, bias, out, inp, kernels::f32_portable, cpu.avx512f)
    }
}

impl Bf16Linear {
    /// Packs PyTorch's `weight` (`out × in`, row-major) as bf16, and `bias`
    /// (kept in f32), with the fastest kernel `cpu` runs.
    pub fn new(weight: &[f32], bias: &[f32], out: usize, inp: usize, cpu: Cpu) -> Self {
        #[cfg(target_arch = "x86_64")]
        if cpu.avx512bf16 {
            fn kernel(kp: usize, x: &[Bf16Pair], w: &[Bf16Pair], tile: &mut Tile) {
                // SAFETY: chosen only where the CPU has AVX-512 F and BF16;
                // the packed operands hold `kp` pair steps.
                unsafe { kernels::x86::bf16_avx512(kp, words(x), words(w), tile) }
            }
            return Self::with_kernel(weight, bias, out, inp, kernel, true);
        }
        fn portable(kp: usize, x: &[Bf16Pair], w: &[Bf16Pair], tile: &mut Tile) {
            kernels::bf16_portable(kp, words(x), words(w), tile)
        }
        Self::with_kernel(weight, bias, out, inp, portable, cpu.avx512f)
    }
}

impl I8Linear {
    /// Quantises PyTorch's `weight` (`out × in`, row-major) to int8 with a
    /// scale per output, keeps `bias` in f32, with the fastest kernel `cpu`
    /// runs.
    pub fn new(
        weight: &[f32],
        bias: &[f32],
        out: usize,
        inp: usize,
        cpu: Cpu,
        opts: I8Options,
    ) -> Self {
        let mut layer = Self::new_plain(weight, bias, out, inp, cpu);
        if opts.outliers > 0 {
            layer.outliers = opts.outliers.min(MAX_OUTLIERS);
            layer.outlier_tau = opts.outlier_tau;
            let outp = layer.bias.len();
            let mut t = vec![0f32; inp * outp];
            for (o, row) in weight.chunks_exact(inp).enumerate() {
                for (j, &w) in row.iter().enumerate() {
                    t[j * outp + o] = w;
                }
            }
            layer.outlier_w = t;
        }
        if opts.two_pass {
            let mut residual = weight.to_vec();
            for row in residual.chunks_exact_mut(inp) {
                let scale = I8Quad::weight_scale(row);
                for w in row.iter_mut() {
                    *w -= I8Quad::weight_value(*w, scale);
                }
            }
            let zero = vec![0.0; out];
            layer.second = Some(Box::new(Self::new_plain(&residual, &zero, out, inp, cpu)));
        }
        layer
    }

    /// Per-row weights and per-token activations, nothing more.
    fn new_plain(weight: &[f32], bias: &[f32], out: usize, inp: usize, cpu: Cpu) -> Self {
        #[cfg(target_arch = "x86_64")]
        if cpu.avx512vnni {
            fn kernel(kq: usize, x: &[I8Quad], w: &[I8Quad], tile: &mut Tile) {
                // SAFETY: chosen only where the CPU has AVX-512 F and VNNI;
                // the packed operands hold `kq` quad steps and the start row.
                unsafe { kernels::x86::i8_avx512(kq, words(x), words(w), tile) }
            }
            return Self::with_kernel(weight, bias, out, inp, kernel, true);
        }
        fn portable(kq: usize, x: &[I8Quad], w: &[I8Quad], tile: &mut Tile) {
            kernels::i8_portable(kq, words(x), words(w), tile)
        }
        Self::with_kernel(weight, bias, out, inp, portable, cpu.avx512f)
    }
}

/// What an int8 layer does beyond per-row weights and per-token inputs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct I8Options {
    /// Most values per row of inputs set aside and multiplied in f32
    /// ([`Outliers`]; at most [`MAX_OUTLIERS`]).
    pub outliers: usize,
    /// A value is an outlier above this many root mean squares of its row.
    pub outlier_tau: f32,
    /// Whether the weights' rounding errors get a second int8 product.
    pub two_pass: bool,
}

impl I8Options {
    /// Neither outliers nor a second pass.
    pub const PLAIN: I8Options = I8Options {
        outliers: 0,
        outlier_tau: 0.0,
        two_pass: false,
    };
}

/// A dense layer at any of the precisions, so that one model can mix them.
pub enum Dense {
    F32(F32Linear),
    Bf16(Bf16Linear),
    Int8(I8Linear),
}

impl Dense {
    pub fn out_features(&self) -> usize {
        match self {
            Dense::F32(l) => l.out_features(),
            Dense::Bf16(l) => l.out_features(),
            Dense::Int8(l) => l.out_features(),
        }
    }

    /// [`PackedLinear::forward`] of the layer inside.
    pub fn forward(&self, x: &[f32], rows: usize, y: &mut [f32], epilogue: Epilogue) {
        match self {
            Dense::F32(l) => l.forward(x, rows, y, epilogue),
            Dense::Bf16(l) => l.forward(x, rows, y, epilogue),
            Dense::Int8(l) => l.forward(x, rows, y, epilogue),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: Cpu = Cpu {
        avx512f: false,
        avx512bf16: false,
        avx512vnni: false,
    };

    /// Deterministic values in [-1, 1).
    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761).max(1);
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state as f32 / u32::MAX as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// `x · Wᵀ + b` in f64, row-major `rows × out`.
    fn naive(x: &[f32], w: &[f32], b: &[f32], rows: usize, out: usize, inp: usize) -> Vec<f64> {
        let mut y = vec![0f64; rows * out];
        for r in 0..rows {
            for o in 0..out {
                let dot: f64 = (0..inp)
                    .map(|k| x[r * inp + k] as f64 * w[o * inp + k] as f64)
                    .sum();
                y[r * out + o] = dot + b[o] as f64;
            }
        }
        y
    }

    fn max_error(got: &[f32], want: &[f64]) -> f64 {
        got.iter()
            .zip(want)
            .map(|(&g, &w)| (g as f64 - w).abs())
            .fold(0.0, f64::max)
    }

    /// Every precision, on this CPU's kernels and on the portable ones,
    /// against a plain f64 product; shapes with partial tiles and an input
    /// width that is not a multiple of 4.
    #[test]
    fn every_kernel_computes_the_product() {
        let (rows, out, inp) = (29, 70, 45);
        let (x, w, b) = (values(rows * inp, 1), values(out * inp, 2), values(out, 3));
        let want = naive(&x, &w, &b, rows, out, inp);
        for cpu in [Cpu::detect(), NONE] {
            let run = |layer: &Dense| {
                let mut y = vec![0f32; rows * out];
                layer.forward(&x, rows, &mut y, Epilogue::Bias);
                max_error(&y, &want)
            };
            let f32_err = run(&Dense::F32(F32Linear::new(&w, &b, out, inp, cpu)));
            let bf16_err = run(&Dense::Bf16(Bf16Linear::new(&w, &b, out, inp, cpu)));
            let int8_err = run(&Dense::Int8(I8Linear::new(
                &w,
                &b,
                out,
                inp,
                cpu,
                I8Options::PLAIN,
            )));
            // Sums of 45 products of values below 1: f32 rounding is ~1e-6,
            // bf16's 8-bit mantissas ~1e-2, int8's 1/255 steps ~5e-2.
            assert!(f32_err < 1e-5, "{cpu:?}: f32 off by {f32_err}");
            assert!(bf16_err < 0.05, "{cpu:?}: bf16 off by {bf16_err}");
            assert!(int8_err < 0.1, "{cpu:?}: int8 off by {int8_err}");
        }
    }

    #[test]
    fn the_geglu_epilogue_is_the_gate_and_up_layers_bit_for_bit() {
        // 20 columns: one whole block of 16 and a padded one of 4.
        let (rows, width, inp) = (29, 20, 45);
        let x = values(rows * inp, 11);
        let (gate, up) = (values(width * inp, 12), values(width * inp, 13));
        let (w, out) = interleave_gate_up(&gate, &up, width, inp);
        assert_eq!(out, 64);
        for cpu in [Cpu::detect(), NONE] {
            let layers = |w: &[f32], out: usize| -> [Dense; 3] {
                let b = vec![0f32; out];
                [
                    Dense::F32(F32Linear::new(w, &b, out, inp, cpu)),
                    Dense::Bf16(Bf16Linear::new(w, &b, out, inp, cpu)),
                    Dense::Int8(I8Linear::new(w, &b, out, inp, cpu, I8Options::PLAIN)),
                ]
            };
            let fused = layers(&w, out);
            let (gate, up) = (layers(&gate, width), layers(&up, width));
            for ((fused, gate), up) in fused.iter().zip(&gate).zip(&up) {
                let mut y = vec![0f32; rows * width];
                fused.forward(&x, rows, &mut y, Epilogue::GeGlu { width });
                let (mut g, mut u) = (vec![0f32; rows * width], vec![0f32; rows * width]);
                gate.forward(&x, rows, &mut g, Epilogue::Bias);
                up.forward(&x, rows, &mut u, Epilogue::Bias);
                let want: Vec<f32> = g
                    .iter()
                    .zip(&u)
                    .map(|(&g, &u)| ops::gelu_tanh(g) * u)
                    .collect();
                assert_eq!(y, want, "{cpu:?}");
            }
        }
    }

    #[test]
    fn outliers_are_the_largest_values_above_the_threshold() {
        let mut row = vec![0.5f32; 40];
        row[3] = -9.0;
        row[17] = 7.0;
        row[30] = 9.0;
        row[39] = 8.0;
        for avx512 in [Cpu::detect().avx512f, false] {
            let mut r = row.clone();
            let mut o = Outliers::default();
            o.take(&mut r, 3, 2.0, avx512);
            // |−9| and 9 tie: the lower index first; 7 is the fourth.
            assert_eq!(&o.index[..o.len], &[3, 30, 39]);
            assert_eq!(&o.value[..o.len], &[-9.0, 9.0, 8.0]);
            assert_eq!((r[3], r[30], r[39], r[17]), (0.0, 0.0, 0.0, 7.0));
            // Nothing stands out of a flat row.
            let mut flat = vec![0.5f32; 40];
            o.take(&mut flat, 3, 2.0, avx512);
            assert_eq!(o.len, 0);
            assert!(flat.iter().all(|&v| v == 0.5));
        }
    }

    /// Inputs with two outlier columns and weights with an outlier column:
    /// outliers in f32 and a second pass on the weights' rounding errors
    /// each cut the error, on this CPU's kernels and on the portable ones.
    #[test]
    fn int8_options_cut_the_error() {
        let (rows, out, inp) = (29, 70, 96);
        let mut x = values(rows * inp, 8);
        let mut w = values(out * inp, 9);
        let b = values(out, 10);
        for r in 0..rows {
            x[r * inp + 5] *= 40.0;
            x[r * inp + 77] = 25.0 + r as f32;
        }
        for o in 0..out {
            w[o * inp + 11] *= 6.0;
        }
        let want = naive(&x, &w, &b, rows, out, inp);
        for cpu in [Cpu::detect(), NONE] {
            let run = |opts: I8Options| {
                let layer = I8Linear::new(&w, &b, out, inp, cpu, opts);
                let mut y = vec![0f32; rows * out];
                layer.forward(&x, rows, &mut y, Epilogue::Bias);
                max_error(&y, &want)
            };
            let plain = run(I8Options::PLAIN);
            let outliers = run(I8Options {
                outliers: 4,
                outlier_tau: 3.0,
                two_pass: false,
            });
            let both = run(I8Options {
                outliers: 4,
                outlier_tau: 3.0,
                two_pass: true,
            });
            assert!(outliers < plain / 3.0, "{cpu:?}: {outliers} vs {plain}");
            assert!(both < outliers / 1.5, "{cpu:?}: {both} vs {outliers}");
        }
    }

    #[test]
    fn epilogues_add_the_residual_and_apply_gelu() {
        let (rows, out, inp) = (13, 32, 16);
        let (x, w, b) = (values(rows * inp, 4), values(out * inp, 5), values(out, 6));
        let residual = values(rows * out, 7);
        let plain = naive(&x, &w, &b, rows, out, inp);
        for cpu in [Cpu::detect(), NONE] {
            let layer = F32Linear::new(&w, &b, out, inp, cpu);
            let mut y = vec![0f32; rows * out];
            layer.forward(&x, rows, &mut y, Epilogue::BiasResidual(&residual));
            let want: Vec<f64> = plain
                .iter()
                .zip(&residual)
                .map(|(p, &r)| p + r as f64)
                .collect();
            assert!(max_error(&y, &want) < 1e-5);
            layer.forward(&x, rows, &mut y, Epilogue::BiasGelu);
            let want: Vec<f64> = plain.iter().map(|&p| ops::gelu(p as f32) as f64).collect();
            assert!(max_error(&y, &want) < 1e-5, "{cpu:?}");
        }
    }
}
