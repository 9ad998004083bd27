//! BERT sentence encoder on candle, reproducing sentence-transformers'
//! pipeline for models such as all-MiniLM-L6-v2: tokenize (pad to the longest
//! in the batch, truncate at `max_tokens`), run BERT, mean-pool over the
//! attention mask, L2-normalise.
//!
//! Parity with the Python reference is checked by `tests/encoder_parity.rs`
//! against `eval/fixtures/minilm_reference.json`.

use std::path::Path;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use ndarray::Array2;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use super::Encoder;

/// Knobs that change speed, or (for `max_tokens`) the vectors themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderOptions {
    /// Sentences per forward pass. Batches are formed after sorting by
    /// length, so padding stays small whatever the value.
    pub batch_size: usize,
    /// Truncation length in tokens, special tokens included. 256 is
    /// sentence-transformers' `max_seq_length` for all-MiniLM-L6-v2; the 128
    /// baked into its tokenizer.json would silently give other vectors for
    /// long sentences.
    pub max_tokens: usize,
}

impl Default for EncoderOptions {
    fn default() -> Self {
        EncoderOptions {
            batch_size: 32,
            max_tokens: 256,
        }
    }
}

/// A BERT encoder with mean pooling, CPU and f32.
pub struct BertEncoder {
    name: String,
    model: BertModel,
    tokenizer: Tokenizer,
    pad_id: u32,
    dim: usize,
    opts: EncoderOptions,
    device: Device,
}

impl BertEncoder {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from
    /// `model_dir`. The directory's name becomes the encoder's name, which is
    /// the model's name when the directory comes from `provision`.
    ///
    /// The directory should have been checked with `provision::verify` (or
    /// obtained from `provision::ensure`, which does it).
    pub fn load(model_dir: &Path, opts: EncoderOptions) -> Result<Self> {
        if opts.batch_size == 0 {
            bail!("batch size must be at least 1");
        }
        let name = model_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| model_dir.display().to_string());

        let config_path = model_dir.join("config.json");
        let config: Config = serde_json::from_slice(
            &std::fs::read(&config_path)
                .with_context(|| format!("reading {}", config_path.display()))?,
        )
        .with_context(|| format!("parsing {}", config_path.display()))?;
        if opts.max_tokens < 2 || opts.max_tokens > config.max_position_embeddings {
            bail!(
                "max_tokens {} out of range: the model takes 2 to {} tokens",
                opts.max_tokens,
                config.max_position_embeddings
            );
        }

        let tok_path = model_dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tok_path)
            .map_err(|e| anyhow::anyhow!("loading {}: {e}", tok_path.display()))?;
        let pad_id = tokenizer
            .get_padding()
            .map(|p| p.pad_id)
            .or_else(|| tokenizer.token_to_id("[PAD]"))
            .unwrap_or(config.pad_token_id as u32);
        // Padding is done per batch in `encode_batch`, after sorting by
        // length; the file's fixed 128-token padding and truncation are
        // replaced by sentence-transformers' settings.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length: opts.max_tokens,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| anyhow::anyhow!("setting truncation: {e}"))?;

        let device = Device::Cpu;
        let weights = model_dir.join("model.safetensors");
        // SAFETY: mmap is sound while nobody writes to the file. The cache
        // never rewrites a model file in place: a re-fetch stages a new
        // directory and renames it over the old one, and unlinked files stay
        // readable through existing maps.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&weights], DType::F32, &device) }
            .with_context(|| format!("loading {}", weights.display()))?;
        let model = BertModel::load(vb, &config)
            .with_context(|| format!("building BERT from {}", weights.display()))?;

        Ok(BertEncoder {
            name,
            model,
            tokenizer,
            pad_id,
            dim: config.hidden_size,
            opts,
            device,
        })
    }

    pub fn options(&self) -> EncoderOptions {
        self.opts
    }

    /// Encodes one batch of token id sequences, returning its pooled,
    /// normalised rows.
    fn encode_batch(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        let rows = batch.len();
        let width = batch.iter().map(|ids| ids.len()).max().unwrap_or(0);
        let mut ids = vec![self.pad_id; rows * width];
        let mut mask = vec![0u32; rows * width];
        for (r, seq) in batch.iter().enumerate() {
            ids[r * width..r * width + seq.len()].copy_from_slice(seq);
            mask[r * width..r * width + seq.len()].fill(1);
        }
        let ids = Tensor::from_vec(ids, (rows, width), &self.device)?;
        let mask = Tensor::from_vec(mask, (rows, width), &self.device)?;
        let token_types = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &token_types, Some(&mask))?;

        // Mean over real tokens only; the 1e-9 floor and the 1e-12 norm floor
        // mirror sentence-transformers' Pooling and torch's F.normalize.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean
            .sqr()?
            .sum_keepdim(1)?
            .sqrt()?
            .clamp(1e-12f32, f32::MAX)?;
        Ok(mean.broadcast_div(&norms)?.to_vec2::<f32>()?)
    }
}

impl Encoder for BertEncoder {
    fn name(&self) -> &str {
        &self.name
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn encode(&self, texts: &[&str]) -> Result<Array2<f32>> {
        let mut out = Array2::<f32>::zeros((texts.len(), self.dim));
        if texts.is_empty() {
            return Ok(out);
        }
        // sentence-transformers strips each text before tokenizing.
        let trimmed: Vec<&str> = texts.iter().map(|t| t.trim()).collect();
        let encodings = self
            .tokenizer
            .encode_batch_fast(trimmed, true)
            .map_err(|e| anyhow::anyhow!("tokenizing: {e}"))?;

        // Sorting by length keeps padding (wasted compute) small. The sort is
        // stable, so equal inputs always form the same batches: same input,
        // same bits.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| encodings[i].get_ids().len());

        for chunk in order.chunks(self.opts.batch_size) {
            let batch: Vec<&[u32]> = chunk.iter().map(|&i| encodings[i].get_ids()).collect();
            let rows = self.encode_batch(&batch)?;
            for (&i, row) in chunk.iter().zip(rows) {
                out.row_mut(i)
                    .assign(&ndarray::ArrayView1::from(row.as_slice()));
            }
        }
        Ok(out)
    }
}
