//! Fused CPU kernels, with gradients, for the element-wise stages of BERT
//! that dominate a training step once the matrix products are done: erf
//! GELU, layer norm and the attention softmax.
//!
//! Built from candle's elementary operations, their backward passes take
//! about a dozen tensor operations each (every one a fresh allocation and a
//! pass over memory); here each direction is one pass. The forward values
//! are computed as candle computes them (same formulas, same precision), so
//! a trained model's vectors match the inference encoder's; the tests check
//! the gradients against candle's autograd of the unfused operations.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};

/// The f32 contents of a contiguous CPU tensor, or an error.
fn contiguous<'a>(storage: &'a CpuStorage, layout: &Layout, what: &str) -> Result<&'a [f32]> {
    let data = storage.as_slice::<f32>()?;
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => candle_core::bail!("{what}: input must be contiguous"),
    }
}

/// GELU with the exact (erf) form, as candle's `gelu_erf`.
fn gelu(x: f32) -> f32 {
    (libm::erff(x * std::f32::consts::FRAC_1_SQRT_2) + 1.0) * 0.5 * x
}

/// d/dx GELU(x) = Φ(x) + x φ(x).
fn gelu_derivative(x: f32) -> f32 {
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    0.5 * (1.0 + libm::erff(x * std::f32::consts::FRAC_1_SQRT_2))
        + x * INV_SQRT_2PI * (-0.5 * x * x).exp()
}

struct GeluErf;

impl CustomOp1 for GeluErf {
    fn name(&self) -> &'static str {
        "fused-gelu-erf"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(storage, layout, self.name())?;
        let y: Vec<f32> = x.iter().map(|&v| gelu(v)).collect();
        Ok((CpuStorage::F32(y), layout.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let grad = grad_res.contiguous()?;
        Ok(Some(arg.apply_op2_no_bwd(&grad, &GeluErfGrad)?))
    }
}

/// `grad · GELU'(x)` in one pass: the backward of [`GeluErf`].
struct GeluErfGrad;

impl CustomOp2 for GeluErfGrad {
    fn name(&self) -> &'static str {
        "fused-gelu-erf-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(s1, l1, self.name())?;
        let g = contiguous(s2, l2, self.name())?;
        if x.len() != g.len() {
            candle_core::bail!("{}: shapes differ", self.name());
        }
        let dx: Vec<f32> = x
            .iter()
            .zip(g)
            .map(|(&x, &g)| g * gelu_derivative(x))
            .collect();
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}

/// erf GELU of an f32 CPU tensor, differentiable.
pub fn gelu_erf(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(GeluErf)
}

/// Mean and 1/σ of a row, as f32 sums like candle's layer norm kernel.
fn row_stats(row: &[f32], eps: f32) -> (f32, f32) {
    let n = row.len() as f32;
    let (mut sum, mut sum2) = (0f32, 0f32);
    for &v in row {
        sum += v;
        sum2 += v * v;
    }
    let mean = sum / n;
    let var = sum2 / n - mean * mean;
    (mean, (var + eps).sqrt().recip())
}

struct LayerNorm {
    eps: f32,
}

impl CustomOp3 for LayerNorm {
    fn name(&self) -> &'static str {
        "fused-layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(s1, l1, self.name())?;
        let w = contiguous(s2, l2, self.name())?;
        let b = contiguous(s3, l3, self.name())?;
        let d = w.len();
        if d == 0 || b.len() != d || x.len() % d != 0 {
            candle_core::bail!("{}: shapes do not match", self.name());
        }
        let mut y = vec![0f32; x.len()];
        for (row, out) in x.chunks_exact(d).zip(y.chunks_exact_mut(d)) {
            let (mean, inv_std) = row_stats(row, self.eps);
            for i in 0..d {
                out[i] = (row[i] - mean) * inv_std * w[i] + b[i];
            }
        }
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        // One pass gives dx and g·x̂ side by side (stacked on a new first
        // axis); the weight and bias gradients are sums over rows.
        let both = x.apply_op3_no_bwd(w, &grad, &LayerNormGrad { eps: self.eps })?;
        let dx = both.get(0)?;
        let d = w.dim(0)?;
        let rows = grad.elem_count() / d;
        let dw = both.get(1)?.reshape((rows, d))?.sum(0)?;
        let db = grad.reshape((rows, d))?.sum(0)?;
        Ok((Some(dx), Some(dw), Some(db)))
    }
}

