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
}

/// Most row blocks one task packs and keeps hot: 8 × 12 rows × 1536 inputs
/// × 4 bytes is 590 KB, within a core's L2 beside one weight panel.
const MAX_BLOCKS_PER_TASK: usize = 8;

/// An element of the packed operands: an f32, or a pair of bf16 in a u32.
pub trait Packed: Copy + Default + Send + Sync + 'static {
    /// Input values per element.
    const STEP: usize;
    /// Packs `values[0..STEP]` (missing ones are zero).
    fn pack(values: &[f32]) -> Self;
}

impl Packed for f32 {
    const STEP: usize = 1;
    fn pack(values: &[f32]) -> Self {
        values.first().copied().unwrap_or(0.0)
    }
}

impl Packed for u32 {
    const STEP: usize = 2;
    fn pack(values: &[f32]) -> Self {
        let lo = values.first().map_or(0, |&v| kernels::to_bf16(v));
        let hi = values.get(1).map_or(0, |&v| kernels::to_bf16(v));
        u32::from(lo) | (u32::from(hi) << 16)
    }
}

/// A microkernel: `steps` packed steps of one row block against one panel.
type Kernel<E> = fn(usize, &[E], &[E], &mut Tile);

/// A dense layer with its weights packed as `E`.
pub struct PackedLinear<E: Packed> {
    out: usize,
    inp: usize,
    /// Packed steps per row: `inp / E::STEP`, rounded up.
    steps: usize,
    /// `ceil(out / NR)` panels of `steps × NR` elements.
    panels: Vec<E>,
    /// The bias, zero-padded to whole panels.
    bias: Vec<f32>,
    kernel: Kernel<E>,
    /// Whether the epilogue may use AVX-512 F.
    avx512: bool,
}

/// A dense layer in f32.
pub type F32Linear = PackedLinear<f32>;
/// A dense layer with bf16 weights, its inputs rounded to bf16, summed in f32.
pub type Bf16Linear = PackedLinear<u32>;

/// Packs row `r`'s inputs of a block (`rows ≤ MR` valid rows of `x`, each
/// `inp` long) as `steps × MR` elements.
fn pack_block<E: Packed>(x: &[f32], rows: usize, inp: usize, steps: usize, out: &mut [E]) {
    for r in 0..MR {
        for s in 0..steps {
            out[s * MR + r] = if r < rows {
                let row = &x[r * inp..(r + 1) * inp];
                let from = (s * E::STEP).min(inp);
                let to = ((s + 1) * E::STEP).min(inp);
                E::pack(&row[from..to])
            } else {
                E::default()
            };
        }
    }
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
        let mut panels = vec![E::default(); n_panels * steps * NR];
        for (p, panel) in panels.chunks_exact_mut(steps * NR).enumerate() {
            for c in 0..NR.min(out - p * NR) {
                let row = &weight[(p * NR + c) * inp..(p * NR + c + 1) * inp];
                for s in 0..steps {
                    let from = (s * E::STEP).min(inp);
                    let to = ((s + 1) * E::STEP).min(inp);
                    panel[s * NR + c] = E::pack(&row[from..to]);
                }
            }
        }
        let mut padded_bias = bias.to_vec();
        padded_bias.resize(n_panels * NR, 0.0);
        PackedLinear {
            out,
            inp,
            steps,
            panels,
            bias: padded_bias,
            kernel,
            avx512,
        }
    }

    pub fn out_features(&self) -> usize {
        self.out
    }

    /// `y = epilogue(x · Wᵀ + b)` for `x` of `rows × in`, `y` of `rows × out`.
    pub fn forward(&self, x: &[f32], rows: usize, y: &mut [f32], epilogue: Epilogue) {
        assert_eq!(x.len(), rows * self.inp);
        assert_eq!(y.len(), rows * self.out);
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
        y.par_chunks_mut(rows_per_task * self.out)
            .enumerate()
            .for_each(|(t, y_task)| {
                let row0 = t * rows_per_task;
                let n = y_task.len() / self.out;
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
        for (b, dst) in packed.chunks_exact_mut(block_len).enumerate() {
            let rows = MR.min(n - b * MR);
            pack_block(&x[b * MR * self.inp..], rows, self.inp, self.steps, dst);
        }
        let mut tile: Tile = [0.0; MR * NR];
        for (p, panel) in self.panels.chunks_exact(self.steps * NR).enumerate() {
            for (b, xb) in packed.chunks_exact(block_len).enumerate() {
                (self.kernel)(self.steps, xb, panel, &mut tile);
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

    fn store(&self, tile: &Tile, at: TilePlace, y: &mut [f32], epilogue: Epilogue) {
        #[cfg(target_arch = "x86_64")]
        if self.avx512 {
            // SAFETY: `avx512` is set only where the CPU has AVX-512 F.
            return unsafe { store_avx512(tile, at, &self.bias, self.out, y, epilogue) };
        }
        store_tile(tile, at, &self.bias, self.out, y, epilogue)
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
            fn kernel(kp: usize, x: &[u32], w: &[u32], tile: &mut Tile) {
                // SAFETY: chosen only where the CPU has AVX-512 F and BF16;
                // the packed operands hold `kp` pair steps.
                unsafe { kernels::x86::bf16_avx512(kp, x, w, tile) }
            }
            return Self::with_kernel(weight, bias, out, inp, kernel, true);
        }
        Self::with_kernel(weight, bias, out, inp, kernels::bf16_portable, cpu.avx512f)
    }
}
