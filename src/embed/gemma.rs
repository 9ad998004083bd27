//! Gemma 3 as a bidirectional text encoder, for EmbeddingGemma-300M, on
//! candle. Laid out like [`super::mpnet`] (config as a serde struct,
//! `load`/`forward` per layer) and following transformers'
//! `Gemma3TextModel` at inference, as sentence-transformers runs it:
//!
//! - token embeddings multiplied by `sqrt(hidden_size)`, rounded to the
//!   weights' dtype (f32) first, as `Gemma3TextScaledWordEmbedding` does;
//! - every layer: RMSNorm, attention, RMSNorm, residual; RMSNorm, GeGLU
//!   feed-forward (tanh GELU), RMSNorm, residual. Every RMSNorm scales by
//!   `1 + weight` (Gemma's form), in f32;
//! - attention with grouped queries (here 3 query heads share 1 key/value
//!   head of width 256), RMSNorms on queries and keys, rotary positions
//!   (local base on sliding-window layers, global base on full-attention
//!   layers, as `layer_types` says), scores scaled by
//!   `query_pre_attn_scalar^-1/2`;
//! - attention is bidirectional (`use_bidirectional_attention`): full layers
//!   see every real token; sliding layers see the real tokens at distance
//!   `< sliding_window / 2 + 1` on either side. transformers halves the
//!   configured window for bidirectional models (`Gemma3TextConfig`: "due to
//!   fa we set exclusive bounds") and ORs its causal sliding mask with
//!   `|q - k| < window`, which leaves exactly that symmetric band;
//! - the final RMSNorm; the token vectors then go through
//!   sentence-transformers' pooling and Dense layers ([`super::sentence`]).
//!
//! The token embedding table (262,144 × 768 f32, 805 MB) stays in the
//! memory-mapped weights file when the model is loaded from its files: only
//! the rows of the tokens seen are read, so it never has to be resident.
//!
//! Parity with the Python reference is checked by `tests/encoder_parity.rs`
//! against `eval/fixtures/gemma_reference.json`.

use std::path::Path;

use candle_core::safetensors::MmapedSafetensors;
use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::{linear_no_bias, Linear, VarBuilder};
use serde::Deserialize;

use super::sentence::{Backbone, SentenceEncoder};

/// An EmbeddingGemma encoder (Gemma 3 text model, mean pooling, Dense
/// projections), CPU and f32.
pub type GemmaEncoder = SentenceEncoder<GemmaModel>;

/// Name of the token embedding table in the weights.
pub(crate) const EMBED_TOKENS: &str = "embed_tokens.weight";

/// Which attention a layer has (`layer_types` in config.json).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerType {
    /// Within the sliding window, with the local rotary base.
    SlidingAttention,
    /// Over every token, with the global rotary base.
    FullAttention,
}

// https://github.com/huggingface/transformers/blob/main/src/transformers/models/gemma3/configuration_gemma3.py (Gemma3TextConfig)
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Config {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: usize,
    pub head_dim: usize,
    pub hidden_activation: String,
    pub rms_norm_eps: f64,
    /// Rotary base of full-attention layers.
    pub rope_theta: f64,
    /// Rotary base of sliding-window layers.
    pub rope_local_base_freq: f64,
    pub query_pre_attn_scalar: f64,
    /// As configured; see [`Config::attention_band`] for what is applied.
    pub sliding_window: usize,
    pub layer_types: Vec<LayerType>,
    #[serde(default)]
    pub use_bidirectional_attention: bool,
    pub max_position_embeddings: usize,
    pub pad_token_id: usize,
    #[serde(default)]
    pub attention_bias: bool,
    #[serde(default)]
    pub attn_logit_softcapping: Option<f64>,
    #[serde(default)]
    pub rope_scaling: Option<serde_json::Value>,
}

