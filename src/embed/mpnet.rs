//! MPNet (Song et al., 2020) on candle, for sentence encoders such as
//! all-mpnet-base-v2, laid out like candle's BERT (config as a serde struct,
//! `load`/`forward` per layer) and following transformers' `MPNetModel` at
//! inference:
//!
//! - embeddings are word + position only (no token types), with RoBERTa-style
//!   positions: real tokens count from `padding_idx + 1`, padding sits at
//!   `padding_idx`;
//! - every layer is BERT's (self-attention, residual + LayerNorm, GELU
//!   feed-forward, residual + LayerNorm), but its attention scores get a
//!   learnt bias per head and relative distance, bucketed like T5's. The bias
//!   depends only on the sequence length, so it is computed once per forward
//!   pass (together with the padding mask) and shared by all layers.
//!
//! Dropout is left out: this is inference only. The pooler (`pooler.*`
//! weights) is not loaded: sentence-transformers mean-pools the token vectors.
//!
//! Parity with the Python reference is checked by `tests/encoder_parity.rs`
//! against `eval/fixtures/mpnet_reference.json`.

use candle_core::{DType, Device, Module, Result, Tensor, D};
use candle_nn::{embedding, layer_norm, linear, Embedding, LayerNorm, Linear, VarBuilder};
use candle_transformers::models::bert::HiddenAct;
use serde::Deserialize;

use super::sentence::{Backbone, SentenceEncoder};

/// An MPNet encoder with mean pooling, CPU and f32.
pub type MpnetEncoder = SentenceEncoder<MpnetModel>;

/// Relative distances are sorted into this many buckets (see
/// [`Config::check_relative_buckets`]).
pub const RELATIVE_BUCKETS: u32 = 32;
/// Distances from this one up share the last bucket of their direction.
pub const RELATIVE_MAX_DISTANCE: u32 = 128;

// https://github.com/huggingface/transformers/blob/main/src/transformers/models/mpnet/configuration_mpnet.py
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Config {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub hidden_act: HiddenAct,
    pub max_position_embeddings: usize,
    pub layer_norm_eps: f64,
    /// Also the embeddings' `padding_idx` (transformers hard-codes 1, which
    /// is what MPNet configs say).
    pub pad_token_id: usize,
    pub relative_attention_num_buckets: usize,
}

impl Config {
    /// transformers buckets relative positions into [`RELATIVE_BUCKETS`]
    /// whatever the config says (`compute_position_bias`'s default), so a
    /// config with another table size is refused rather than half-followed.
    pub fn check_relative_buckets(&self) -> Result<()> {
        if self.relative_attention_num_buckets != RELATIVE_BUCKETS as usize {
            candle_core::bail!(
                "relative_attention_num_buckets is {}; MPNet as transformers runs it uses {}",
                self.relative_attention_num_buckets,
                RELATIVE_BUCKETS
            );
        }
        Ok(())
    }
}

/// The base model's weights: checkpoints of MPNetFor* models keep them
/// under `mpnet.`.
pub fn base_model(vb: VarBuilder) -> VarBuilder {
    if vb.contains_tensor("mpnet.embeddings.word_embeddings.weight") {
        vb.pp("mpnet")
    } else {
        vb
    }
}

/// The bucket of a key `relative_position` tokens after the query (negative:
/// before), as transformers' `MPNetEncoder.relative_position_bucket`: half
/// the buckets per direction; within each half, exact distances up to a
/// quarter of the buckets, then logarithmically wider ones up to
/// `max_distance`.
pub fn relative_position_bucket(
    relative_position: i64,
    num_buckets: u32,
    max_distance: u32,
) -> u32 {
    let half = num_buckets / 2;
    // transformers buckets `-relative_position`: keys before the query land
    // in the lower half, keys after it in the upper half.
    let n = -relative_position;
    let ret = if n < 0 { half } else { 0 };
    let n = n.unsigned_abs();
    let max_exact = half / 2;
    if n < u64::from(max_exact) {
        return ret + n as u32;
    }
    // The same f32 operations as torch, truncated toward zero like
    // `.to(torch.long)`; checked against torch's table by the parity test.
    let log_ratio = (n as f32 / max_exact as f32).ln()
        / (f64::from(max_distance) / f64::from(max_exact)).ln() as f32;
    let large = max_exact + (log_ratio * (half - max_exact) as f32) as u32;
    ret + large.min(half - 1)
}

