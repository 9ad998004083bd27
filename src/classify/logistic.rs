//! The optimiser behind the linear heads: class-weighted multinomial
//! logistic regression with an L2 penalty, fitted by Nesterov's accelerated
//! gradient for a fixed number of full-batch steps.
//!
//! Each step makes one pass over the feature rows, computing a row's three
//! logits and its contribution to the gradient while the row is in the
//! cache (the two matrix products of the textbook form would read the
//! matrix twice). The rows stay in f32, as the embeddings are; dot products
//! run in 16 fixed lanes and gradient sums are flushed into f64 every
//! [`FLUSH_ROWS`] rows, and the parameters and the update are f64. The
//! order of every addition is fixed by this code, not by the vector width
//! the CPU offers (Rust never fuses a multiply and an add on its own), so
//! the same data gives the same bits on every x86-64 machine, with or
//! without AVX-512; the wide instructions only make it faster.

use crate::stance::Stance;
use ndarray::{Array1, Array2, ArrayView2, Axis};

/// Lanes of the dot products' partial sums.
const LANES: usize = 16;

/// Rows whose gradient terms are summed in f32 before joining the f64 sum:
/// short enough that f32 loses nothing that matters, long enough that the
/// f64 work is a small share.
const FLUSH_ROWS: usize = 32;

/// One-hot targets and per-example weights (summing to one).
fn targets(labels: &[Stance], balanced: bool) -> (Vec<usize>, Vec<f64>) {
    let n = labels.len();
    let mut counts = [0usize; 3];
    for l in labels {
        counts[l.index()] += 1;
    }
    let weights: Vec<f64> = labels
        .iter()
        .map(|l| {
            if balanced {
                n as f64 / (3.0 * counts[l.index()] as f64)
            } else {
                1.0
            }
        })
        .collect();
    let total: f64 = weights.iter().sum();
    (
        labels.iter().map(|l| l.index()).collect(),
        weights.into_iter().map(|w| w / total).collect(),
    )
}

/// Fits W (3×d) and b on the rows of `x` by accelerated gradient descent on
/// the weighted mean cross-entropy plus λ/2 ‖W‖².
pub(crate) fn fit(
    x: ArrayView2<f32>,
    labels: &[Stance],
    lambda: f64,
    steps: usize,
    balanced: bool,
) -> (Array2<f64>, Array1<f64>) {
    let x = x.as_standard_layout();
    let d = x.ncols();
    let (classes, sample_w) = targets(labels, balanced);
    // Lipschitz bound of the gradient: the softmax Hessian is at most 1/2,
    // and the weighted second moment of x is bounded by its largest row norm.
    let max_sq = x
        .axis_iter(Axis(0))
        .map(|r| r.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>())
        .fold(0.0, f64::max);
    let step = 1.0 / (0.5 * (max_sq + 1.0) + lambda);
    let rows = x.as_slice().expect("standard layout");
    let (mut w, mut b) = (Array2::<f64>::zeros((3, d)), Array1::<f64>::zeros(3));
    let (mut w_prev, mut b_prev) = (w.clone(), b.clone());
    let mut gradient = Gradient::new(d);
    for k in 0..steps {
        let momentum = k as f64 / (k as f64 + 3.0);
        let vw = &w + &((&w - &w_prev) * momentum);
        let vb = &b + &((&b - &b_prev) * momentum);
        gradient.compute(rows, &classes, &sample_w, &vw, &vb);
        let gw = Array2::from_shape_vec((3, d), gradient.w.clone()).expect("3×d") + &vw * lambda;
        let gb = Array1::from(gradient.b.to_vec());
        w_prev = std::mem::replace(&mut w, vw - gw * step);
        b_prev = std::mem::replace(&mut b, vb - gb * step);
    }
    (w, b)
}

/// The loss gradient's buffers, reused across steps.
struct Gradient {
    d: usize,
    /// ∂/∂W, row-major 3×d, f64.
    w: Vec<f64>,
    /// ∂/∂b.
    b: [f64; 3],
    /// The f32 copy of the parameters the dot products read.
    w32: Vec<f32>,
    /// The f32 partial sums of the rows since the last flush.
    partial: Vec<f32>,
}

impl Gradient {
    fn new(d: usize) -> Self {
        Gradient {
            d,
            w: vec![0.0; 3 * d],
            b: [0.0; 3],
            w32: vec![0.0; 3 * d],
            partial: vec![0.0; 3 * d],
        }
    }