impl Config {
    /// Refuses what this implementation does not do, rather than give other
    /// vectors than transformers without a word.
    pub(crate) fn check(&self) -> Result<()> {
        let unsupported =
            |what: String| candle_core::bail!("Gemma 3 config: {what} is not supported");
        if !self.use_bidirectional_attention {
            return unsupported("causal attention (use_bidirectional_attention false)".into());
        }
        if self.hidden_activation != "gelu_pytorch_tanh" {
            return unsupported(format!("hidden_activation {:?}", self.hidden_activation));
        }
        if self.attention_bias {
            return unsupported("attention_bias".into());
        }
        if self.attn_logit_softcapping.is_some() {
            return unsupported("attn_logit_softcapping".into());
        }
        if self.rope_scaling.is_some() {
            return unsupported("rope_scaling".into());
        }
        if self.layer_types.len() != self.num_hidden_layers {
            return unsupported(format!(
                "{} layer_types for {} layers",
                self.layer_types.len(),
                self.num_hidden_layers
            ));
        }
        if self.num_key_value_heads == 0
            || !self
                .num_attention_heads
                .is_multiple_of(self.num_key_value_heads)
        {
            return unsupported(format!(
                "{} query heads over {} key/value heads",
                self.num_attention_heads, self.num_key_value_heads
            ));
        }
        Ok(())
    }

    /// A sliding-window layer's query sees keys at distance below this, on
    /// either side: transformers' `sliding_window // 2 + 1` for a
    /// bidirectional model (257 for a configured 512).
    pub fn attention_band(&self) -> usize {
        self.sliding_window / 2 + 1
    }
}

/// Gemma's RMSNorm: `x / rms(x) * (1 + weight)`, in f32.
struct RmsNorm {
    /// `1 + weight`, computed once.
    scale: Tensor,
    eps: f32,
}

impl RmsNorm {
    fn load(dim: usize, eps: f64, vb: VarBuilder) -> Result<Self> {
        let weight = vb.get(dim, "weight")?.to_dtype(DType::F32)?;
        Ok(Self {
            scale: (weight + 1.0)?,
            eps: eps as f32,
        })
    }
}

impl Module for RmsNorm {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        candle_nn::ops::rms_norm(&xs.contiguous()?, &self.scale, self.eps)
    }
}

/// The token embedding table: resident (weights given as a `VarBuilder`,
/// e.g. fine-tuned ones), or read row by row from the mapped file.
enum TokenTable {
    Resident(Tensor),
    /// The file and the table's name in it.
    Mapped(MmapedSafetensors, String),
}

// Gemma3TextScaledWordEmbedding; also the fast path's token table
// (`super::fast::gemma`).
pub(crate) struct ScaledEmbedding {
    table: TokenTable,
    vocab_size: usize,
    hidden_size: usize,
    /// `sqrt(hidden_size)` rounded to f32, as transformers' `embed_scale`
    /// buffer cast to the weights' dtype.
    scale: f32,
}

impl ScaledEmbedding {
    fn new(table: TokenTable, config: &Config) -> Self {
        Self {
            table,
            vocab_size: config.vocab_size,
            hidden_size: config.hidden_size,
            scale: (config.hidden_size as f64).sqrt() as f32,
        }
    }

    /// A table held in memory (`vocab × hidden`).
    pub(crate) fn resident(table: Tensor, config: &Config) -> Self {
        Self::new(TokenTable::Resident(table), config)
    }

    /// The table `name` in the weights file `path`, mapped, after checking
    /// its dtype and shape.
    pub(crate) fn mapped(path: &Path, name: &str, config: &Config) -> Result<Self> {
        // SAFETY: as for the VarBuilder's own map (SentenceEncoder::load):
        // the cache never rewrites a model file in place.
        let file = unsafe { MmapedSafetensors::new(path)? };
        {
            let view = file.get(name)?;
            let dtype = DType::try_from(view.dtype())?;
            if dtype != DType::F32 || view.shape() != [config.vocab_size, config.hidden_size] {
                candle_core::bail!(
                    "{name}: {dtype:?} {:?}, expected F32 [{}, {}]",
                    view.shape(),
                    config.vocab_size,
                    config.hidden_size
                );
            }
        }
        Ok(Self::new(
            TokenTable::Mapped(file, name.to_string()),
            config,
        ))
    }