fn hidden_act(act: HiddenAct, xs: &Tensor) -> Result<Tensor> {
    match act {
        // transformers' "gelu" is the exact, erf-based one.
        HiddenAct::Gelu => xs.gelu_erf(),
        HiddenAct::GeluApproximate => xs.gelu(),
        HiddenAct::Relu => xs.relu(),
    }
}

// https://github.com/huggingface/transformers/blob/main/src/transformers/models/mpnet/modeling_mpnet.py (MPNetEmbeddings)
struct MpnetEmbeddings {
    word_embeddings: Embedding,
    position_embeddings: Embedding,
    layer_norm: LayerNorm,
    padding_idx: u32,
}

impl MpnetEmbeddings {
    fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        Ok(Self {
            word_embeddings: embedding(
                config.vocab_size,
                config.hidden_size,
                vb.pp("word_embeddings"),
            )?,
            position_embeddings: embedding(
                config.max_position_embeddings,
                config.hidden_size,
                vb.pp("position_embeddings"),
            )?,
            layer_norm: layer_norm(
                config.hidden_size,
                config.layer_norm_eps,
                vb.pp("LayerNorm"),
            )?,
            padding_idx: config.pad_token_id as u32,
        })
    }

    /// RoBERTa-style positions: the k-th real token (from 1) of a row is at
    /// `padding_idx + k`, padding at `padding_idx`. transformers derives the
    /// real tokens from `input_ids != padding_idx`; the attention mask says
    /// the same for every input the tokenizer produces, without mistaking a
    /// literal "<pad>" in a sentence for padding.
    fn position_ids(&self, attention_mask: &Tensor) -> Result<Tensor> {
        let (rows, width) = attention_mask.dims2()?;
        let mut positions = Vec::with_capacity(rows * width);
        for row in attention_mask.to_vec2::<u32>()? {
            let mut seen = 0;
            positions.extend(row.iter().map(|&m| {
                if m == 0 {
                    self.padding_idx
                } else {
                    seen += 1;
                    self.padding_idx + seen
                }
            }));
        }
        Tensor::from_vec(positions, (rows, width), attention_mask.device())
    }

    fn forward(&self, input_ids: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        let words = self.word_embeddings.forward(input_ids)?;
        let positions = self
            .position_embeddings
            .forward(&self.position_ids(attention_mask)?)?;
        self.layer_norm.forward(&(words + positions)?)
    }
}

// MPNetSelfAttention
struct MpnetSelfAttention {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    num_attention_heads: usize,
    attention_head_size: usize,
}

impl MpnetSelfAttention {
    fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        let hidden = config.hidden_size;
        let attention_head_size = hidden / config.num_attention_heads;
        let all_head_size = config.num_attention_heads * attention_head_size;
        Ok(Self {
            q: linear(hidden, all_head_size, vb.pp("q"))?,
            k: linear(hidden, all_head_size, vb.pp("k"))?,
            v: linear(hidden, all_head_size, vb.pp("v"))?,
            o: linear(hidden, hidden, vb.pp("o"))?,
            num_attention_heads: config.num_attention_heads,
            attention_head_size,
        })
    }

    /// `(rows, width, hidden)` to `(rows, heads, width, head_size)`.
    fn split_heads(&self, xs: &Tensor) -> Result<Tensor> {
        let (rows, width, _) = xs.dims3()?;
        xs.reshape((
            rows,
            width,
            self.num_attention_heads,
            self.attention_head_size,
        ))?
        .transpose(1, 2)?
        .contiguous()
    }

    /// `attention_bias` (`rows × heads × width × width`) holds the relative
    /// position bias plus the padding mask.
    fn forward(&self, hidden_states: &Tensor, attention_bias: &Tensor) -> Result<Tensor> {
        let q = self.split_heads(&self.q.forward(hidden_states)?)?;
        let k = self.split_heads(&self.k.forward(hidden_states)?)?;
        let v = self.split_heads(&self.v.forward(hidden_states)?)?;

        let scores = (q.matmul(&k.t()?)? / (self.attention_head_size as f64).sqrt())?;
        let scores = scores.broadcast_add(attention_bias)?;
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let context = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .flatten_from(D::Minus2)?;
        self.o.forward(&context)
    }
}

// MPNetAttention: self-attention, then residual and LayerNorm.
struct MpnetAttention {
    attn: MpnetSelfAttention,
    layer_norm: LayerNorm,
}

