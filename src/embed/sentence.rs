//! What sentence-transformers does around a transformer, written once for
//! every encoder: its tokenisation rules, length-sorted batches, mean pooling
//! over the real tokens and L2 normalisation. A model only has to turn padded
//! token ids into token vectors ([`Backbone`]); [`SentenceEncoder`] does the
//! rest and implements [`Encoder`].

use std::path::Path;

use anyhow::{bail, ensure, Context, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use ndarray::Array2;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use super::Encoder;

/// Knobs that change speed, or (for `max_tokens`) the vectors themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderOptions {
    /// Sentences per forward pass. Batches are formed after sorting by
    /// length, so padding stays small whatever the value.
    pub batch_size: usize,
    /// Truncation length in tokens, special tokens included. `None` takes
    /// sentence-transformers' `max_seq_length` from the model's
    /// `sentence_bert_config.json` (256 for all-MiniLM-L6-v2, 384 for
    /// all-mpnet-base-v2); the 128 baked into their tokenizer.json files would
    /// silently give other vectors for long sentences.
    pub max_tokens: Option<usize>,
    /// The arithmetic of the forward pass; `None` takes the fastest one that
    /// keeps the vectors within the bounds [`super::Precision`] documents,
    /// for the architecture and this CPU.
    pub precision: Option<super::Precision>,
}

impl Default for EncoderOptions {
    fn default() -> Self {
        EncoderOptions {
            batch_size: 32,
            max_tokens: None,
            precision: None,
        }
    }
}

/// A transformer that turns token ids into one vector per token.
pub trait Backbone: Sized + Send + Sync {
    /// What the architecture is called in error messages.
    const ARCHITECTURE: &'static str;
    /// The arithmetic of its forward pass.
    const PRECISION: super::Precision = super::Precision::Reference;
    /// The model's `config.json`.
    type Config: DeserializeOwned;

    fn load(vb: VarBuilder, config: &Self::Config) -> candle_core::Result<Self>;
    /// Width of the token vectors.
    fn hidden_size(config: &Self::Config) -> usize;
    /// The longest input, special tokens included, its positions cover.
    fn max_positions(config: &Self::Config) -> usize;
    /// The padding token, for a tokenizer.json that does not name one.
    fn pad_token_id(config: &Self::Config) -> u32;
    /// Token vectors (`rows × width × hidden`) for right-padded `input_ids`
    /// and `attention_mask` (both `rows × width`, u32; the mask is 1 on real
    /// tokens).
    fn forward(&self, input_ids: &Tensor, attention_mask: &Tensor) -> candle_core::Result<Tensor>;
}

pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    serde_json::from_slice(
        &std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
    )
    .with_context(|| format!("parsing {}", path.display()))
}

/// `sentence_bert_config.json`: sentence-transformers' overrides of the
/// tokenizer.
#[derive(Debug, Deserialize)]
struct SentenceBertConfig {
    max_seq_length: usize,
    #[serde(default)]
    do_lower_case: bool,
}

/// `1_Pooling/config.json`: how token vectors become one sentence vector.
#[derive(Debug, Deserialize)]
struct PoolingConfig {
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
}

/// sentence-transformers' `max_seq_length` for the model in `model_dir`,
/// after checking that its pipeline is the one implemented here (no
/// lower-casing of the input, mean pooling only); anything else would give
/// other vectors than the Python library without a word.
fn sentence_max_seq_length(model_dir: &Path) -> Result<usize> {
    let path = model_dir.join("sentence_bert_config.json");
    let st: SentenceBertConfig = read_json(&path)?;
    ensure!(
        !st.do_lower_case,
        "{}: do_lower_case is not supported",
        path.display()
    );
    let path = model_dir.join("1_Pooling/config.json");
    let pooling: PoolingConfig = read_json(&path)?;
    ensure!(
        pooling.pooling_mode_mean_tokens
            && !pooling.pooling_mode_cls_token
            && !pooling.pooling_mode_max_tokens
            && !pooling.pooling_mode_mean_sqrt_len_tokens,
        "{}: only mean pooling is supported",
        path.display()
    );
    Ok(st.max_seq_length)
}

