//! What sentence-transformers does around a transformer, written once for
//! every encoder: its tokenisation rules (and the model's classification
//! prompt, when it has prompts), length-sorted batches, mean pooling over the
//! real tokens, the Dense projections its `modules.json` lists, and L2
//! normalisation. A model only has to turn padded token ids into token
//! vectors ([`Backbone`]); [`SentenceEncoder`] does the rest and implements
//! [`Encoder`].

use std::path::Path;

use anyhow::{bail, ensure, Context, Result};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Linear, VarBuilder};
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
    /// Most padded tokens (rows × the longest row) a batch may hold, besides
    /// `batch_size` rows; `None` for no bound. For backbones that compute
    /// on padding (candle's), whose attention grows with rows × width²: one
    /// long text would otherwise pad every short one of its batch to its
    /// length. A text longer than the budget is a batch of its own.
    const PADDED_TOKEN_BUDGET: Option<usize> = None;

    fn load(vb: VarBuilder, config: &Self::Config) -> candle_core::Result<Self>;
    /// Loads from `vb`, which maps the safetensors file `weights`. A
    /// backbone may read a large table from the file itself, row by row,
    /// rather than copy it into memory; by default this is [`Backbone::load`].
    fn load_from_file(
        vb: VarBuilder,
        config: &Self::Config,
        weights: &Path,
    ) -> candle_core::Result<Self> {
        let _ = weights;
        Self::load(vb, config)
    }
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
    #[serde(default)]
    pooling_mode_weightedmean_tokens: bool,
    #[serde(default)]
    pooling_mode_lasttoken: bool,
    /// Whether the prompt's tokens are pooled with the text's.
    #[serde(default = "yes")]
    include_prompt: bool,
}

fn yes() -> bool {
    true
}

/// The prompt stance puts before every text, for models trained with
/// prompts (`config_sentence_transformers.json`): the one for
/// classification, since stance classifies sentences.
pub const PROMPT_NAME: &str = "Classification";

/// `config_sentence_transformers.json`: the prompts a model was trained with.
#[derive(Debug, Deserialize)]
struct SentenceTransformersConfig {
    #[serde(default)]
    prompts: std::collections::HashMap<String, String>,
}

/// The model's [`PROMPT_NAME`] prompt, or "" for a model without prompts
/// (no `config_sentence_transformers.json`, or no prompts in it).
fn sentence_prompt(model_dir: &Path) -> Result<String> {
    let path = model_dir.join("config_sentence_transformers.json");
    if !path.exists() {
        return Ok(String::new());
    }
    let config: SentenceTransformersConfig = read_json(&path)?;
    if config.prompts.is_empty() {
        return Ok(String::new());
    }
    config.prompts.get(PROMPT_NAME).cloned().with_context(|| {
        format!(
            "{}: the model has prompts but none named {PROMPT_NAME}",
            path.display()
        )
    })
}

/// One entry of `modules.json`: sentence-transformers' pipeline.
#[derive(Debug, Deserialize)]
struct ModuleEntry {
    path: String,
    #[serde(rename = "type")]
    kind: String,
}

/// `<module>/config.json` of a Dense module.
#[derive(Debug, Deserialize)]
struct DenseConfig {
    in_features: usize,
    out_features: usize,
    #[serde(default = "yes")]
    bias: bool,
    activation_function: String,
}

/// A Dense module: a linear map of the pooled vector, then its activation.
struct Dense {
    linear: Linear,
    tanh: bool,
}

impl Dense {
    fn load(dir: &Path, device: &Device) -> Result<Dense> {
        let path = dir.join("config.json");
        let config: DenseConfig = read_json(&path)?;
        let tanh = match config.activation_function.as_str() {
            "torch.nn.modules.linear.Identity" => false,
            "torch.nn.modules.activation.Tanh" => true,
            other => bail!("{}: activation {other} is not supported", path.display()),
        };
        let weights = dir.join("model.safetensors");
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&weights], DType::F32, device) }
            .with_context(|| format!("loading {}", weights.display()))?;
        let (i, o) = (config.in_features, config.out_features);
        let linear = if config.bias {
            candle_nn::linear(i, o, vb.pp("linear"))
        } else {
            candle_nn::linear_no_bias(i, o, vb.pp("linear"))
        }
        .with_context(|| format!("loading {}", weights.display()))?;
        Ok(Dense { linear, tanh })
    }

    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        let ys = self.linear.forward(xs)?;
        if self.tanh {
            ys.tanh()
        } else {
            Ok(ys)
        }
    }
}