impl MpnetAttention {
    fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        Ok(Self {
            attn: MpnetSelfAttention::load(vb.pp("attn"), config)?,
            layer_norm: layer_norm(
                config.hidden_size,
                config.layer_norm_eps,
                vb.pp("LayerNorm"),
            )?,
        })
    }

    fn forward(&self, hidden_states: &Tensor, attention_bias: &Tensor) -> Result<Tensor> {
        let attended = self.attn.forward(hidden_states, attention_bias)?;
        self.layer_norm.forward(&(attended + hidden_states)?)
    }
}

// MPNetIntermediate (BERT's)
struct MpnetIntermediate {
    dense: Linear,
    act: HiddenAct,
}

impl MpnetIntermediate {
    fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        Ok(Self {
            dense: linear(config.hidden_size, config.intermediate_size, vb.pp("dense"))?,
            act: config.hidden_act,
        })
    }

    fn forward(&self, hidden_states: &Tensor) -> Result<Tensor> {
        hidden_act(self.act, &self.dense.forward(hidden_states)?)
    }
}

// MPNetOutput (BERT's): projection back, residual and LayerNorm.
struct MpnetOutput {
    dense: Linear,
    layer_norm: LayerNorm,
}

impl MpnetOutput {
    fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        Ok(Self {
            dense: linear(config.intermediate_size, config.hidden_size, vb.pp("dense"))?,
            layer_norm: layer_norm(
                config.hidden_size,
                config.layer_norm_eps,
                vb.pp("LayerNorm"),
            )?,
        })
    }

    fn forward(&self, hidden_states: &Tensor, input_tensor: &Tensor) -> Result<Tensor> {
        let projected = self.dense.forward(hidden_states)?;
        self.layer_norm.forward(&(projected + input_tensor)?)
    }
}

// MPNetLayer
struct MpnetLayer {
    attention: MpnetAttention,
    intermediate: MpnetIntermediate,
    output: MpnetOutput,
}

impl MpnetLayer {
    fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        Ok(Self {
            attention: MpnetAttention::load(vb.pp("attention"), config)?,
            intermediate: MpnetIntermediate::load(vb.pp("intermediate"), config)?,
            output: MpnetOutput::load(vb.pp("output"), config)?,
        })
    }

    fn forward(&self, hidden_states: &Tensor, attention_bias: &Tensor) -> Result<Tensor> {
        let attention_output = self.attention.forward(hidden_states, attention_bias)?;
        let intermediate = self.intermediate.forward(&attention_output)?;
        self.output.forward(&intermediate, &attention_output)
    }
}

// MPNetEncoder (renamed: `MpnetEncoder` is the sentence encoder here): the
// layers and the relative-position bias table they share.
struct MpnetLayers {
    layers: Vec<MpnetLayer>,
    relative_attention_bias: Embedding,
}

impl MpnetLayers {
    fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        config.check_relative_buckets()?;
        let layers = (0..config.num_hidden_layers)
            .map(|i| MpnetLayer::load(vb.pp(format!("layer.{i}")), config))
            .collect::<Result<Vec<_>>>()?;
        let relative_attention_bias = embedding(
            config.relative_attention_num_buckets,
            config.num_attention_heads,
            vb.pp("relative_attention_bias"),
        )?;
        Ok(Self {
            layers,
            relative_attention_bias,
        })
    }

    /// The learnt bias of every (query, key) pair of a `width`-token
    /// sequence: `1 × heads × width × width`. It depends on `key - query`
    /// only, so each distance is bucketed once.
    fn position_bias(&self, width: usize, device: &Device) -> Result<Tensor> {
        let w = width as i64;
        // by_distance[d + width - 1] is the bucket of relative position d.
        let by_distance: Vec<u32> = (1 - w..w)
            .map(|d| relative_position_bucket(d, RELATIVE_BUCKETS, RELATIVE_MAX_DISTANCE))
            .collect();
        let mut buckets = Vec::with_capacity(width * width);
        for query in 0..width {
            // Keys 0..width are at distances -query..width-query.
            let start = width - 1 - query;
            buckets.extend_from_slice(&by_distance[start..start + width]);
        }
        let buckets = Tensor::from_vec(buckets, (width, width), device)?;
        self.relative_attention_bias
            .forward(&buckets)?
            .permute((2, 0, 1))?
            .unsqueeze(0)
    }

    fn forward(&self, hidden_states: &Tensor, attention_bias: &Tensor) -> Result<Tensor> {
        let mut hidden_states = hidden_states.clone();
        for layer in &self.layers {
            hidden_states = layer.forward(&hidden_states, attention_bias)?;
        }
        Ok(hidden_states)
    }
}

