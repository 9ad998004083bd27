//! The matrix-multiply microkernels: one `MR × NR` tile of `x · wᵀ` from
//! packed operands, in f32 (AVX-512 F, or portable code) and in bf16 pairs
//! (AVX-512 BF16's `vdpbf16ps`, or portable code that widens to f32).
//!
//! Layouts (see [`super::linear`], which packs them):
//! - f32 weights: per panel of `NR` output columns, `k × NR` values, column
//!   `c` of step `k` at `k * NR + c`; activations: per block of `MR` rows,
//!   `k × MR` values.
//! - bf16 weights: per panel, `k/2 × NR` 32-bit pairs (the low half holds
//!   step `2i`, the high half step `2i + 1`, as `vdpbf16ps` reads them);
//!   activations the same per block of `MR` rows.
//! - int8 weights: per panel, `k/4 × NR` 32-bit quads of signed bytes
//!   (step `4i + j` in byte `j`, as `vpdpbusd` reads them), then one row of
//!   `NR` i32 the sums start from (the zero-point correction, see
//!   [`super::linear::I8Quad`]); activations quads of unsigned bytes.

/// Rows of a tile: 12 rows × 2 vectors = 24 of the 32 AVX-512 registers
/// hold accumulators, the rest the weights and the broadcast activation.
pub const MR: usize = 12;
/// Columns of a tile: two 16-lane vectors.
pub const NR: usize = 32;

/// A tile's accumulators, row-major `MR × NR`.
pub type Tile = [f32; MR * NR];

/// f32 tile, portable: `k` steps over packed `x` (`k × MR`) and `w` (`k × NR`).
pub fn f32_portable(k: usize, x: &[f32], w: &[f32], tile: &mut Tile) {
    tile.fill(0.0);
    for (xs, ws) in x.chunks_exact(MR).zip(w.chunks_exact(NR)).take(k) {
        for (r, &a) in xs.iter().enumerate() {
            let row = &mut tile[r * NR..(r + 1) * NR];
            for (acc, &b) in row.iter_mut().zip(ws) {
                *acc += a * b;
            }
        }
    }
}

/// bf16 → f32 is exact: the bf16 bits are the top half of the f32's.
#[inline(always)]
fn bf16_pair(v: u32) -> (f32, f32) {
    (f32::from_bits(v << 16), f32::from_bits(v & 0xffff_0000))
}

/// f32 → bf16, rounding to nearest even (as `vcvtne2ps2bf16`); NaN stays NaN.
#[inline(always)]
pub fn to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    let rounded = bits.wrapping_add(0x7fff + ((bits >> 16) & 1)) >> 16;
    let quiet_nan = (bits >> 16) | 0x40;
    // A select rather than an early return, so that loops of it vectorise.
    (if x.is_nan() { quiet_nan } else { rounded }) as u16
}

/// int8 tile, portable: `kq` quad steps of unsigned activation bytes
/// against signed weight bytes, summed in i32 from the panel's start row;
/// the tile gets the integer sums.
pub fn i8_portable(kq: usize, x: &[u32], w: &[u32], tile: &mut Tile) {
    let mut acc = [0i32; MR * NR];
    let init = &w[kq * NR..(kq + 1) * NR];
    for r in 0..MR {
        for (a, &i) in acc[r * NR..(r + 1) * NR].iter_mut().zip(init) {
            *a = i as i32;
        }
    }
    for (xs, ws) in x.chunks_exact(MR).zip(w.chunks_exact(NR)).take(kq) {
        for (r, &a) in xs.iter().enumerate() {
            let a = a.to_le_bytes();
            for (acc, &b) in acc[r * NR..(r + 1) * NR].iter_mut().zip(ws) {
                let b = b.to_le_bytes();
                for j in 0..4 {
                    *acc += i32::from(a[j]) * i32::from(b[j] as i8);
                }
            }
        }
    }
    // The tile carries the i32 bits; `dequantise` reads them as such.
    for (t, a) in tile.iter_mut().zip(acc) {
        *t = f32::from_bits(a as u32);
    }
}