/// The Dense modules between pooling and normalisation, after checking that
/// `modules.json` (when the model has one) is the pipeline implemented here:
/// the transformer, pooling, any Dense modules, normalisation.
fn dense_modules(model_dir: &Path, device: &Device) -> Result<Vec<Dense>> {
    let path = model_dir.join("modules.json");
    if !path.exists() {
        return Ok(vec![]);
    }
    let modules: Vec<ModuleEntry> = read_json(&path)?;
    let kind = |m: &ModuleEntry| {
        m.kind
            .rsplit('.')
            .next()
            .unwrap_or(m.kind.as_str())
            .to_string()
    };
    let kinds: Vec<String> = modules.iter().map(kind).collect();
    let n = kinds.len();
    let shape_ok = n >= 3
        && kinds[0] == "Transformer"
        && kinds[1] == "Pooling"
        && kinds[n - 1] == "Normalize"
        && kinds[2..n - 1].iter().all(|k| k == "Dense");
    ensure!(
        shape_ok,
        "{}: the pipeline {kinds:?} is not supported (Transformer, Pooling, Dense..., Normalize)",
        path.display()
    );
    modules[2..n - 1]
        .iter()
        .map(|m| Dense::load(&model_dir.join(&m.path), device))
        .collect()
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
            && !pooling.pooling_mode_mean_sqrt_len_tokens
            && !pooling.pooling_mode_weightedmean_tokens
            && !pooling.pooling_mode_lasttoken,
        "{}: only mean pooling is supported",
        path.display()
    );
    ensure!(
        pooling.include_prompt,
        "{}: pooling without the prompt's tokens is not supported",
        path.display()
    );
    Ok(st.max_seq_length)
}

/// The model's tokenizer set up as sentence-transformers uses it: no fixed
/// padding (batches are padded to their longest member), truncation at
/// `max_tokens` (the prompt's tokens included), each text stripped first and
/// then put after the prompt.
pub struct SentenceTokenizer {
    tokenizer: Tokenizer,
    pad_id: u32,
    prompt: String,
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
        Ok(SentenceTokenizer {
            tokenizer,
            pad_id,
            prompt: String::new(),
        })
    }

    /// Puts `prompt` before every text (sentence-transformers' `prompt`).
    pub fn with_prompt(mut self, prompt: String) -> Self {
        self.prompt = prompt;
        self
    }

    fn encodings(&self, texts: &[&str]) -> Result<Vec<tokenizers::Encoding>> {
        // sentence-transformers strips each text before tokenizing (the
        // versions the fixtures were made with; later ones leave it, and
        // stance's sentences have no surrounding spaces anyway), and puts
        // the prompt before it.
        let inputs: Vec<String> = texts
            .iter()
            .map(|t| format!("{}{}", self.prompt, t.trim()))
            .collect();
        self.tokenizer
            .encode_batch_fast(inputs, true)
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
/// (`crate::classify::finetune`) backpropagates through the same pooling.
pub fn mean_pool_normalised(hidden: &Tensor, mask: &Tensor) -> Result<Tensor> {
    normalise(&mean_pool(hidden, mask)?)
}

/// Mean of the token vectors `hidden` (`rows × width × dim`) over the real
/// tokens of `mask` (`rows × width`, u32): one row per sentence.
pub fn mean_pool(hidden: &Tensor, mask: &Tensor) -> Result<Tensor> {
    // The 1e-9 floor mirrors sentence-transformers' Pooling.
    let mask = mask.to_dtype(hidden.dtype())?.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
    let counts = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?;
    Ok(summed.broadcast_div(&counts)?)
}

/// Each row of `rows` (`rows × dim`) divided by its L2 norm.
pub fn normalise(rows: &Tensor) -> Result<Tensor> {
    // The 1e-12 norm floor mirrors torch's F.normalize.
    let norms = rows
        .sqr()?
        .sum_keepdim(1)?
        .sqrt()?
        .clamp(1e-12f32, f32::MAX)?;
    Ok(rows.broadcast_div(&norms)?)
}

/// Where each batch of texts ends, for texts sorted by length (`lens`,
/// ascending): at most `batch_size` rows, and at most `budget` padded
/// tokens (rows × the last, longest row) unless a row alone exceeds it.
fn batch_ends(lens: &[usize], batch_size: usize, budget: Option<usize>) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut start = 0;
    for (i, &len) in lens.iter().enumerate() {
        let rows = i - start + 1;
        let over = rows > batch_size || budget.is_some_and(|b| rows > 1 && rows * len > b);
        if over {
            ends.push(i);
            start = i;
        }
    }
    if start < lens.len() {
        ends.push(lens.len());
    }
    ends
}