    /// The scaled rows of `ids`, one after another (`ids.len() × hidden`).
    pub(crate) fn rows(&self, ids: &[u32]) -> Result<Vec<f32>> {
        if let Some(&bad) = ids.iter().find(|&&id| id as usize >= self.vocab_size) {
            candle_core::bail!("token id {bad} out of the vocabulary ({})", self.vocab_size);
        }
        match &self.table {
            TokenTable::Resident(table) => {
                let ids = Tensor::from_slice(ids, ids.len(), table.device())?;
                (table.index_select(&ids, 0)? * f64::from(self.scale))?
                    .flatten_all()?
                    .to_vec1()
            }
            TokenTable::Mapped(file, name) => {
                let view = file.get(name)?;
                let data = view.data();
                let row_bytes = self.hidden_size * 4;
                let mut out = Vec::with_capacity(ids.len() * self.hidden_size);
                for &id in ids {
                    let start = id as usize * row_bytes;
                    out.extend(
                        data[start..start + row_bytes]
                            .chunks_exact(4)
                            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) * self.scale),
                    );
                }
                Ok(out)
            }
        }
    }

    fn forward(&self, input_ids: &Tensor) -> Result<Tensor> {
        let (rows, width) = input_ids.dims2()?;
        let ids = input_ids.flatten_all()?.to_vec1::<u32>()?;
        let embedded = self.rows(&ids)?;
        Tensor::from_vec(
            embedded,
            (rows, width, self.hidden_size),
            input_ids.device(),
        )
    }
}

/// Rotary position tables (`cos`, `sin`, each `positions × head_dim / 2`)
/// for one base, computed in f32 as transformers does.
struct Rotary {
    cos: Tensor,
    sin: Tensor,
}

/// Rotary `cos` and `sin` tables (each `positions × head_dim / 2`) for
/// `base`, computed in f32 as transformers does; shared with the fast path.
pub(crate) fn rotary_tables(base: f64, head_dim: usize, positions: usize) -> (Vec<f32>, Vec<f32>) {
    let base = base as f32;
    let inv_freq: Vec<f32> = (0..head_dim)
        .step_by(2)
        .map(|i| 1.0 / base.powf(i as f32 / head_dim as f32))
        .collect();
    let mut cos = Vec::with_capacity(positions * inv_freq.len());
    let mut sin = Vec::with_capacity(positions * inv_freq.len());
    for p in 0..positions {
        for &f in &inv_freq {
            let angle = p as f32 * f;
            cos.push(angle.cos());
            sin.push(angle.sin());
        }
    }
    (cos, sin)
}

impl Rotary {
    fn new(base: f64, head_dim: usize, positions: usize, device: &Device) -> Result<Self> {
        let (cos, sin) = rotary_tables(base, head_dim, positions);
        let half = head_dim / 2;
        Ok(Self {
            cos: Tensor::from_vec(cos, (positions, half), device)?,
            sin: Tensor::from_vec(sin, (positions, half), device)?,
        })
    }

    /// Rotates `xs` (`rows × heads × width × head_dim`), token `t` at
    /// position `t`.
    fn apply(&self, xs: &Tensor) -> Result<Tensor> {
        let width = xs.dim(2)?;
        candle_nn::rotary_emb::rope(
            &xs.contiguous()?,
            &self.cos.narrow(0, 0, width)?,
            &self.sin.narrow(0, 0, width)?,
        )
    }
}

// Gemma3MLP: GeGLU with the tanh GELU.
struct Mlp {
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
}

impl Mlp {
    fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        let (h, i) = (config.hidden_size, config.intermediate_size);
        Ok(Self {
            gate_proj: linear_no_bias(h, i, vb.pp("gate_proj"))?,
            up_proj: linear_no_bias(h, i, vb.pp("up_proj"))?,
            down_proj: linear_no_bias(i, h, vb.pp("down_proj"))?,
        })
    }

    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        // candle's `gelu` is the tanh approximation (`gelu_pytorch_tanh`).
        let gate = self.gate_proj.forward(xs)?.gelu()?;
        self.down_proj.forward(&(gate * self.up_proj.forward(xs)?)?)
    }
}

// Gemma3Attention
struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    q_norm: RmsNorm,
    k_norm: RmsNorm,
    num_heads: usize,
    num_kv_heads: usize,
    head_dim: usize,
    scaling: f64,
}

