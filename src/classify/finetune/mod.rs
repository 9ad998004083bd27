//! Contrastive fine-tuning of the sentence encoder, the SetFit recipe
//! (Tunstall et al. 2022), on candle's autograd, CPU.
//!
//! Frozen sentence embeddings mostly encode the topic, and pro- and
//! anti-dialogue sentences share it. SetFit pulls sentences of the same label
//! together and pushes the others apart: pairs of labelled sentences
//! ([`pairs`]), loss = squared error between the cosine of their vectors and
//! 1 (same label) or 0 (sentence-transformers' `CosineSimilarityLoss`),
//! AdamW with linear warm-up and decay. A linear head is then fitted on the
//! fine-tuned vectors (`classify::setfit`).
//!
//! Training is reproducible bit for bit on one machine: sampling and dropout
//! use seeded ChaCha8 generators and candle's CPU kernels are deterministic,
//! so a saved model needs only its recipe ([`recipe`]) to be rebuilt.

pub mod model;
pub mod ops;
pub mod pairs;
pub mod recipe;

use std::path::Path;
use std::time::Instant;

use anyhow::{ensure, Result};
use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarMap};
use candle_transformers::models::bert::Config;
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::classify::linear::LinearConfig;
use crate::embed::bert::read_config;
use crate::embed::sentence::{mean_pool_normalised, SentenceTokenizer};
use crate::stance::Stance;
use model::{Dropout, TrainableBert};

/// Everything that decides the fine-tuned weights and the head, besides
/// the data and the base model. Part of a saved model's recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetFitConfig {
    /// R: each sentence gets R positive and R negative pairs per epoch
    /// (SetFit's `num_iterations`).
    pub pairs_per_sentence: usize,
    /// Passes over freshly drawn pairs.
    pub epochs: usize,
    /// Stop after this many optimiser steps, whatever the epochs say.
    #[serde(default)]
    pub max_steps: Option<usize>,
    /// Pairs per optimiser step.
    pub batch_pairs: usize,
    /// Peak AdamW learning rate.
    pub learning_rate: f64,
    /// Fraction of the steps spent warming the learning rate up from zero;
    /// it then decays linearly to zero (sentence-transformers' WarmupLinear).
    pub warmup: f64,
    /// AdamW's decoupled weight decay (applied to every weight).
    pub weight_decay: f64,
    /// Truncation in tokens, in training and when the fine-tuned encoder
    /// embeds sentences.
    pub max_tokens: usize,
    /// Dropout probability in training (BERT's hidden and attention dropout).
    pub dropout: f32,
    /// Whether the word embedding table (half of MiniLM's weights) is trained.
    pub train_word_embeddings: bool,
    /// Lower encoder layers left frozen, with the embeddings: their output
    /// is computed once per sentence, and training runs (and
    /// backpropagates through) only the layers above. 0 trains everything.
    #[serde(default)]
    pub frozen_layers: usize,
    /// Seed of pair sampling and dropout.
    pub seed: u64,
    /// The linear head fitted on the fine-tuned vectors.
    pub head: LinearConfig,
}

impl Default for SetFitConfig {
    fn default() -> Self {
        SetFitConfig {
            pairs_per_sentence: 4,
            epochs: 1,
            max_steps: None,
            batch_pairs: 16,
            learning_rate: 2e-5,
            warmup: 0.1,
            weight_decay: 0.01,
            max_tokens: 128,
            dropout: 0.1,
            train_word_embeddings: true,
            frozen_layers: 0,
            seed: 42,
            head: LinearConfig::default(),
        }
    }
}

impl SetFitConfig {
    /// The smaller setting CI runs (`stance eval --classifier all` trains
    /// it five times): 24 steps on the top two layers only, the lower four
    /// and the embeddings frozen, so a fold fine-tunes in well under a
    /// minute on two cores. It checks that the whole path trains and
    /// scores; its figures are not the classifier's best.
    pub fn ci() -> Self {
        SetFitConfig {
            pairs_per_sentence: 1,
            max_steps: Some(24),
            learning_rate: 5e-5,
            train_word_embeddings: false,
            frozen_layers: 4,
            ..SetFitConfig::default()
        }
    }

    /// A named profile (`default`, `ci`) or a TOML file of this struct.
    pub fn from_profile_or_file(spec: &str) -> Result<Self> {
        use anyhow::Context;
        match spec {
            "default" => Ok(SetFitConfig::default()),
            "ci" => Ok(SetFitConfig::ci()),
            path => {
                let text = std::fs::read_to_string(path).with_context(|| {
                    format!(
                        "{path:?} is neither a SetFit profile (default, ci) nor a readable file"
                    )
                })?;
                let config: SetFitConfig =
                    toml::from_str(&text).with_context(|| format!("{path}: bad SetFit config"))?;
                config.check()?;
                Ok(config)
            }
        }
    }

