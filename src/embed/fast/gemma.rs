//! EmbeddingGemma's Gemma 3 text model on the fast path: the forward pass of
//! [`crate::embed::gemma`] (which stays the reference, on candle) on plain
//! buffers, with the BERT pass's dense layers ([`Dense`], packed AVX-512
//! microkernels, f32, bf16 or int8) and its layout: sentences back to back
//! without padding, one fused `[query | key | value]` multiply and one fused
//! gate-and-up multiply per layer whose epilogue applies GeGLU
//! ([`Epilogue::GeGlu`]: the gate and up products never reach memory),
//! attention over each sentence's own tokens.
//!
//! What differs from BERT, each as `gemma.rs` computes it:
//! - RMSNorms scaling by `1 + weight`, four per layer, and on each query and
//!   key head; the norms after attention and after the feed-forward come
//!   before the residual sum, so they are their own pass
//!   ([`rms_norm_add`]) rather than a dense layer's epilogue;
//! - rotary positions on queries and keys (rotate-half form, the local base
//!   on sliding layers, the global one on full layers), applied with the
//!   query/key norms in one pass over each row ([`norm_and_rotate`]);
//! - multi-query attention: 3 query heads read one key/value head of width
//!   256; sliding layers see keys at distance below
//!   [`Config::attention_band`] only. candle adds `f32::MIN` outside the
//!   band, whose `exp` is exactly 0, so skipping those keys gives the same
//!   sums;
//! - GeGLU with the tanh GELU ([`ops::gelu_tanh`]), written as `x · σ(2u)`,
//!   which equals `0.5 x (1 + tanh u)` without its cancellation;
//! - the token table is read row by row from the memory-mapped weights
//!   ([`ScaledEmbedding`]), scaled by `sqrt(hidden)`.
//!
//! The pooling, Dense projections and normalisation after it are
//! [`crate::embed::sentence`]'s, as for every backbone.

use std::path::Path;

use candle_core::Tensor;
use candle_nn::VarBuilder;
use rayon::prelude::*;

use super::kernels::Cpu;
use super::linear::{self, Dense, Epilogue};
use super::ops::{self, exp};
use super::{get, FastPrecision, Sublayer};
use crate::embed::gemma::{
    rotary_tables, text_model_root, Config, LayerType, ScaledEmbedding, EMBED_TOKENS,
};
use crate::embed::sentence::{Backbone, SentenceEncoder};
use crate::embed::Precision;

/// EmbeddingGemma on [`FastGemma`] in f32.
pub type FastGemmaEncoder = SentenceEncoder<FastGemma<f32>>;
/// EmbeddingGemma on [`FastGemma`] with bf16 dense layers.
pub type Bf16GemmaEncoder = SentenceEncoder<FastGemma<linear::Bf16Pair>>;
/// EmbeddingGemma on [`FastGemma`] with int8 dense layers.
pub type Int8GemmaEncoder = SentenceEncoder<FastGemma<linear::I8Quad>>;

/// A Gemma RMSNorm's `1 + weight`.
type NormScale = Vec<f32>;

struct Layer {
    /// Query (all heads), key and value stacked: one multiply gives all.
    qkv: Dense,
    o_proj: Dense,
    /// Gate and up projections stacked: one multiply gives both halves.
    gate_up: Dense,
    down_proj: Dense,
    q_norm: NormScale,
    k_norm: NormScale,
    input_norm: NormScale,
    post_attention_norm: NormScale,
    pre_feedforward_norm: NormScale,
    post_feedforward_norm: NormScale,
    kind: LayerType,
}

/// Rotary `cos`/`sin` tables, `positions × head_dim / 2` each.
struct Rotary {
    cos: Vec<f32>,
    sin: Vec<f32>,
}

/// The shape of multi-query attention.
#[derive(Debug, Clone, Copy)]
pub struct GroupedHeads {
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
}

impl GroupedHeads {
    /// Width of a `[query | key | value]` row.
    fn qkv_width(self) -> usize {
        (self.heads + 2 * self.kv_heads) * self.head_dim
    }

    /// Width of a context row (every query head's values).
    fn context_width(self) -> usize {
        self.heads * self.head_dim
    }
}