impl Attention {
    fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        let (h, d) = (config.hidden_size, config.head_dim);
        let (heads, kv_heads) = (config.num_attention_heads, config.num_key_value_heads);
        Ok(Self {
            q_proj: linear_no_bias(h, heads * d, vb.pp("q_proj"))?,
            k_proj: linear_no_bias(h, kv_heads * d, vb.pp("k_proj"))?,
            v_proj: linear_no_bias(h, kv_heads * d, vb.pp("v_proj"))?,
            o_proj: linear_no_bias(heads * d, h, vb.pp("o_proj"))?,
            q_norm: RmsNorm::load(d, config.rms_norm_eps, vb.pp("q_norm"))?,
            k_norm: RmsNorm::load(d, config.rms_norm_eps, vb.pp("k_norm"))?,
            num_heads: heads,
            num_kv_heads: kv_heads,
            head_dim: d,
            scaling: config.query_pre_attn_scalar.powf(-0.5),
        })
    }

    /// `(rows, width, heads * head_dim)` to `(rows, heads, width, head_dim)`.
    fn split_heads(&self, xs: &Tensor, heads: usize) -> Result<Tensor> {
        let (rows, width, _) = xs.dims3()?;
        xs.reshape((rows, width, heads, self.head_dim))?
            .transpose(1, 2)?
            .contiguous()
    }

    /// `bias` (`rows × 1 × width × width`) is 0 where a query may see a key
    /// and `f32::MIN` elsewhere.
    fn forward(&self, xs: &Tensor, rotary: &Rotary, bias: &Tensor) -> Result<Tensor> {
        let (rows, width, _) = xs.dims3()?;
        let q = self.split_heads(&self.q_proj.forward(xs)?, self.num_heads)?;
        let k = self.split_heads(&self.k_proj.forward(xs)?, self.num_kv_heads)?;
        let v = self.split_heads(&self.v_proj.forward(xs)?, self.num_kv_heads)?;
        let q = rotary.apply(&self.q_norm.forward(&q)?)?;
        let k = rotary.apply(&self.k_norm.forward(&k)?)?;

        // Query heads h·groups .. (h+1)·groups share key/value head h
        // (transformers' repeat_kv): stack each group's queries along the
        // sequence so one product per key/value head serves all of them.
        let groups = self.num_heads / self.num_kv_heads;
        let d = self.head_dim;
        let q = q.reshape((rows * self.num_kv_heads, groups * width, d))?;
        let k = k.reshape((rows * self.num_kv_heads, width, d))?;
        let v = v.reshape((rows * self.num_kv_heads, width, d))?;
        let scores = (q.matmul(&k.t()?)? * self.scaling)?
            .reshape((rows, self.num_heads, width, width))?
            .broadcast_add(bias)?;
        let probs = candle_nn::ops::softmax_last_dim(&scores)?.reshape((
            rows * self.num_kv_heads,
            groups * width,
            width,
        ))?;
        let context = probs
            .matmul(&v)?
            .reshape((rows, self.num_heads, width, d))?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((rows, width, self.num_heads * d))?;
        self.o_proj.forward(&context)
    }
}

// Gemma3DecoderLayer
struct Layer {
    self_attn: Attention,
    mlp: Mlp,
    input_layernorm: RmsNorm,
    post_attention_layernorm: RmsNorm,
    pre_feedforward_layernorm: RmsNorm,
    post_feedforward_layernorm: RmsNorm,
    kind: LayerType,
}

impl Layer {
    fn load(vb: VarBuilder, config: &Config, kind: LayerType) -> Result<Self> {
        let norm = |name: &str| RmsNorm::load(config.hidden_size, config.rms_norm_eps, vb.pp(name));
        Ok(Self {
            self_attn: Attention::load(vb.pp("self_attn"), config)?,
            mlp: Mlp::load(vb.pp("mlp"), config)?,
            input_layernorm: norm("input_layernorm")?,
            post_attention_layernorm: norm("post_attention_layernorm")?,
            pre_feedforward_layernorm: norm("pre_feedforward_layernorm")?,
            post_feedforward_layernorm: norm("post_feedforward_layernorm")?,
            kind,
        })
    }

    fn forward(&self, xs: &Tensor, rotary: &Rotary, bias: &Tensor) -> Result<Tensor> {
        let attended = self
            .self_attn
            .forward(&self.input_layernorm.forward(xs)?, rotary, bias)?;
        let xs = (xs + self.post_attention_layernorm.forward(&attended)?)?;
        let fed = self
            .mlp
            .forward(&self.pre_feedforward_layernorm.forward(&xs)?)?;
        &xs + self.post_feedforward_layernorm.forward(&fed)?
    }
}