/// The backward of [`LayerNorm`]: for x, w and the output gradient g, the
/// input gradient (1/σ)(g·w − mean(g·w) − x̂ · mean(g·w·x̂)) and g·x̂, stacked.
struct LayerNormGrad {
    eps: f32,
}

impl CustomOp3 for LayerNormGrad {
    fn name(&self) -> &'static str {
        "fused-layer-norm-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(s1, l1, self.name())?;
        let w = contiguous(s2, l2, self.name())?;
        let g = contiguous(s3, l3, self.name())?;
        let d = w.len();
        if d == 0 || g.len() != x.len() || x.len() % d != 0 {
            candle_core::bail!("{}: shapes do not match", self.name());
        }
        let n = x.len();
        let mut out = vec![0f32; 2 * n];
        let (dx, gx) = out.split_at_mut(n);
        let mut x_hat = vec![0f32; d];
        for (((row, g), dx), gx) in x
            .chunks_exact(d)
            .zip(g.chunks_exact(d))
            .zip(dx.chunks_exact_mut(d))
            .zip(gx.chunks_exact_mut(d))
        {
            let (mean, inv_std) = row_stats(row, self.eps);
            let (mut mean_gw, mut mean_gw_xhat) = (0f32, 0f32);
            for i in 0..d {
                x_hat[i] = (row[i] - mean) * inv_std;
                let gw = g[i] * w[i];
                mean_gw += gw;
                mean_gw_xhat += gw * x_hat[i];
                gx[i] = g[i] * x_hat[i];
            }
            mean_gw /= d as f32;
            mean_gw_xhat /= d as f32;
            for i in 0..d {
                dx[i] = inv_std * (g[i] * w[i] - mean_gw - x_hat[i] * mean_gw_xhat);
            }
        }
        let mut dims = vec![2];
        dims.extend_from_slice(l1.shape().dims());
        Ok((CpuStorage::F32(out), Shape::from(dims)))
    }
}

/// Layer norm over the last dimension of an f32 CPU tensor, differentiable
/// in the input, the weight and the bias.
pub fn layer_norm(x: &Tensor, weight: &Tensor, bias: &Tensor, eps: f32) -> Result<Tensor> {
    x.contiguous()?.apply_op3(weight, bias, LayerNorm { eps })
}

struct SoftmaxLastDim;

