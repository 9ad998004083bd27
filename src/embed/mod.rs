//! Stage 3: sentence embeddings.
//!
//! An [`Encoder`] turns sentences into unit-length vectors, one row per
//! sentence, in input order. Implementations batch internally; callers pass
//! as many sentences as they have.
//!
//! Three architectures run behind sentence-transformers' pipeline
//! ([`sentence`]): BERT ([`bert`], e.g. all-MiniLM-L6-v2), MPNet
//! ([`mpnet`], e.g. all-mpnet-base-v2) and Gemma 3 ([`gemma`],
//! EmbeddingGemma-300M). [`load`] picks the one a model directory needs;
//! which encoders are built in, and what each architecture supports, is
//! data in [`crate::encoders`].

use crate::encoders::Architecture;
use std::path::Path;

use anyhow::{bail, Result};
use ndarray::Array2;

/// A sentence encoder: texts in, L2-normalised vectors out (one row each).
pub trait Encoder: Send + Sync {
    /// Short name recorded in trained heads and reports (e.g. "all-MiniLM-L6-v2").
    fn name(&self) -> &str;
    /// Width of each vector.
    fn dim(&self) -> usize;
    /// Encode `texts`; row `i` is the unit vector of `texts[i]`.
    fn encode(&self, texts: &[&str]) -> Result<Array2<f32>>;
    /// The most tokens the encoder reads of one text, special tokens
    /// included; `None` when it reads texts whole.
    fn max_tokens(&self) -> Option<usize> {
        None
    }
    /// For each of `texts`, whether it is longer than [`Encoder::max_tokens`]:
    /// `encode` then reads its first tokens only (as sentence-transformers
    /// does), and callers say so rather than let it pass silently.
    fn truncated(&self, texts: &[&str]) -> Result<Vec<bool>> {
        Ok(vec![false; texts.len()])
    }
    /// The arithmetic of the forward pass.
    fn precision(&self) -> Precision {
        Precision::Reference
    }
}

pub mod bert;
pub mod fast;
pub mod gemma;
pub mod mpnet;
pub mod precision;
pub mod sentence;

pub use bert::BertEncoder;
pub use gemma::GemmaEncoder;
pub use mpnet::MpnetEncoder;
pub use precision::Precision;
pub use sentence::{EncoderOptions, SentenceEncoder};

/// The architecture the `config.json` in `model_dir` names in `model_type`
/// ("bert", "mpnet", "gemma3_text"), if it names one.
pub fn model_type(model_dir: &Path) -> Result<Option<String>> {
    #[derive(serde::Deserialize)]
    struct ModelType {
        model_type: Option<String>,
    }
    let config: ModelType = sentence::read_json(&model_dir.join("config.json"))?;
    Ok(config.model_type)
}

/// Loads the encoder in `model_dir` (a directory from `provision`), with
/// the architecture its `config.json` names in `model_type`.
pub fn load(model_dir: &Path, opts: EncoderOptions) -> Result<Box<dyn Encoder>> {
    let model_type = model_type(model_dir)?;
    let architecture = model_type
        .as_deref()
        .and_then(Architecture::from_model_type);
    let Some(architecture) = architecture else {
        bail!(
            "{}: model_type {model_type:?} is not supported ({})",
            model_dir.join("config.json").display(),
            Architecture::ALL
                .iter()
                .map(|a| a.model_type())
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    // Every architecture runs on candle (`reference`) and on our fast path.
    let precision = opts
        .precision
        .unwrap_or_else(|| Precision::default_for(architecture));
    use {Architecture as A, Precision as P};
    Ok(match (architecture, precision) {
        (A::Bert, P::Reference) => Box::new(BertEncoder::load(model_dir, opts)?),
        (A::Bert, P::Fp32) => Box::new(fast::FastBertEncoder::load(model_dir, opts)?),
        (A::Bert, P::Bf16) => Box::new(fast::Bf16BertEncoder::load(model_dir, opts)?),
        (A::Bert, P::Int8) => Box::new(fast::Int8BertEncoder::load(model_dir, opts)?),
        (A::Mpnet, P::Reference) => Box::new(MpnetEncoder::load(model_dir, opts)?),
        (A::Mpnet, P::Fp32) => Box::new(fast::mpnet::FastMpnetEncoder::load(model_dir, opts)?),
        (A::Mpnet, P::Bf16) => Box::new(fast::mpnet::Bf16MpnetEncoder::load(model_dir, opts)?),
        (A::Mpnet, P::Int8) => Box::new(fast::mpnet::Int8MpnetEncoder::load(model_dir, opts)?),
        (A::Gemma3, P::Reference) => Box::new(GemmaEncoder::load(model_dir, opts)?),
        (A::Gemma3, P::Fp32) => Box::new(fast::gemma::FastGemmaEncoder::load(model_dir, opts)?),
        (A::Gemma3, P::Bf16) => Box::new(fast::gemma::Bf16GemmaEncoder::load(model_dir, opts)?),
        (A::Gemma3, P::Int8) => Box::new(fast::gemma::Int8GemmaEncoder::load(model_dir, opts)?),
    })
}