/// The model's tokenizer set up as sentence-transformers uses it: no fixed
/// padding (batches are padded to their longest member), truncation at
/// `max_tokens`, each text stripped first.
pub struct SentenceTokenizer {
    tokenizer: Tokenizer,
    pad_id: u32,
}

impl SentenceTokenizer {
    /// Loads `tokenizer.json` from `model_dir`. `fallback_pad_id` is used
    /// when the file names no padding token.
    pub fn load(model_dir: &Path, max_tokens: usize, fallback_pad_id: u32) -> Result<Self> {
        let tok_path = model_dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tok_path)
            .map_err(|e| anyhow::anyhow!("loading {}: {e}", tok_path.display()))?;
        let pad_id = tokenizer
            .get_padding()
            .map(|p| p.pad_id)
            .or_else(|| tokenizer.token_to_id("[PAD]"))
            .unwrap_or(fallback_pad_id);
        // Padding is done per batch in `pad`, after sorting by length; the
        // file's fixed 128-token padding and truncation are replaced by
        // sentence-transformers' settings.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length: max_tokens,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| anyhow::anyhow!("setting truncation: {e}"))?;
        Ok(SentenceTokenizer { tokenizer, pad_id })
    }

    fn encodings(&self, texts: &[&str]) -> Result<Vec<tokenizers::Encoding>> {
        // sentence-transformers strips each text before tokenizing.
        let trimmed: Vec<&str> = texts.iter().map(|t| t.trim()).collect();
        self.tokenizer
            .encode_batch_fast(trimmed, true)
            .map_err(|e| anyhow::anyhow!("tokenizing: {e}"))
    }

    /// Token ids of each text, special tokens included, truncated.
    pub fn token_ids(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
        Ok(self
            .encodings(texts)?
            .iter()
            .map(|e| e.get_ids().to_vec())
            .collect())
    }

    /// Whether each text was cut at the truncation length: the tokenizer
    /// moves whatever lies past it into the encoding's overflow.
    pub fn truncated(&self, texts: &[&str]) -> Result<Vec<bool>> {
        Ok(self
            .encodings(texts)?
            .iter()
            .map(|e| !e.get_overflowing().is_empty())
            .collect())
    }

    /// Pads a batch of id sequences on the right to its longest: `(ids,
    /// mask)`, both `rows × width` u32 tensors, the mask 1 on real tokens.
    pub fn pad(&self, batch: &[&[u32]], device: &Device) -> Result<(Tensor, Tensor)> {
        let rows = batch.len();
        let width = batch.iter().map(|ids| ids.len()).max().unwrap_or(0);
        let mut ids = vec![self.pad_id; rows * width];
        let mut mask = vec![0u32; rows * width];
        for (r, seq) in batch.iter().enumerate() {
            ids[r * width..r * width + seq.len()].copy_from_slice(seq);
            mask[r * width..r * width + seq.len()].fill(1);
        }
        Ok((
            Tensor::from_vec(ids, (rows, width), device)?,
            Tensor::from_vec(mask, (rows, width), device)?,
        ))
    }
}

/// Mean of the token vectors `hidden` (`rows × width × dim`) over the real
/// tokens of `mask` (`rows × width`, u32), L2-normalised: one row per
/// sentence. Built from differentiable operations only, so fine-tuning
/// (`crate::finetune`) backpropagates through the same pooling.
pub fn mean_pool_normalised(hidden: &Tensor, mask: &Tensor) -> Result<Tensor> {
    // The 1e-9 floor and the 1e-12 norm floor mirror sentence-transformers'
    // Pooling and torch's F.normalize.
    let mask = mask.to_dtype(hidden.dtype())?.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
    let counts = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?;
    let mean = summed.broadcast_div(&counts)?;
    let norms = mean
        .sqr()?
        .sum_keepdim(1)?
        .sqrt()?
        .clamp(1e-12f32, f32::MAX)?;
    Ok(mean.broadcast_div(&norms)?)
}

/// A sentence-transformers model on candle: CPU, f32, mean pooling, unit
/// vectors.
pub struct SentenceEncoder<B: Backbone> {
    name: String,
    model: B,
    tokenizer: SentenceTokenizer,
    dim: usize,
    max_tokens: usize,
    opts: EncoderOptions,
    device: Device,
}