impl CustomOp1 for SoftmaxLastDim {
    fn name(&self) -> &'static str {
        "fused-softmax"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(storage, layout, self.name())?;
        let d = layout.shape().dims().last().copied().unwrap_or(0);
        if d == 0 {
            candle_core::bail!("{}: empty last dimension", self.name());
        }
        let mut y = vec![0f32; x.len()];
        for (row, out) in x.chunks_exact(d).zip(y.chunks_exact_mut(d)) {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0f32;
            for (o, &v) in out.iter_mut().zip(row) {
                *o = (v - max).exp();
                sum += *o;
            }
            for o in out.iter_mut() {
                *o /= sum;
            }
        }
        Ok((CpuStorage::F32(y), layout.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let grad = grad_res.contiguous()?;
        Ok(Some(res.apply_op2_no_bwd(&grad, &SoftmaxGrad)?))
    }
}

/// y ⊙ (g − Σ g⊙y) over each row: the backward of [`SoftmaxLastDim`] from
/// its output y and the output gradient g.
struct SoftmaxGrad;

impl CustomOp2 for SoftmaxGrad {
    fn name(&self) -> &'static str {
        "fused-softmax-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let y = contiguous(s1, l1, self.name())?;
        let g = contiguous(s2, l2, self.name())?;
        let d = l1.shape().dims().last().copied().unwrap_or(0);
        if d == 0 || y.len() != g.len() {
            candle_core::bail!("{}: shapes do not match", self.name());
        }
        let mut dx = vec![0f32; y.len()];
        for ((y, g), dx) in y
            .chunks_exact(d)
            .zip(g.chunks_exact(d))
            .zip(dx.chunks_exact_mut(d))
        {
            let dot: f32 = y.iter().zip(g).map(|(a, b)| a * b).sum();
            for i in 0..d {
                dx[i] = y[i] * (g[i] - dot);
            }
        }
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}

/// Softmax over the last dimension of an f32 CPU tensor, differentiable
/// (candle's fused `softmax_last_dim` has no gradient).
pub fn softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(SoftmaxLastDim)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var, D};

    /// Deterministic, irregular test values.
    fn values(n: usize, scale: f32) -> Vec<f32> {
        (0..n)
            .map(|i| ((i as f32 * 0.731).sin() * 2.0 + (i as f32 * 0.17).cos()) * scale)
            .collect()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    #[test]
    fn gelu_matches_candle_forward_and_backward() {
        let dev = Device::Cpu;
        let x = Var::from_vec(values(6 * 40, 1.5), (6, 40), &dev).unwrap();
        let upstream = Tensor::from_vec(values(6 * 40, 0.3), (6, 40), &dev).unwrap();
        let fused = gelu_erf(x.as_tensor()).unwrap();
        let reference = x.as_tensor().gelu_erf().unwrap();
        assert_eq!(
            max_diff(&fused, &reference),
            0.0,
            "forward is candle's, bit for bit"
        );
        let g_fused = (fused * &upstream)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let g_ref = (reference * &upstream)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let d = max_diff(g_fused.get(&x).unwrap(), g_ref.get(&x).unwrap());
        assert!(d < 1e-5, "gradient differs by {d}");
    }

    #[test]
    fn softmax_matches_candle_forward_and_backward() {
        let dev = Device::Cpu;
        let x = Var::from_vec(values(3 * 4 * 9, 3.0), (3, 4, 9), &dev).unwrap();
        // A masked position, as attention has: it must get probability 0.
        let mask = Tensor::from_vec(
            (0..3 * 4 * 9)
                .map(|i| if i % 9 == 8 { -f32::MAX } else { 0.0 })
                .collect::<Vec<f32>>(),
            (3, 4, 9),
            &dev,
        )
        .unwrap();
        let masked = (x.as_tensor() + &mask).unwrap();
        let upstream = Tensor::from_vec(values(3 * 4 * 9, 0.4), (3, 4, 9), &dev).unwrap();
        let fused = softmax_last_dim(&masked).unwrap();
        let reference = candle_nn::ops::softmax(&masked, D::Minus1).unwrap();
        assert!(max_diff(&fused, &reference) < 1e-6);
        let probs = fused.to_vec3::<f32>().unwrap();
        assert!(probs.iter().flatten().all(|row| row[8] == 0.0));
        let loss = |y: Tensor| (y * &upstream).unwrap().sum_all().unwrap();
        let g_fused = loss(fused).backward().unwrap();
        let g_ref = loss(reference).backward().unwrap();
        let d = max_diff(g_fused.get(&x).unwrap(), g_ref.get(&x).unwrap());
        assert!(d < 1e-5, "gradient differs by {d}");
    }

    #[test]
    fn layer_norm_matches_candle_forward_and_backward() {
        let dev = Device::Cpu;
        let (rows, d) = (2 * 5, 24);
        let x = Var::from_vec(values(rows * d, 2.0), (2, 5, d), &dev).unwrap();
        let w = Var::from_vec(values(d, 0.5), d, &dev).unwrap();
        let b = Var::from_vec(values(d, 0.1), d, &dev).unwrap();
        let upstream = Tensor::from_vec(values(rows * d, 0.7), (2, 5, d), &dev).unwrap();
        let eps = 1e-12;
        let fused = layer_norm(x.as_tensor(), w.as_tensor(), b.as_tensor(), eps).unwrap();
        let reference =
            candle_nn::ops::layer_norm_slow(x.as_tensor(), w.as_tensor(), b.as_tensor(), eps)
                .unwrap();
        assert!(max_diff(&fused, &reference) < 1e-5);
        let fast =
            candle_nn::ops::layer_norm(x.as_tensor(), w.as_tensor(), b.as_tensor(), eps).unwrap();
        assert_eq!(
            max_diff(&fused, &fast),
            0.0,
            "forward is candle's kernel, bit for bit"
        );
        let loss = |y: Tensor| (y * &upstream).unwrap().sum_all().unwrap();
        let g_fused = loss(fused).backward().unwrap();
        let g_ref = loss(reference).backward().unwrap();
        for (name, var) in [("x", &x), ("w", &w), ("b", &b)] {
            let d = max_diff(g_fused.get(var).unwrap(), g_ref.get(var).unwrap());
            assert!(d < 1e-4, "gradient of {name} differs by {d}");
        }
        // The gradient of x sums to zero over each row (a shift of the input
        // does not change the output).
        let row_sums = g_fused.get(&x).unwrap().sum(D::Minus1).unwrap();
        assert!(
            row_sums
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
                < 1e-4
        );
    }
}