/// MPNet without a head: token ids in, token vectors out.
// MPNetModel
pub struct MpnetModel {
    embeddings: MpnetEmbeddings,
    encoder: MpnetLayers,
}

impl MpnetModel {
    pub fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        let vb = base_model(vb);
        Ok(Self {
            embeddings: MpnetEmbeddings::load(vb.pp("embeddings"), config)?,
            encoder: MpnetLayers::load(vb.pp("encoder"), config)?,
        })
    }

    /// Token vectors (`rows × width × hidden`) of `input_ids`, with
    /// `attention_mask` (u32, 1 on real tokens) keeping padding out of every
    /// token's attention.
    pub fn forward(&self, input_ids: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        let (_, width) = input_ids.dims2()?;
        let embedded = self.embeddings.forward(input_ids, attention_mask)?;
        // Padding keys get torch.finfo(float32).min, as transformers'
        // extended attention mask; the position bias is added once here
        // instead of in every layer.
        let padding = ((attention_mask.ones_like()? - attention_mask)?.to_dtype(DType::F32)?
            * f64::from(f32::MIN))?
        .unsqueeze(1)?
        .unsqueeze(1)?;
        let bias = self
            .encoder
            .position_bias(width, input_ids.device())?
            .broadcast_add(&padding)?;
        self.encoder.forward(&embedded, &bias)
    }
}

impl Backbone for MpnetModel {
    const ARCHITECTURE: &'static str = "MPNet";
    type Config = Config;

    fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        MpnetModel::load(vb, config)
    }

    fn hidden_size(config: &Config) -> usize {
        config.hidden_size
    }

    /// Position ids start after `padding_idx`, so the table's first
    /// `padding_idx + 1` rows are never used by real tokens.
    fn max_positions(config: &Config) -> usize {
        config
            .max_position_embeddings
            .saturating_sub(config.pad_token_id + 1)
    }

    fn pad_token_id(config: &Config) -> u32 {
        config.pad_token_id as u32
    }

    fn forward(&self, input_ids: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        MpnetModel::forward(self, input_ids, attention_mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_match_transformers_at_the_edges() {
        // Values printed by transformers' MPNetEncoder.relative_position_bucket
        // (torch 2.15) for these relative positions.
        let torch = [
            (-600, 15),
            (-128, 15),
            (-127, 15),
            (-64, 14),
            (-63, 13),
            (-32, 12),
            (-31, 11),
            (-16, 10),
            (-15, 9),
            (-8, 8),
            (-7, 7),
            (-1, 1),
            (0, 0),
            (1, 17),
            (7, 23),
            (8, 24),
            (16, 26),
            (32, 28),
            (63, 29),
            (64, 30),
            (65, 30),
            (600, 31),
        ];
        for (rel, want) in torch {
            assert_eq!(
                relative_position_bucket(rel, RELATIVE_BUCKETS, RELATIVE_MAX_DISTANCE),
                want,
                "relative position {rel}"
            );
        }
    }

    #[test]
    fn position_ids_count_real_tokens_from_padding_idx_plus_one() {
        let emb = MpnetEmbeddings {
            word_embeddings: Embedding::new(
                Tensor::zeros((4, 2), DType::F32, &Device::Cpu).unwrap(),
                2,
            ),
            position_embeddings: Embedding::new(
                Tensor::zeros((8, 2), DType::F32, &Device::Cpu).unwrap(),
                2,
            ),
            layer_norm: LayerNorm::new(
                Tensor::ones(2, DType::F32, &Device::Cpu).unwrap(),
                Tensor::zeros(2, DType::F32, &Device::Cpu).unwrap(),
                1e-5,
            ),
            padding_idx: 1,
        };
        let mask = Tensor::new(&[[1u32, 1, 1, 1], [1, 1, 0, 0]], &Device::Cpu).unwrap();
        let ids = emb.position_ids(&mask).unwrap().to_vec2::<u32>().unwrap();
        assert_eq!(ids, [[2, 3, 4, 5], [2, 3, 1, 1]]);
    }
}