/// The Gemma 3 text model on plain buffers; `E` is the precision of the
/// dense layers (`f32`, [`linear::Bf16Pair`] or [`linear::I8Quad`]).
pub struct FastGemma<E: linear::Packed> {
    embed_tokens: ScaledEmbedding,
    layers: Vec<Layer>,
    final_norm: NormScale,
    local_rotary: Rotary,
    global_rotary: Rotary,
    band: usize,
    shape: GroupedHeads,
    hidden: usize,
    intermediate: usize,
    max_positions: usize,
    eps: f32,
    scaling: f32,
    avx512: bool,
    precision: std::marker::PhantomData<E>,
}

fn norm_scale(vb: &VarBuilder, width: usize) -> candle_core::Result<NormScale> {
    Ok(get(vb, &[width], "weight")?
        .into_iter()
        .map(|w| 1.0 + w)
        .collect())
}

impl<E: FastPrecision> FastGemma<E> {
    /// Stacks the weights (`out_i × inp` each) of `names` under `vb` into
    /// one dense layer.
    fn stacked(
        kind: Sublayer,
        vb: &VarBuilder,
        parts: &[(&str, usize)],
        inp: usize,
        cpu: Cpu,
    ) -> candle_core::Result<Dense> {
        let out: usize = parts.iter().map(|&(_, o)| o).sum();
        let mut w = Vec::with_capacity(out * inp);
        for &(name, o) in parts {
            w.extend(get(&vb.pp(name), &[o, inp], "weight")?);
        }
        Ok(E::dense(kind, &w, &vec![0.0; out], out, inp, cpu))
    }

    fn load_layer(
        vb: VarBuilder,
        c: &Config,
        kind: LayerType,
        cpu: Cpu,
    ) -> candle_core::Result<Layer> {
        let (h, d, i) = (c.hidden_size, c.head_dim, c.intermediate_size);
        let att = vb.pp("self_attn");
        let (q, kv) = (c.num_attention_heads * d, c.num_key_value_heads * d);
        let mlp = vb.pp("mlp");
        Ok(Layer {
            qkv: Self::stacked(
                Sublayer::QueryKeyValue,
                &att,
                &[("q_proj", q), ("k_proj", kv), ("v_proj", kv)],
                h,
                cpu,
            )?,
            o_proj: Self::stacked(Sublayer::AttentionOutput, &att, &[("o_proj", h)], q, cpu)?,
            gate_up: {
                let gate = get(&mlp.pp("gate_proj"), &[i, h], "weight")?;
                let up = get(&mlp.pp("up_proj"), &[i, h], "weight")?;
                let (w, out) = linear::interleave_gate_up(&gate, &up, i, h);
                E::dense(Sublayer::Intermediate, &w, &vec![0.0; out], out, h, cpu)
            },
            down_proj: Self::stacked(Sublayer::Output, &mlp, &[("down_proj", h)], i, cpu)?,
            q_norm: norm_scale(&att.pp("q_norm"), d)?,
            k_norm: norm_scale(&att.pp("k_norm"), d)?,
            input_norm: norm_scale(&vb.pp("input_layernorm"), h)?,
            post_attention_norm: norm_scale(&vb.pp("post_attention_layernorm"), h)?,
            pre_feedforward_norm: norm_scale(&vb.pp("pre_feedforward_layernorm"), h)?,
            post_feedforward_norm: norm_scale(&vb.pp("post_feedforward_layernorm"), h)?,
            kind,
        })
    }

    /// Everything but the token table, which `embed_tokens` provides; `vb`
    /// is already at the text model's root.
    fn with_embeddings(
        vb: VarBuilder,
        c: &Config,
        embed_tokens: ScaledEmbedding,
    ) -> candle_core::Result<Self> {
        c.check()?;
        let cpu = Cpu::detect();
        let layers = c
            .layer_types
            .iter()
            .enumerate()
            .map(|(i, &kind)| Self::load_layer(vb.pp(format!("layers.{i}")), c, kind, cpu))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let rotary = |base| {
            let (cos, sin) = rotary_tables(base, c.head_dim, c.max_position_embeddings);
            Rotary { cos, sin }
        };
        Ok(FastGemma {
            embed_tokens,
            layers,
            final_norm: norm_scale(&vb.pp("norm"), c.hidden_size)?,
            local_rotary: rotary(c.rope_local_base_freq),
            global_rotary: rotary(c.rope_theta),
            band: c.attention_band(),
            shape: GroupedHeads {
                heads: c.num_attention_heads,
                kv_heads: c.num_key_value_heads,
                head_dim: c.head_dim,
            },
            hidden: c.hidden_size,
            intermediate: c.intermediate_size,
            max_positions: c.max_position_embeddings,
            eps: c.rms_norm_eps as f32,
            scaling: c.query_pre_attn_scalar.powf(-0.5) as f32,
            avx512: cpu.avx512f,
            precision: std::marker::PhantomData,
        })
    }