/// Checkpoints of the full Gemma 3 models keep the text model under
/// `model.`; sentence-transformers saves it bare. Also returns the token
/// table's full name.
pub(crate) fn text_model_root(vb: VarBuilder) -> (VarBuilder, String) {
    let prefixed = format!("model.{EMBED_TOKENS}");
    if vb.contains_tensor(&prefixed) {
        (vb.pp("model"), prefixed)
    } else {
        (vb, EMBED_TOKENS.to_string())
    }
}

/// The Gemma 3 text model without a head: token ids in, (normed) token
/// vectors out.
// Gemma3TextModel
pub struct GemmaModel {
    embed_tokens: ScaledEmbedding,
    layers: Vec<Layer>,
    norm: RmsNorm,
    local_rotary: Rotary,
    global_rotary: Rotary,
    attention_band: usize,
}

impl GemmaModel {
    /// Everything but the token table, which `embed_tokens` provides.
    fn with_embeddings(
        vb: VarBuilder,
        config: &Config,
        embed_tokens: ScaledEmbedding,
    ) -> Result<Self> {
        config.check()?;
        let layers = config
            .layer_types
            .iter()
            .enumerate()
            .map(|(i, &kind)| Layer::load(vb.pp(format!("layers.{i}")), config, kind))
            .collect::<Result<Vec<_>>>()?;
        let device = vb.device();
        let positions = config.max_position_embeddings;
        Ok(Self {
            embed_tokens,
            layers,
            norm: RmsNorm::load(config.hidden_size, config.rms_norm_eps, vb.pp("norm"))?,
            local_rotary: Rotary::new(
                config.rope_local_base_freq,
                config.head_dim,
                positions,
                device,
            )?,
            global_rotary: Rotary::new(config.rope_theta, config.head_dim, positions, device)?,
            attention_band: config.attention_band(),
        })
    }

    /// Loads every weight, the token table included, through `vb`.
    pub fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        let (vb, _) = text_model_root(vb);
        let table = vb.get((config.vocab_size, config.hidden_size), EMBED_TOKENS)?;
        let embed_tokens = ScaledEmbedding::new(TokenTable::Resident(table), config);
        Self::with_embeddings(vb, config, embed_tokens)
    }

    /// The additive attention biases (`rows × 1 × width × width`) of the
    /// full and the sliding-window layers: a query sees every real key, or
    /// the real keys within the band. Masked pairs get `f32::MIN`, as
    /// transformers' masks do, so even a padding query with no key in its
    /// band keeps finite values.
    fn attention_biases(&self, attention_mask: &Tensor) -> Result<(Tensor, Tensor)> {
        let (rows, width) = attention_mask.dims2()?;
        let mask = attention_mask.to_vec2::<u32>()?;
        let mut full = Vec::with_capacity(rows * width * width);
        let mut sliding = Vec::with_capacity(rows * width * width);
        for row in &mask {
            for q in 0..width {
                for (k, &real) in row.iter().enumerate() {
                    let seen = if real != 0 { 0.0 } else { f32::MIN };
                    full.push(seen);
                    sliding.push(if q.abs_diff(k) < self.attention_band {
                        seen
                    } else {
                        f32::MIN
                    });
                }
            }
        }
        let device = attention_mask.device();
        Ok((
            Tensor::from_vec(full, (rows, 1, width, width), device)?,
            Tensor::from_vec(sliding, (rows, 1, width, width), device)?,
        ))
    }

    /// Token vectors (`rows × width × hidden`) of right-padded `input_ids`;
    /// `attention_mask` (u32, 1 on real tokens) keeps padding out of every
    /// token's attention.
    pub fn forward(&self, input_ids: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        let mut xs = self.embed_tokens.forward(input_ids)?;
        let (full, sliding) = self.attention_biases(attention_mask)?;
        for layer in &self.layers {
            xs = match layer.kind {
                LayerType::SlidingAttention => layer.forward(&xs, &self.local_rotary, &sliding)?,
                LayerType::FullAttention => layer.forward(&xs, &self.global_rotary, &full)?,
            };
        }
        self.norm.forward(&xs)
    }
}