/// bf16 tile, portable: `kp` pair steps over packed pairs.
pub fn bf16_portable(kp: usize, x: &[u32], w: &[u32], tile: &mut Tile) {
    tile.fill(0.0);
    for (xs, ws) in x.chunks_exact(MR).zip(w.chunks_exact(NR)).take(kp) {
        for (r, &a) in xs.iter().enumerate() {
            let (a0, a1) = bf16_pair(a);
            let row = &mut tile[r * NR..(r + 1) * NR];
            for (acc, &b) in row.iter_mut().zip(ws) {
                let (b0, b1) = bf16_pair(b);
                *acc += a0 * b0 + a1 * b1;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub mod x86 {
    use super::{Tile, MR, NR};
    use std::arch::x86_64::*;

    /// f32 tile with AVX-512 F: per step two weight vectors, one broadcast
    /// per row, 24 fused multiply-adds.
    ///
    /// # Safety
    /// The CPU must support AVX-512 F; `x` must hold `k * MR` and `w`
    /// `k * NR` values.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn f32_avx512(k: usize, x: &[f32], w: &[f32], tile: &mut Tile) {
        debug_assert!(x.len() >= k * MR && w.len() >= k * NR);
        let mut acc = [_mm512_setzero_ps(); 2 * MR];
        let (mut xp, mut wp) = (x.as_ptr(), w.as_ptr());
        for _ in 0..k {
            let w0 = _mm512_loadu_ps(wp);
            let w1 = _mm512_loadu_ps(wp.add(16));
            for r in 0..MR {
                let a = _mm512_set1_ps(*xp.add(r));
                acc[2 * r] = _mm512_fmadd_ps(a, w0, acc[2 * r]);
                acc[2 * r + 1] = _mm512_fmadd_ps(a, w1, acc[2 * r + 1]);
            }
            xp = xp.add(MR);
            wp = wp.add(NR);
        }
        let out = tile.as_mut_ptr();
        for (i, v) in acc.iter().enumerate() {
            _mm512_storeu_ps(out.add(16 * i), *v);
        }
    }

    /// bf16 tile with AVX-512 BF16: per pair step two weight vectors (16
    /// columns × 2 steps each), one broadcast pair per row, 24 `vdpbf16ps`.
    ///
    /// # Safety
    /// The CPU must support AVX-512 F and BF16; `x` must hold `kp * MR` and
    /// `w` `kp * NR` pairs.
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub unsafe fn bf16_avx512(kp: usize, x: &[u32], w: &[u32], tile: &mut Tile) {
        debug_assert!(x.len() >= kp * MR && w.len() >= kp * NR);
        let mut acc = [_mm512_setzero_ps(); 2 * MR];
        let (mut xp, mut wp) = (x.as_ptr(), w.as_ptr());
        for _ in 0..kp {
            let w0: __m512bh = std::mem::transmute(_mm512_loadu_si512(wp.cast()));
            let w1: __m512bh = std::mem::transmute(_mm512_loadu_si512(wp.add(16).cast()));
            for r in 0..MR {
                let a: __m512bh = std::mem::transmute(_mm512_set1_epi32(*xp.add(r) as i32));
                acc[2 * r] = _mm512_dpbf16_ps(acc[2 * r], a, w0);
                acc[2 * r + 1] = _mm512_dpbf16_ps(acc[2 * r + 1], a, w1);
            }
            xp = xp.add(MR);
            wp = wp.add(NR);
        }
        let out = tile.as_mut_ptr();
        for (i, v) in acc.iter().enumerate() {
            _mm512_storeu_ps(out.add(16 * i), *v);
        }
    }

    /// int8 tile with AVX-512 VNNI: per quad step two weight vectors (16
    /// columns × 4 steps each), one broadcast quad per row, 24 `vpdpbusd`;
    /// the sums start from the panel's row after the `kq` steps.
    ///
    /// # Safety
    /// The CPU must support AVX-512 F and VNNI; `x` must hold `kq * MR` and
    /// `w` `(kq + 1) * NR` quads.
    #[target_feature(enable = "avx512f,avx512vnni")]
    pub unsafe fn i8_avx512(kq: usize, x: &[u32], w: &[u32], tile: &mut Tile) {
        debug_assert!(x.len() >= kq * MR && w.len() >= (kq + 1) * NR);
        let init0 = _mm512_loadu_si512(w.as_ptr().add(kq * NR).cast());
        let init1 = _mm512_loadu_si512(w.as_ptr().add(kq * NR + 16).cast());
        let mut acc = [init0; 2 * MR];
        for r in 0..MR {
            acc[2 * r + 1] = init1;
        }
        let (mut xp, mut wp) = (x.as_ptr(), w.as_ptr());
        for _ in 0..kq {
            let w0 = _mm512_loadu_si512(wp.cast());
            let w1 = _mm512_loadu_si512(wp.add(16).cast());
            for r in 0..MR {
                let a = _mm512_set1_epi32(*xp.add(r) as i32);
                acc[2 * r] = _mm512_dpbusd_epi32(acc[2 * r], a, w0);
                acc[2 * r + 1] = _mm512_dpbusd_epi32(acc[2 * r + 1], a, w1);
            }
            xp = xp.add(MR);
            wp = wp.add(NR);
        }
        let out = tile.as_mut_ptr();
        for (i, v) in acc.iter().enumerate() {
            // The i32 bits as they are; `dequantise` reads them as such.
            _mm512_storeu_si512(out.add(16 * i).cast(), *v);
        }
    }
}

/// Which kernels this CPU runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cpu {
    pub avx512f: bool,
    pub avx512bf16: bool,
    pub avx512vnni: bool,
}

impl Cpu {
    pub fn detect() -> Cpu {
        #[cfg(target_arch = "x86_64")]
        {
            let avx512f = std::arch::is_x86_feature_detected!("avx512f");
            Cpu {
                avx512f,
                avx512bf16: avx512f && std::arch::is_x86_feature_detected!("avx512bf16"),
                avx512vnni: avx512f && std::arch::is_x86_feature_detected!("avx512vnni"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Cpu {
            avx512f: false,
            avx512bf16: false,
            avx512vnni: false,
        }
    }
}