    /// Token vectors of sentences stored back to back: `ids` holds
    /// `lens[s]` ids for each sentence `s`; returns `Σ lens × hidden`.
    pub fn forward_packed(&self, ids: &[u32], lens: &[usize]) -> candle_core::Result<Vec<f32>> {
        if let Some(&len) = lens.iter().find(|&&len| len > self.max_positions) {
            candle_core::bail!(
                "{len} tokens: the model's positions cover {}",
                self.max_positions
            );
        }
        let (h, shape) = (self.hidden, self.shape);
        let tokens = ids.len();
        let mut x = self.embed_tokens.rows(ids)?;
        // Each token's position within its sentence.
        let positions: Vec<usize> = lens.iter().flat_map(|&len| 0..len).collect();

        let mut normed = vec![0f32; tokens * h];
        let mut qkv = vec![0f32; tokens * shape.qkv_width()];
        let mut ctx = vec![0f32; tokens * shape.context_width()];
        let mut inter = vec![0f32; tokens * self.intermediate];
        let mut branch = vec![0f32; tokens * h];
        for layer in &self.layers {
            let (rotary, band) = match layer.kind {
                LayerType::SlidingAttention => (&self.local_rotary, Some(self.band)),
                LayerType::FullAttention => (&self.global_rotary, None),
            };
            rms_norm_into(&x, &mut normed, &layer.input_norm, self.eps, self.avx512);
            layer.qkv.forward(&normed, tokens, &mut qkv, Epilogue::Bias);
            norm_and_rotate(&mut qkv, &positions, shape, layer, rotary, self.eps);
            attention(&qkv, lens, shape, band, self.scaling, &mut ctx, self.avx512);
            layer
                .o_proj
                .forward(&ctx, tokens, &mut branch, Epilogue::Bias);
            rms_norm_add(
                &mut x,
                &branch,
                &layer.post_attention_norm,
                self.eps,
                self.avx512,
            );

            rms_norm_into(
                &x,
                &mut normed,
                &layer.pre_feedforward_norm,
                self.eps,
                self.avx512,
            );
            let geglu = Epilogue::GeGlu {
                width: self.intermediate,
            };
            layer.gate_up.forward(&normed, tokens, &mut inter, geglu);
            layer
                .down_proj
                .forward(&inter, tokens, &mut branch, Epilogue::Bias);
            rms_norm_add(
                &mut x,
                &branch,
                &layer.post_feedforward_norm,
                self.eps,
                self.avx512,
            );
        }
        rms_norm_into(&x, &mut normed, &self.final_norm, self.eps, self.avx512);
        Ok(normed)
    }
}

/// Rows handed to one element-wise task.
const ROWS_PER_TASK: usize = 64;

/// `x / rms(x) * scale` of one row, into `out`, in f32 as candle's
/// `rms_norm`: the mean of squares, plus `eps`, square-rooted.
#[inline(always)]
fn rms_norm_row(x: &[f32], out: &mut [f32], scale: &[f32], eps: f32) {
    let mean_square = ops::sum16(x, |v| v * v) / x.len() as f32;
    let inv = 1.0 / (mean_square + eps).sqrt();
    for ((o, &v), &s) in out.iter_mut().zip(x).zip(scale) {
        *o = v * inv * s;
    }
}