    /// Refuses settings that cannot train.
    pub fn check(&self) -> Result<()> {
        ensure!(self.batch_pairs > 0, "batch_pairs must be at least 1");
        ensure!(
            self.learning_rate > 0.0 && self.learning_rate.is_finite(),
            "learning_rate must be positive"
        );
        ensure!(
            (0.0..1.0).contains(&self.warmup),
            "warmup must be in [0, 1)"
        );
        ensure!(
            (0.0..1.0).contains(&self.dropout),
            "dropout must be in [0, 1)"
        );
        ensure!(self.max_tokens >= 2, "max_tokens must be at least 2");
        ensure!(!self.head.lambdas.is_empty(), "head.lambdas is empty");
        Ok(())
    }
}

/// The outcome of fine-tuning.
pub struct FineTuned {
    /// The trained weights.
    pub varmap: VarMap,
    /// Mean loss over each step's batch, in order.
    pub losses: Vec<f32>,
    pub pairs: usize,
    pub seconds: f64,
}

/// Learning rate at `step` (0-based) of `total`: linear warm-up over the
/// first `warmup` fraction, then linear decay to zero.
fn learning_rate(config: &SetFitConfig, step: usize, total: usize) -> f64 {
    let warm = (config.warmup * total as f64).floor() as usize;
    if step < warm {
        config.learning_rate * (step + 1) as f64 / warm as f64
    } else {
        let rest = (total - warm).max(1) as f64;
        config.learning_rate * ((total - step) as f64 / rest).max(0.0)
    }
}

/// Optimiser steps of a run over `n_pairs` pairs an epoch.
pub fn total_steps(config: &SetFitConfig, n_pairs: usize) -> usize {
    let per_epoch = n_pairs.div_ceil(config.batch_pairs);
    let all = per_epoch * config.epochs;
    config.max_steps.map_or(all, |m| m.min(all))
}

/// A progress bar on stderr for `steps` optimiser steps; hidden when
/// `show` is false or stderr is not a terminal.
pub fn progress_bar(steps: usize, show: bool) -> ProgressBar {
    use std::io::IsTerminal;
    if !show || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(steps as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "fine-tuning {bar:30} {pos}/{len} steps, loss {msg} [{elapsed} < {eta}]",
        )
        .expect("valid template"),
    );
    bar
}

/// The base model, ready to train: its tokenizer, configuration and weights.
pub struct Base {
    pub config: Config,
    pub tokenizer: SentenceTokenizer,
    pub varmap: VarMap,
}

impl Base {
    /// Loads the model in `model_dir` (a verified `provision` directory).
    pub fn load(model_dir: &Path, max_tokens: usize) -> Result<Self> {
        let config = read_config(model_dir)?;
        ensure!(
            (2..=config.max_position_embeddings).contains(&max_tokens),
            "max_tokens {max_tokens} out of range: the model takes 2 to {} tokens",
            config.max_position_embeddings
        );
        let tokenizer = SentenceTokenizer::load(model_dir, max_tokens, config.pad_token_id as u32)?;
        let varmap = model::load_varmap(model_dir, &config, &Device::Cpu)?;
        Ok(Base {
            config,
            tokenizer,
            varmap,
        })
    }
}

