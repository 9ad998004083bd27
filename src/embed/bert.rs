//! BERT sentence encoders such as all-MiniLM-L6-v2: candle's BERT behind
//! sentence-transformers' pipeline ([`super::sentence`]).
//!
//! Parity with the Python reference is checked by `tests/encoder_parity.rs`
//! against `eval/fixtures/minilm_reference.json`.

use candle_core::Tensor;
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};

use super::sentence::{read_json, Backbone, SentenceEncoder};

/// Reads a BERT model directory's `config.json`.
pub fn read_config(model_dir: &std::path::Path) -> anyhow::Result<Config> {
    read_json(&model_dir.join("config.json"))
}

/// A BERT encoder with mean pooling, CPU and f32.
pub type BertEncoder = SentenceEncoder<BertModel>;

impl Backbone for BertModel {
    const ARCHITECTURE: &'static str = "BERT";
    type Config = Config;

    fn load(vb: VarBuilder, config: &Config) -> candle_core::Result<Self> {
        BertModel::load(vb, config)
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

    fn forward(&self, input_ids: &Tensor, attention_mask: &Tensor) -> candle_core::Result<Tensor> {
        // Single sentences: every token is of type 0.
        let token_types = input_ids.zeros_like()?;
        BertModel::forward(self, input_ids, &token_types, Some(attention_mask))
    }
}