    /// The gradient of the weighted cross-entropy (without the penalty) at
    /// (`vw`, `vb`) over `rows` (n × d, row-major).
    fn compute(
        &mut self,
        rows: &[f32],
        classes: &[usize],
        sample_w: &[f64],
        vw: &Array2<f64>,
        vb: &Array1<f64>,
    ) {
        for (dst, &v) in self.w32.iter_mut().zip(vw.iter()) {
            *dst = v as f32;
        }
        self.w.fill(0.0);
        self.b = [0.0; 3];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has just been checked for AVX-512F.
                return unsafe { self.pass_avx512(rows, classes, sample_w, vb) };
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has just been checked for AVX2.
                return unsafe { self.pass_avx2(rows, classes, sample_w, vb) };
            }
        }
        self.pass(rows, classes, sample_w, vb)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn pass_avx512(&mut self, rows: &[f32], c: &[usize], s: &[f64], vb: &Array1<f64>) {
        self.pass(rows, c, s, vb)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn pass_avx2(&mut self, rows: &[f32], c: &[usize], s: &[f64], vb: &Array1<f64>) {
        self.pass(rows, c, s, vb)
    }

    #[inline(always)]
    fn pass(&mut self, rows: &[f32], classes: &[usize], sample_w: &[f64], vb: &Array1<f64>) {
        let d = self.d;
        let (w0, rest) = self.w32.split_at(d);
        let (w1, w2) = rest.split_at(d);
        for (block, (cs, ss)) in rows
            .chunks(FLUSH_ROWS * d)
            .zip(classes.chunks(FLUSH_ROWS).zip(sample_w.chunks(FLUSH_ROWS)))
        {
            self.partial.fill(0.0);
            for (row, (&class, &weight)) in block.chunks_exact(d).zip(cs.iter().zip(ss)) {
                let z = dot3(row, w0, w1, w2);
                let logits = [0, 1, 2].map(|k| f64::from(z[k]) + vb[k]);
                let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let e = logits.map(|v| (v - max).exp());
                let sum = e[0] + e[1] + e[2];
                let residual = [0, 1, 2].map(|k| {
                    let target = if k == class { 1.0 } else { 0.0 };
                    (e[k] / sum - target) * weight
                });
                for (total, r) in self.b.iter_mut().zip(residual) {
                    *total += r;
                }
                let r = residual.map(|v| v as f32);
                let (p0, rest) = self.partial.split_at_mut(d);
                let (p1, p2) = rest.split_at_mut(d);
                for (j, &v) in row.iter().enumerate() {
                    p0[j] += r[0] * v;
                    p1[j] += r[1] * v;
                    p2[j] += r[2] * v;
                }
            }
            for (total, &p) in self.w.iter_mut().zip(&self.partial) {
                *total += f64::from(p);
            }
        }
    }
}

/// The three dot products of `row` with the rows of W, in [`LANES`] fixed
/// lanes summed in a fixed order.
#[inline(always)]
fn dot3(row: &[f32], w0: &[f32], w1: &[f32], w2: &[f32]) -> [f32; 3] {
    let mut acc = [[0f32; LANES]; 3];
    let body = row.len() / LANES * LANES;
    for (((x, a), b), c) in row[..body]
        .chunks_exact(LANES)
        .zip(w0[..body].chunks_exact(LANES))
        .zip(w1[..body].chunks_exact(LANES))
        .zip(w2[..body].chunks_exact(LANES))
    {
        for l in 0..LANES {
            acc[0][l] += x[l] * a[l];
            acc[1][l] += x[l] * b[l];
            acc[2][l] += x[l] * c[l];
        }
    }
    let mut z = [0f32; 3];
    for (k, weights) in [w0, w1, w2].into_iter().enumerate() {
        let mut total = acc[k].iter().sum::<f32>();
        for (x, w) in row[body..].iter().zip(&weights[body..]) {
            total += x * w;
        }
        z[k] = total;
    }
    z
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook gradient, X and W in f64 through matrix products.
    fn reference_gradient(
        x: &Array2<f64>,
        labels: &[Stance],
        w: &Array2<f64>,
        b: &Array1<f64>,
    ) -> (Array2<f64>, Array1<f64>) {
        let (classes, sample_w) = targets(labels, true);
        let mut p = x.dot(&w.t()) + b;
        for (i, mut row) in p.axis_iter_mut(Axis(0)).enumerate() {
            let max = row.fold(f64::NEG_INFINITY, |m, &v| m.max(v));
            row.mapv_inplace(|v| (v - max).exp());
            let sum = row.sum();
            row /= sum;
            row[classes[i]] -= 1.0;
            row *= sample_w[i];
        }
        (p.t().dot(x), p.sum_axis(Axis(0)))
    }

    #[test]
    fn the_one_pass_gradient_matches_the_textbook_one() {
        // 70 rows (two flushes and a partial block) of 37 features (two
        // full lane blocks and a tail).
        let (n, d) = (70, 37);
        let x32 = Array2::from_shape_fn((n, d), |(i, j)| ((i * 31 + j * 7) as f32 * 0.13).sin());
        let labels: Vec<Stance> = (0..n).map(|i| Stance::ALL[(i * i) % 3]).collect();
        let w = Array2::from_shape_fn((3, d), |(k, j)| ((k * 5 + j) as f64 * 0.29).cos() * 0.2);
        let b = Array1::from(vec![0.1, -0.2, 0.05]);
        let (want_w, want_b) = reference_gradient(&x32.mapv(f64::from), &labels, &w, &b);
        let (classes, sample_w) = targets(&labels, true);
        let mut g = Gradient::new(d);
        g.compute(x32.as_slice().unwrap(), &classes, &sample_w, &w, &b);
        for (got, want) in g.w.iter().zip(want_w.iter()) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
        for (got, want) in g.b.iter().zip(want_b.iter()) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
        // Same bits with and without the wide instructions.
        let mut portable = Gradient::new(d);
        portable.w32.clone_from(&g.w32);
        portable.pass(x32.as_slice().unwrap(), &classes, &sample_w, &b);
        assert_eq!(portable.w, g.w);
        assert_eq!(portable.b, g.b);
    }
}