/// Fine-tunes `base` on `texts` and their `labels` with SetFit pairs.
/// `bar` shows the steps (pass `ProgressBar::hidden()` for none).
pub fn fine_tune(
    base: Base,
    texts: &[&str],
    labels: &[Stance],
    config: &SetFitConfig,
    bar: &ProgressBar,
) -> Result<FineTuned> {
    config.check()?;
    ensure!(
        texts.len() == labels.len(),
        "one label per training sentence"
    );
    let start = Instant::now();
    let device = Device::Cpu;
    let mut model = TrainableBert::new(&base.varmap, &base.config, &device)?;
    ensure!(
        config.frozen_layers < model.num_layers(),
        "frozen_layers must be below the model's {} layers",
        model.num_layers()
    );
    model.set_train_word_embeddings(config.train_word_embeddings);
    let inputs = TrainingInputs::new(
        &model,
        &base.tokenizer,
        texts,
        config.frozen_layers,
        &device,
    )?;

    let epoch_pairs: Vec<Vec<pairs::Pair>> = (0..config.epochs as u64)
        .map(|e| {
            pairs::generate(
                labels,
                config.pairs_per_sentence,
                config.seed.wrapping_add(e),
            )
        })
        .collect();
    let n_pairs = epoch_pairs.first().map_or(0, Vec::len);
    let total = total_steps(config, n_pairs);

    let vars = {
        let data = base.varmap.data().lock().expect("VarMap lock");
        let mut names: Vec<&String> = data.keys().collect();
        names.sort();
        names
            .into_iter()
            .filter(|n| is_trained(n, config))
            .map(|n| data[n].clone())
            .collect::<Vec<_>>()
    };
    let mut optimiser = AdamW::new(
        vars,
        ParamsAdamW {
            lr: config.learning_rate,
            weight_decay: config.weight_decay,
            ..ParamsAdamW::default()
        },
    )?;
    let mut dropout_rng = ChaCha8Rng::seed_from_u64(config.seed);
    // A stream of its own, so dropout never replays the pair sampler's draws.
    dropout_rng.set_stream(1);
    let mut dropout = Dropout::new(config.dropout, dropout_rng);

    bar.set_length(total as u64);
    let mut losses = Vec::with_capacity(total);
    let batches = epoch_pairs
        .iter()
        .flat_map(|pairs| pairs.chunks(config.batch_pairs))
        .take(total);
    for (step, batch) in batches.enumerate() {
        optimiser.set_learning_rate(learning_rate(config, step, total));
        let loss = pair_loss(&model, &base.tokenizer, &inputs, batch, Some(&mut dropout))?;
        optimiser.backward_step(&loss)?;
        let loss = loss.to_scalar::<f32>()?;
        anyhow::ensure!(loss.is_finite(), "the loss diverged at step {step}");
        losses.push(loss);
        bar.inc(1);
        let window = &losses[losses.len().saturating_sub(20)..];
        bar.set_message(format!(
            "{:.4}",
            window.iter().sum::<f32>() / window.len() as f32
        ));
    }
    bar.finish_and_clear();
    Ok(FineTuned {
        varmap: base.varmap,
        losses,
        pairs: n_pairs,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Whether parameter `name` is trained under `config`.
fn is_trained(name: &str, config: &SetFitConfig) -> bool {
    if let Some(rest) = name.strip_prefix("encoder.layer.") {
        let layer: usize = rest
            .split('.')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        return layer >= config.frozen_layers;
    }
    // The embeddings sit below every layer.
    config.frozen_layers == 0 && (config.train_word_embeddings || !name.contains("word_embeddings"))
}

/// Sentences per forward pass inside a step. A step's sentences are sorted
/// by length and cut into passes of this many, so each pass is padded only
/// to its own longest sentence.
const ROWS_PER_PASS: usize = 8;

/// What a training pass starts from, for each training sentence: its token
/// ids and, when lower layers are frozen, their output (computed once, here).
pub struct TrainingInputs {
    ids: Vec<Vec<u32>>,
    frozen_layers: usize,
    /// One `tokens × hidden` tensor per sentence; empty when nothing is frozen.
    lower: Vec<Tensor>,
    device: Device,
}

impl TrainingInputs {
    pub fn new(
        model: &TrainableBert,
        tokenizer: &SentenceTokenizer,
        texts: &[&str],
        frozen_layers: usize,
        device: &Device,
    ) -> Result<Self> {
        let ids = tokenizer.token_ids(texts)?;
        let mut lower = Vec::new();
        if frozen_layers > 0 {
            lower = vec![Tensor::zeros(0, candle_core::DType::F32, device)?; ids.len()];
            let mut order: Vec<usize> = (0..ids.len()).collect();
            order.sort_by_key(|&i| (ids[i].len(), i));
            for chunk in order.chunks(32) {
                let seqs: Vec<&[u32]> = chunk.iter().map(|&i| ids[i].as_slice()).collect();
                let (tokens, mask) = tokenizer.pad(&seqs, device)?;
                let hidden = model.lower_layers(&tokens, &mask, frozen_layers)?;
                for (row, &i) in chunk.iter().enumerate() {
                    lower[i] = hidden.get(row)?.narrow(0, 0, ids[i].len())?.contiguous()?;
                }
            }
        }
        Ok(TrainingInputs {
            ids,
            frozen_layers,
            lower,
            device: device.clone(),
        })
    }

    /// Sentence vectors of `sentences` (indices), one forward pass.
    pub fn embed(
        &self,
        model: &TrainableBert,
        tokenizer: &SentenceTokenizer,
        sentences: &[usize],
        dropout: Option<&mut Dropout>,
    ) -> Result<Tensor> {
        let seqs: Vec<&[u32]> = sentences.iter().map(|&i| self.ids[i].as_slice()).collect();
        let (tokens, mask) = tokenizer.pad(&seqs, &self.device)?;
        if self.frozen_layers == 0 {
            return model.embed(&tokens, &mask, dropout);
        }
        // Padding rows are zeros: the mask keeps them out of attention and
        // pooling, so their values never reach a real token.
        let width = mask.dim(1)?;
        let rows = sentences
            .iter()
            .map(|&i| {
                let t = &self.lower[i];
                let pad = width - t.dim(0)?;
                if pad == 0 {
                    return Ok(t.clone());
                }
                let zeros = Tensor::zeros((pad, t.dim(1)?), t.dtype(), &self.device)?;
                Ok(Tensor::cat(&[t, &zeros], 0)?)
            })
            .collect::<Result<Vec<_>>>()?;
        let x = Tensor::stack(&rows, 0)?;
        let hidden = model.run_layers(x, &mask, self.frozen_layers..model.num_layers(), dropout)?;
        mean_pool_normalised(&hidden, &mask)
    }
}

/// Mean squared error between the cosine of each pair's vectors and its
/// target. Each distinct sentence of the batch is encoded once.
pub fn pair_loss(
    model: &TrainableBert,
    tokenizer: &SentenceTokenizer,
    inputs: &TrainingInputs,
    batch: &[pairs::Pair],
    mut dropout: Option<&mut Dropout>,
) -> Result<Tensor> {
    let device = &inputs.device;
    let mut sentences: Vec<usize> = batch.iter().flat_map(|p| [p.a, p.b]).collect();
    sentences.sort_unstable_by_key(|&i| (inputs.ids[i].len(), i));
    sentences.dedup();
    let mut row_of = std::collections::HashMap::with_capacity(sentences.len());
    for (row, &i) in sentences.iter().enumerate() {
        row_of.insert(i, row as u32);
    }
    let mut passes = Vec::with_capacity(sentences.len().div_ceil(ROWS_PER_PASS));
    for chunk in sentences.chunks(ROWS_PER_PASS) {
        passes.push(inputs.embed(model, tokenizer, chunk, dropout.as_deref_mut())?);
    }
    let vectors = Tensor::cat(&passes, 0)?;
    let index = |side: fn(&pairs::Pair) -> usize| -> Result<Tensor> {
        let rows: Vec<u32> = batch.iter().map(|p| row_of[&side(p)]).collect();
        Ok(Tensor::from_vec(rows, batch.len(), device)?)
    };
    let (a, b) = (index(|p| p.a)?, index(|p| p.b)?);
    let target = Tensor::from_vec(
        batch.iter().map(|p| p.target).collect::<Vec<_>>(),
        batch.len(),
        device,
    )?;
    // The vectors are unit length, so the cosine is the dot product.
    let cosine = (vectors.index_select(&a, 0)? * vectors.index_select(&b, 0)?)?.sum(1)?;
    Ok((cosine - target)?.sqr()?.mean_all()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learning_rate_warms_up_then_decays_to_zero() {
        let config = SetFitConfig {
            learning_rate: 1.0,
            warmup: 0.1,
            ..SetFitConfig::default()
        };
        let lrs: Vec<f64> = (0..100).map(|s| learning_rate(&config, s, 100)).collect();
        assert!((lrs[0] - 0.1).abs() < 1e-12);
        assert!((lrs[9] - 1.0).abs() < 1e-12);
        assert!((lrs[10] - 1.0).abs() < 1e-12);
        assert!(lrs[10..].windows(2).all(|w| w[1] < w[0]));
        assert!(lrs[99] > 0.0 && lrs[99] < 0.02);
        // No warm-up at all: full rate from the first step.
        let flat = SetFitConfig {
            warmup: 0.0,
            ..config
        };
        assert_eq!(learning_rate(&flat, 0, 10), 1.0);
    }

    #[test]
    fn steps_follow_pairs_epochs_and_budget() {
        let mut config = SetFitConfig {
            batch_pairs: 16,
            epochs: 2,
            ..SetFitConfig::default()
        };
        assert_eq!(total_steps(&config, 33), 6);
        config.max_steps = Some(4);
        assert_eq!(total_steps(&config, 33), 4);
        config.max_steps = Some(400);
        assert_eq!(total_steps(&config, 33), 6);
    }

    #[test]
    fn profiles_and_files_parse_and_bad_settings_are_refused() {
        assert_eq!(
            SetFitConfig::from_profile_or_file("default").unwrap(),
            SetFitConfig::default()
        );
        assert!(SetFitConfig::ci().max_steps.is_some());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        let mut config = SetFitConfig {
            learning_rate: 3e-5,
            ..SetFitConfig::default()
        };
        std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
        let read = SetFitConfig::from_profile_or_file(path.to_str().unwrap()).unwrap();
        assert_eq!(read, config);
        config.batch_pairs = 0;
        std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
        let err = format!(
            "{:#}",
            SetFitConfig::from_profile_or_file(path.to_str().unwrap()).unwrap_err()
        );
        assert!(err.contains("batch_pairs"), "{err}");
        assert!(SetFitConfig::from_profile_or_file("no/such/file.toml").is_err());
    }
}