#[inline(always)]
fn rms_norm_rows(x: &[f32], out: &mut [f32], scale: &[f32], eps: f32) {
    let width = scale.len();
    for (x, out) in x.chunks_exact(width).zip(out.chunks_exact_mut(width)) {
        rms_norm_row(x, out, scale, eps);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn rms_norm_rows_avx512(x: &[f32], out: &mut [f32], scale: &[f32], eps: f32) {
    rms_norm_rows(x, out, scale, eps)
}

/// RMSNorm of each row of `x` (rows as wide as `scale`) into `out`.
fn rms_norm_into(x: &[f32], out: &mut [f32], scale: &[f32], eps: f32, avx512: bool) {
    let chunk = ROWS_PER_TASK * scale.len();
    x.par_chunks(chunk)
        .zip(out.par_chunks_mut(chunk))
        .for_each(|(x, out)| {
            #[cfg(target_arch = "x86_64")]
            if avx512 {
                // SAFETY: the caller passes `avx512` only where the CPU has it.
                return unsafe { rms_norm_rows_avx512(x, out, scale, eps) };
            }
            let _ = avx512;
            rms_norm_rows(x, out, scale, eps)
        });
}

#[inline(always)]
fn rms_norm_add_rows(x: &mut [f32], branch: &[f32], scale: &[f32], eps: f32) {
    let width = scale.len();
    let mut normed = vec![0f32; width];
    for (x, b) in x.chunks_exact_mut(width).zip(branch.chunks_exact(width)) {
        rms_norm_row(b, &mut normed, scale, eps);
        for (x, &n) in x.iter_mut().zip(&normed) {
            *x += n;
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn rms_norm_add_rows_avx512(x: &mut [f32], branch: &[f32], scale: &[f32], eps: f32) {
    rms_norm_add_rows(x, branch, scale, eps)
}

/// `x += rms_norm(branch)`: Gemma's norm after a sublayer, then the
/// residual sum.
fn rms_norm_add(x: &mut [f32], branch: &[f32], scale: &[f32], eps: f32, avx512: bool) {
    let chunk = ROWS_PER_TASK * scale.len();
    x.par_chunks_mut(chunk)
        .zip(branch.par_chunks(chunk))
        .for_each(|(x, branch)| {
            #[cfg(target_arch = "x86_64")]
            if avx512 {
                // SAFETY: the caller passes `avx512` only where the CPU has it.
                return unsafe { rms_norm_add_rows_avx512(x, branch, scale, eps) };
            }
            let _ = avx512;
            rms_norm_add_rows(x, branch, scale, eps)
        });
}

/// Rotates one head (`head_dim` values) to `position`, rotate-half form:
/// value `i` pairs with value `i + head_dim / 2`.
#[inline(always)]
fn rotate(head: &mut [f32], cos: &[f32], sin: &[f32]) {
    let (a, b) = head.split_at_mut(cos.len());
    for (((a, b), &c), &s) in a.iter_mut().zip(b.iter_mut()).zip(cos).zip(sin) {
        let (x1, x2) = (*a, *b);
        *a = x1 * c - x2 * s;
        *b = x2 * c + x1 * s;
    }
}

/// The query and key heads of each `[query | key | value]` row: RMSNorm,
/// then rotary positions (the row's token at `positions[row]`).
fn norm_and_rotate(
    qkv: &mut [f32],
    positions: &[usize],
    shape: GroupedHeads,
    layer: &Layer,
    rotary: &Rotary,
    eps: f32,
) {
    let d = shape.head_dim;
    let half = d / 2;
    let width = shape.qkv_width();
    let query_width = shape.heads * d;
    let rotated_width = (shape.heads + shape.kv_heads) * d;
    qkv.par_chunks_mut(ROWS_PER_TASK * width)
        .zip(positions.par_chunks(ROWS_PER_TASK))
        .for_each(|(rows, positions)| {
            let mut head = vec![0f32; d];
            for (row, &pos) in rows.chunks_exact_mut(width).zip(positions) {
                let cos = &rotary.cos[pos * half..(pos + 1) * half];
                let sin = &rotary.sin[pos * half..(pos + 1) * half];
                for (i, out) in row[..rotated_width].chunks_exact_mut(d).enumerate() {
                    let scale = if i * d < query_width {
                        &layer.q_norm
                    } else {
                        &layer.k_norm
                    };
                    head.copy_from_slice(out);
                    rms_norm_row(&head, out, scale, eps);
                    rotate(out, cos, sin);
                }
            }
        });
}

/// Query tokens per attention task.
const QUERIES_PER_TASK: usize = 32;
/// Query vectors (token and head pairs) one attention block computes
/// together: each key or value vector loaded serves all of them, and their
/// sums stay in registers (6 × 16 lanes for the scores, 6 × 32 for the
/// context).
const BLOCK_ROWS: usize = 6;
/// Keys per score vector, columns per context vector.
const LANES: usize = 16;

/// `scores[r][j] = q[r] · keys[j]` for the `rows` query vectors of `q`
/// (`head_dim` each, already scaled) against `keys_t`, one key/value
/// head's keys transposed (`head_dim × padded`, `padded` a multiple of
/// [`LANES`]). Each sum runs over the dimensions in order, as a plain dot
/// product would.
#[inline(always)]
fn block_scores(q: &[f32], rows: usize, keys_t: &[f32], padded: usize, scores: &mut [f32]) {
    let d = keys_t.len() / padded;
    for j in (0..padded).step_by(LANES) {
        let mut acc = [[0f32; LANES]; BLOCK_ROWS];
        for dim in 0..d {
            let k: &[f32; LANES] = keys_t[dim * padded + j..][..LANES].try_into().unwrap();
            for (r, acc) in acc.iter_mut().enumerate().take(rows) {
                let qd = q[r * d + dim];
                for (a, &kv) in acc.iter_mut().zip(k) {
                    *a += qd * kv;
                }
            }
        }
        for (r, acc) in acc.iter().enumerate().take(rows) {
            scores[r * padded + j..][..LANES].copy_from_slice(acc);
        }
    }
}

/// `out[r] = Σ_j p[r][j] · values[j]` over keys `lo..hi` (`p` is zero
/// outside each row's own keys), for `rows` rows; `value(j)` is key `j`'s
/// value vector. Each sum runs over the keys in order.
#[inline(always)]
fn block_context<'v>(
    p: &[f32],
    padded: usize,
    rows: usize,
    (lo, hi): (usize, usize),
    value: impl Fn(usize) -> &'v [f32],
    d: usize,
    out: &mut [f32],
) {
    for c in (0..d).step_by(2 * LANES) {
        let mut acc = [[0f32; 2 * LANES]; BLOCK_ROWS];
        let w = (d - c).min(2 * LANES);
        for j in lo..hi {
            if w == 2 * LANES {
                let v: &[f32; 2 * LANES] = value(j)[c..][..2 * LANES].try_into().unwrap();
                for (r, acc) in acc.iter_mut().enumerate().take(rows) {
                    let pj = p[r * padded + j];
                    for (a, &vd) in acc.iter_mut().zip(v) {
                        *a += pj * vd;
                    }
                }
            } else {
                // Heads narrower than 32 (the tests' small shapes).
                let v = &value(j)[c..c + w];
                for (r, acc) in acc.iter_mut().enumerate().take(rows) {
                    let pj = p[r * padded + j];
                    for (a, &vd) in acc.iter_mut().zip(v) {
                        *a += pj * vd;
                    }
                }
            }
        }
        for (r, acc) in acc.iter().enumerate().take(rows) {
            out[r * d + c..][..w].copy_from_slice(&acc[..w]);
        }
    }
}

/// Attention of query tokens `first ..` of one sentence (`qkv`, `len`
/// rows), into `ctx` (as many rows as it holds, `context_width` each).
/// `keys_t` holds each key/value head's keys transposed (`head_dim ×
/// padded`, zero past `len`). The query vectors that read one key/value
/// head are taken [`BLOCK_ROWS`] at a time.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn attend_rows(
    qkv: &[f32],
    keys_t: &[f32],
    len: usize,
    padded: usize,
    first: usize,
    shape: GroupedHeads,
    band: Option<usize>,
    scaling: f32,
    ctx: &mut [f32],
) {
    let d = shape.head_dim;
    let (width, out_width) = (shape.qkv_width(), shape.context_width());
    let groups = shape.heads / shape.kv_heads;
    let tokens = ctx.len() / out_width;
    let mut q = vec![0f32; BLOCK_ROWS * d];
    let mut p = vec![0f32; BLOCK_ROWS * padded];
    let mut out = vec![0f32; BLOCK_ROWS * d];
    let mut inv = [0f32; BLOCK_ROWS];
    let mut span = [(0usize, 0usize); BLOCK_ROWS];
    for kv in 0..shape.kv_heads {
        let keys = &keys_t[kv * d * padded..(kv + 1) * d * padded];
        let vo = (shape.heads + shape.kv_heads + kv) * d;
        // The (token, head) pairs of this key/value head, token by token.
        let pairs: Vec<(usize, usize)> = (0..tokens)
            .flat_map(|t| (kv * groups..(kv + 1) * groups).map(move |h| (t, h)))
            .collect();
        for block in pairs.chunks(BLOCK_ROWS) {
            let rows = block.len();
            for (r, &(t, h)) in block.iter().enumerate() {
                let at = (first + t) * width + h * d;
                for (qd, &v) in q[r * d..(r + 1) * d].iter_mut().zip(&qkv[at..at + d]) {
                    *qd = v * scaling;
                }
            }
            block_scores(&q, rows, keys, padded, &mut p);
            for (r, &(t, _)) in block.iter().enumerate() {
                let i = first + t;
                // Keys at distance below the band, or all of them.
                let (lo, hi) = match band {
                    Some(band) => (i.saturating_sub(band - 1), (i + band).min(len)),
                    None => (0, len),
                };
                let row = &mut p[r * padded..(r + 1) * padded];
                let max = row[lo..hi]
                    .iter()
                    .copied()
                    .fold(f32::NEG_INFINITY, f32::max);
                for s in &mut row[lo..hi] {
                    *s = exp(*s - max);
                }
                inv[r] = 1.0 / ops::sum16(&row[lo..hi], |v| v);
                row[..lo].fill(0.0);
                row[hi..].fill(0.0);
                span[r] = (lo, hi);
            }
            let lo = span[..rows].iter().map(|s| s.0).min().unwrap_or(0);
            let hi = span[..rows].iter().map(|s| s.1).max().unwrap_or(0);
            let value = |j: usize| &qkv[j * width + vo..j * width + vo + d];
            block_context(&p, padded, rows, (lo, hi), value, d, &mut out);
            for (r, &(t, h)) in block.iter().enumerate() {
                let dst = &mut ctx[t * out_width + h * d..t * out_width + (h + 1) * d];
                for (o, &v) in dst.iter_mut().zip(&out[r * d..(r + 1) * d]) {
                    *o = v * inv[r];
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn attend_rows_avx512(
    qkv: &[f32],
    keys_t: &[f32],
    len: usize,
    padded: usize,
    first: usize,
    shape: GroupedHeads,
    band: Option<usize>,
    scaling: f32,
    ctx: &mut [f32],
) {
    attend_rows(qkv, keys_t, len, padded, first, shape, band, scaling, ctx)
}

/// Multi-query self-attention of every sentence of a batch stored back to
/// back: sentence `s` is `lens[s]` rows of `qkv` (`[query | key | value]`,
/// normed and rotated); its context rows go to the same rows of `ctx`.
/// With `band`, a query sees only the keys at distance below it. Each query
/// row's sums run in a fixed order over its own keys, so the result does
/// not depend on the batch, the blocks or the thread count.
fn attention(
    qkv: &[f32],
    lens: &[usize],
    shape: GroupedHeads,
    band: Option<usize>,
    scaling: f32,
    ctx: &mut [f32],
    avx512: bool,
) {
    let (d, width, out_width) = (shape.head_dim, shape.qkv_width(), shape.context_width());
    let mut pieces = Vec::with_capacity(lens.len());
    let (mut rest, mut row) = (ctx, 0);
    for &len in lens {
        let (head, tail) = rest.split_at_mut(len * out_width);
        pieces.push((row, len, head));
        rest = tail;
        row += len;
    }
    pieces.into_par_iter().for_each(|(row, len, out)| {
        let rows = &qkv[row * width..(row + len) * width];
        let padded = len.div_ceil(LANES) * LANES;
        let mut keys_t = vec![0f32; shape.kv_heads * d * padded];
        for kv in 0..shape.kv_heads {
            let ko = (shape.heads + kv) * d;
            let dst = &mut keys_t[kv * d * padded..(kv + 1) * d * padded];
            for j in 0..len {
                for c in 0..d {
                    dst[c * padded + j] = rows[j * width + ko + c];
                }
            }
        }
        out.par_chunks_mut(QUERIES_PER_TASK * out_width)
            .enumerate()
            .for_each(|(t, ctx)| {
                let first = t * QUERIES_PER_TASK;
                #[cfg(target_arch = "x86_64")]
                if avx512 {
                    // SAFETY: the caller passes `avx512` only where the CPU
                    // has it.
                    return unsafe {
                        attend_rows_avx512(
                            rows, &keys_t, len, padded, first, shape, band, scaling, ctx,
                        )
                    };
                }
                let _ = avx512;
                attend_rows(rows, &keys_t, len, padded, first, shape, band, scaling, ctx)
            });
    });
}

impl<E: FastPrecision> Backbone for FastGemma<E> {
    const ARCHITECTURE: &'static str = "Gemma 3";
    const PRECISION: Precision = E::PRECISION;
    type Config = Config;

    /// Loads every weight, the token table included, through `vb`.
    fn load(vb: VarBuilder, c: &Config) -> candle_core::Result<Self> {
        let (vb, _) = text_model_root(vb);
        let table = vb.get((c.vocab_size, c.hidden_size), EMBED_TOKENS)?;
        Self::with_embeddings(vb, c, ScaledEmbedding::resident(table, c))
    }

    /// The token table is read from the mapped file, as candle's Gemma
    /// does; `vb` loads the rest.
    fn load_from_file(vb: VarBuilder, c: &Config, weights: &Path) -> candle_core::Result<Self> {
        let (vb, table) = text_model_root(vb);
        let embed_tokens = ScaledEmbedding::mapped(weights, &table, c)?;
        Self::with_embeddings(vb, c, embed_tokens)
    }

    fn hidden_size(c: &Config) -> usize {
        c.hidden_size
    }

    fn max_positions(c: &Config) -> usize {
        c.max_position_embeddings
    }

    fn pad_token_id(c: &Config) -> u32 {
        c.pad_token_id as u32
    }

    fn forward(&self, input_ids: &Tensor, attention_mask: &Tensor) -> candle_core::Result<Tensor> {
        let (packed, lens) = super::unpad(input_ids, attention_mask)?;
        let hidden = self.forward_packed(&packed, &lens)?;
        super::repad(&hidden, &lens, input_ids.dim(1)?, self.hidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_the_norm_and_position_zero_is_identity() {
        let mut head: Vec<f32> = (0..8).map(|i| i as f32 - 3.5).collect();
        let before = head.clone();
        rotate(&mut head, &[1.0; 4], &[0.0; 4]);
        assert_eq!(head, before);
        let (cos, sin) = rotary_tables(10_000.0, 8, 5);
        rotate(&mut head, &cos[4 * 4..], &sin[4 * 4..]);
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>();
        assert!((norm(&head) - norm(&before)).abs() < 1e-4);
        assert_ne!(head, before);
    }

    /// One query head against the keys of a 6-token sentence, band 3: the
    /// context rows must be the softmax-weighted values of the keys within
    /// distance 2 only, computed here the slow way.
    #[test]
    fn sliding_attention_reads_only_the_band() {
        let shape = GroupedHeads {
            heads: 2,
            kv_heads: 1,
            head_dim: 2,
        };
        let len = 6;
        let qkv: Vec<f32> = (0..len * shape.qkv_width())
            .map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.3)
            .collect();
        let width = shape.qkv_width();
        for band in [Some(3), None] {
            let mut ctx = vec![0f32; len * shape.context_width()];
            attention(&qkv, &[len], shape, band, 0.5, &mut ctx, false);
            for i in 0..len {
                for h in 0..2 {
                    let q = &qkv[i * width + 2 * h..i * width + 2 * h + 2];
                    let seen: Vec<usize> = (0..len)
                        .filter(|&j| band.is_none_or(|b| i.abs_diff(j) < b))
                        .collect();
                    let logits: Vec<f64> = seen
                        .iter()
                        .map(|&j| {
                            let k = &qkv[j * width + 4..j * width + 6];
                            0.5 * (q[0] * k[0] + q[1] * k[1]) as f64
                        })
                        .collect();
                    let m = logits.iter().copied().fold(f64::MIN, f64::max);
                    let total: f64 = logits.iter().map(|l| (l - m).exp()).sum();
                    for c in 0..2 {
                        let want: f64 = seen
                            .iter()
                            .zip(&logits)
                            .map(|(&j, l)| (l - m).exp() / total * qkv[j * width + 6 + c] as f64)
                            .sum();
                        let got = ctx[i * 4 + 2 * h + c] as f64;
                        assert!(
                            (got - want).abs() < 1e-5,
                            "{band:?} q{i} h{h}: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }
}