/// A sentence-transformers model on candle: CPU, f32, mean pooling, Dense
/// projections if any, unit vectors.
pub struct SentenceEncoder<B: Backbone> {
    name: String,
    model: B,
    tokenizer: SentenceTokenizer,
    dense: Vec<Dense>,
    dim: usize,
    max_tokens: usize,
    opts: EncoderOptions,
    device: Device,
}

impl<B: Backbone> SentenceEncoder<B> {
    /// Loads `config.json`, `sentence_bert_config.json`,
    /// `1_Pooling/config.json`, `tokenizer.json` and `model.safetensors`
    /// from `model_dir`, with `modules.json`'s Dense modules and
    /// `config_sentence_transformers.json`'s [`PROMPT_NAME`] prompt when the
    /// model has them. The directory's name becomes the encoder's name,
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
        Self::build(name, model_dir, opts, device, |config| {
            B::load_from_file(vb, config, &weights)
        })
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
        let device = weights.device().clone();
        Self::build(name, model_dir, opts, device, |config| {
            B::load(weights, config)
        })
    }

    /// The encoder of `model_dir`'s configuration, tokenizer, pooling and
    /// Dense modules, with the backbone `load` makes from the configuration.
    fn build(
        name: String,
        model_dir: &Path,
        opts: EncoderOptions,
        device: Device,
        load: impl FnOnce(&B::Config) -> candle_core::Result<B>,
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
        let tokenizer = SentenceTokenizer::load(model_dir, max_tokens, B::pad_token_id(&config))?
            .with_prompt(sentence_prompt(model_dir)?);
        let dense = dense_modules(model_dir, &device)?;
        // The vector's width: the last Dense module's output, else the
        // token vectors'.
        let dim = match dense.last() {
            Some(d) => d.linear.weight().dim(0)?,
            None => B::hidden_size(&config),
        };
        let model = load(&config)?;

        Ok(SentenceEncoder {
            name,
            model,
            tokenizer,
            dense,
            dim,
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
        let mut pooled = mean_pool(&hidden, &mask)?;
        for dense in &self.dense {
            pooled = dense.forward(&pooled)?;
        }
        Ok(normalise(&pooled)?.to_vec2::<f32>()?)
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

        let lens: Vec<usize> = order.iter().map(|&i| ids[i].len()).collect();
        let mut start = 0;
        for end in batch_ends(&lens, self.opts.batch_size, B::PADDED_TOKEN_BUDGET) {
            let chunk = &order[start..end];
            start = end;
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

#[cfg(test)]
mod tests {
    use super::batch_ends;

    #[test]
    fn batches_stop_at_the_row_count_or_the_padded_token_budget() {
        let lens = [5, 5, 6, 8, 40, 100, 300];
        assert_eq!(batch_ends(&lens, 3, None), [3, 6, 7]);
        assert_eq!(batch_ends(&lens, 32, None), [7]);
        // 4 × 8 fits 32; 5 × 40 does not; 2 × 100 is over 128 too; 300
        // alone is over the budget and still a batch.
        assert_eq!(batch_ends(&lens, 32, Some(128)), [4, 5, 6, 7]);
        assert_eq!(batch_ends(&lens, 2, Some(1000)), [2, 4, 6, 7]);
        assert!(batch_ends(&[], 4, Some(10)).is_empty());
    }
}