impl Backbone for GemmaModel {
    const ARCHITECTURE: &'static str = "Gemma 3";
    type Config = Config;
    /// Texts run from 10 to 2048 tokens with the prompt; in one batch of 32
    /// every short one would be padded to the longest (27 test sentences
    /// of 10 to 902 tokens took 24,354 padded positions for 2,700 real
    /// ones, and attention over the padding dominated). 2048 keeps 32
    /// sentences of up to 64 tokens together, the usual case.
    ///
    /// Not switched on yet: other batches move candle's vectors by about
    /// 1e-7, and with them the bytes of the shipped Gemma head
    /// (`tests/shipped_head.rs`), which must be retrained in the same
    /// change. Turn on with `Some(2048)` then.
    const PADDED_TOKEN_BUDGET: Option<usize> = None;

    fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        GemmaModel::load(vb, config)
    }

    /// The token table is read from the mapped file instead of being copied
    /// into memory (805 MB for EmbeddingGemma-300M); `vb` loads the rest.
    fn load_from_file(vb: VarBuilder, config: &Config, weights: &Path) -> Result<Self> {
        let (vb, table) = text_model_root(vb);
        let embed_tokens = ScaledEmbedding::mapped(weights, &table, config)?;
        Self::with_embeddings(vb, config, embed_tokens)
    }

    fn hidden_size(config: &Config) -> usize {
        config.hidden_size
    }

    fn max_positions(config: &Config) -> usize {
        config.max_position_embeddings
    }

    fn pad_token_id(config: &Config) -> u32 {
        config.pad_token_id as u32
    }

    fn forward(&self, input_ids: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        GemmaModel::forward(self, input_ids, attention_mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        serde_json::from_value(serde_json::json!({
            "vocab_size": 8, "hidden_size": 4, "intermediate_size": 6,
            "num_hidden_layers": 2, "num_attention_heads": 3, "num_key_value_heads": 1,
            "head_dim": 2, "hidden_activation": "gelu_pytorch_tanh", "rms_norm_eps": 1e-6,
            "rope_theta": 1e6, "rope_local_base_freq": 1e4, "query_pre_attn_scalar": 2,
            "sliding_window": 4, "layer_types": ["sliding_attention", "full_attention"],
            "use_bidirectional_attention": true, "max_position_embeddings": 16,
            "pad_token_id": 0
        }))
        .unwrap()
    }

    #[test]
    fn bidirectional_band_is_half_the_window_plus_one() {
        // transformers: sliding_window // 2 + 1, compared with `<`.
        assert_eq!(config().attention_band(), 3);
        let mut c = config();
        c.sliding_window = 512;
        assert_eq!(c.attention_band(), 257);
    }

    #[test]
    fn causal_or_unknown_configs_are_refused() {
        let mut c = config();
        c.use_bidirectional_attention = false;
        assert!(c.check().is_err());
        let mut c = config();
        c.hidden_activation = "gelu".into();
        assert!(c.check().is_err());
        let mut c = config();
        c.layer_types.pop();
        assert!(c.check().is_err());
        assert!(config().check().is_ok());
    }

    #[test]
    fn sliding_bias_is_a_symmetric_band_over_real_keys() {
        let dev = Device::Cpu;
        let vb = VarBuilder::zeros(DType::F32, &dev);
        let model = GemmaModel::load(vb, &config()).unwrap();
        let mask = Tensor::new(&[[1u32, 1, 1, 1, 1, 0]], &dev).unwrap();
        let (full, sliding) = model.attention_biases(&mask).unwrap();
        let full = full.squeeze(0).unwrap().squeeze(0).unwrap();
        let sliding = sliding.squeeze(0).unwrap().squeeze(0).unwrap();
        let seen = |t: &Tensor| -> Vec<Vec<u8>> {
            t.to_vec2::<f32>()
                .unwrap()
                .iter()
                .map(|r| r.iter().map(|&x| u8::from(x == 0.0)).collect())
                .collect()
        };
        assert!(seen(&full).iter().all(|r| r == &[1, 1, 1, 1, 1, 0]));
        assert_eq!(
            seen(&sliding),
            [
                [1, 1, 1, 0, 0, 0],
                [1, 1, 1, 1, 0, 0],
                [1, 1, 1, 1, 1, 0],
                [0, 1, 1, 1, 1, 0],
                [0, 0, 1, 1, 1, 0],
                [0, 0, 0, 1, 1, 0],
            ]
        );
    }
}