impl<B: Backbone> SentenceEncoder<B> {
    /// Loads `config.json`, `sentence_bert_config.json`,
    /// `1_Pooling/config.json`, `tokenizer.json` and `model.safetensors`
    /// from `model_dir`. The directory's name becomes the encoder's name,
    /// which is the model's name when the directory comes from `provision`.
    ///
    /// The directory should have been checked with `provision::verify` (or
    /// obtained from `provision::ensure`, which does it).
    pub fn load(model_dir: &Path, opts: EncoderOptions) -> Result<Self> {
        let name = model_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| model_dir.display().to_string());
        let device = Device::Cpu;
        let weights = model_dir.join("model.safetensors");
        // SAFETY: mmap is sound while nobody writes to the file. The cache
        // never rewrites a model file in place: a re-fetch stages a new
        // directory and renames it over the old one, and unlinked files stay
        // readable through existing maps.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&weights], DType::F32, &device) }
            .with_context(|| format!("loading {}", weights.display()))?;
        Self::with_weights(name, model_dir, vb, opts)
            .with_context(|| format!("building {} from {}", B::ARCHITECTURE, weights.display()))
    }

    /// An encoder named `name` with the configuration, tokenizer and pooling
    /// of `model_dir` and the weights of `weights` (for instance a
    /// fine-tuned `VarMap`, through `VarBuilder::from_varmap`).
    pub fn with_weights(
        name: String,
        model_dir: &Path,
        weights: VarBuilder,
        opts: EncoderOptions,
    ) -> Result<Self> {
        if opts.batch_size == 0 {
            bail!("batch size must be at least 1");
        }
        let config: B::Config = read_json(&model_dir.join("config.json"))?;
        let max_tokens = match opts.max_tokens {
            Some(n) => n,
            None => sentence_max_seq_length(model_dir)?,
        };
        let limit = B::max_positions(&config);
        if max_tokens < 2 || max_tokens > limit {
            bail!("max_tokens {max_tokens} out of range: the model takes 2 to {limit} tokens");
        }
        let tokenizer = SentenceTokenizer::load(model_dir, max_tokens, B::pad_token_id(&config))?;
        let device = weights.device().clone();
        let model = B::load(weights, &config)?;

        Ok(SentenceEncoder {
            name,
            model,
            tokenizer,
            dim: B::hidden_size(&config),
            max_tokens,
            opts,
            device,
        })
    }

    pub fn options(&self) -> EncoderOptions {
        self.opts
    }

    /// The truncation length in use, special tokens included.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// Encodes one batch of token id sequences, returning its pooled,
    /// normalised rows.
    fn encode_batch(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        let (ids, mask) = self.tokenizer.pad(batch, &self.device)?;
        let hidden = self.model.forward(&ids, &mask)?;
        Ok(mean_pool_normalised(&hidden, &mask)?.to_vec2::<f32>()?)
    }
}

impl<B: Backbone> Encoder for SentenceEncoder<B> {
    fn name(&self) -> &str {
        &self.name
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn max_tokens(&self) -> Option<usize> {
        Some(self.max_tokens)
    }

    fn truncated(&self, texts: &[&str]) -> Result<Vec<bool>> {
        self.tokenizer.truncated(texts)
    }

    fn precision(&self) -> super::Precision {
        B::PRECISION
    }

    fn encode(&self, texts: &[&str]) -> Result<Array2<f32>> {
        let mut out = Array2::<f32>::zeros((texts.len(), self.dim));
        if texts.is_empty() {
            return Ok(out);
        }
        let ids = self.tokenizer.token_ids(texts)?;

        // Sorting by length keeps padding (wasted compute) small. The sort is
        // stable, so equal inputs always form the same batches: same input,
        // same bits.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| ids[i].len());

        for chunk in order.chunks(self.opts.batch_size) {
            let batch: Vec<&[u32]> = chunk.iter().map(|&i| ids[i].as_slice()).collect();
            let rows = self.encode_batch(&batch)?;
            for (&i, row) in chunk.iter().zip(rows) {
                out.row_mut(i)
                    .assign(&ndarray::ArrayView1::from(row.as_slice()));
            }
        }
        Ok(out)
    }
}
