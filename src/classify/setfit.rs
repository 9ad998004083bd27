//! SetFit: a sentence encoder fine-tuned contrastively on the labelled
//! sentences (`crate::classify::finetune`), then a linear head on its vectors.
//!
//! The classifier carries its own fine-tuned encoder and embeds the batch's
//! texts itself, so to the pipeline it is a text classifier (`encoder()` is
//! `None`): the shared base-model embeddings would be the wrong vectors for
//! its head, and computing them would be wasted work.
//!
//! Saved, a SetFit model is a small JSON file ([`SetFitFile`]): the head,
//! the recipe of the fine-tuned encoder and the sha256 of its weights. The
//! weights themselves are rebuilt into the cache on first use.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

use super::linear::{training_hash, LinearHead, LinearTrainer};
use super::train::{read_labelled, Examples, LabelledSentence, Trainer};
use super::{Batch, Classifier};
use crate::classify::finetune::recipe::{self, Recipe, TRAINER_VERSION};
use crate::classify::finetune::{fine_tune, progress_bar, Base, FineTuned, SetFitConfig};
use crate::embed::{BertEncoder, Encoder, EncoderOptions};
use crate::infra::provision::Manifest;
use crate::stance::{Scores, Stance};

/// The base model a SetFit classifier starts from: a verified model
/// directory and what its manifest says about it.
#[derive(Debug, Clone)]
pub struct BaseModel {
    pub name: String,
    pub dir: PathBuf,
    pub weights_sha256: String,
}

impl BaseModel {
    /// The model of `manifest`, found (and verified) in `dir`.
    pub fn new(manifest: &Manifest, dir: PathBuf) -> Result<Self> {
        let model_type = crate::embed::model_type(&dir)?.unwrap_or_default();
        ensure!(
            crate::encoders::Architecture::from_model_type(&model_type)
                .is_some_and(|a| a.fine_tunable()),
            "SetFit fine-tunes BERT encoders only (--encoder minilm); {} is a {model_type:?} model",
            manifest.name
        );
        let weights = manifest
            .files
            .iter()
            .find(|f| f.path == "model.safetensors")
            .with_context(|| format!("manifest of {} lists no model.safetensors", manifest.name))?;
        Ok(BaseModel {
            name: manifest.name.clone(),
            dir,
            weights_sha256: weights.sha256.to_lowercase(),
        })
    }
}

/// A fine-tuned encoder and the head trained on its vectors.
pub struct SetFitClassifier {
    name: String,
    encoder: BertEncoder,
    head: LinearHead,
}

impl SetFitClassifier {
    pub fn head(&self) -> &LinearHead {
        &self.head
    }

    /// The fine-tuned encoder.
    pub fn encoder(&self) -> &BertEncoder {
        &self.encoder
    }
}

impl Classifier for SetFitClassifier {
    fn name(&self) -> &str {
        &self.name
    }

    /// `None`: it embeds the texts with its own encoder.
    fn encoder(&self) -> Option<&str> {
        None
    }

    fn classify(&self, batch: Batch<'_>) -> Result<Vec<Scores>> {
        let embeddings = self.encoder.encode(batch.texts)?;
        self.head.classify(Batch {
            texts: batch.texts,
            embeddings: embeddings.view(),
            // The base encoder's vectors of the previous sentences are not
            // this head's input space; SetFit heads read no context.
            previous: None,
        })
    }
}

/// Trains SetFit classifiers: fine-tune, then fit the head.
#[derive(Debug, Clone)]
pub struct SetFitTrainer {
    pub name: String,
    pub base: BaseModel,
    pub config: SetFitConfig,
    /// Training data sources, recorded in saved models.
    pub sources: Vec<String>,
    /// Progress bar and a summary line on stderr.
    pub progress: bool,
}

/// What [`SetFitTrainer::train_model`] produces.
pub struct TrainedSetFit {
    pub classifier: SetFitClassifier,
    pub recipe: Recipe,
    pub fine_tuned: FineTuned,
}

impl SetFitTrainer {
    /// Fine-tunes on `data` (any order: it is put in canonical order first)
    /// and fits the head; groups are the documents or files the sentences
    /// come from, held out together when the head chooses its
    /// regularisation.
    pub fn train_model(&self, mut data: Vec<LabelledSentence>) -> Result<TrainedSetFit> {
        ensure!(!data.is_empty(), "no training sentences");
        recipe::canonical_order(&mut data);
        let texts: Vec<&str> = data.iter().map(|d| d.text.as_str()).collect();
        let labels: Vec<Stance> = data.iter().map(|d| d.stance).collect();
        let groups: Vec<&str> = data.iter().map(|d| d.group.as_str()).collect();
        let recipe = Recipe {
            trainer_version: TRAINER_VERSION,
            base_model: self.base.name.clone(),
            base_weights_sha256: self.base.weights_sha256.clone(),
            config: self.config.clone(),
            training_sha256: training_hash(&texts, &labels),
            examples: data.len(),
        };

        let base = Base::load(&self.base.dir, self.config.max_tokens)?;
        let bar = progress_bar(0, self.progress);
        let fine_tuned = fine_tune(base, &texts, &labels, &self.config, &bar)?;

        let head_start = Instant::now();
        let encoder = BertEncoder::with_weights(
            recipe.encoder_name(),
            &self.base.dir,
            VarBuilder::from_varmap(&fine_tuned.varmap, DType::F32, &Device::Cpu),
            EncoderOptions {
                max_tokens: Some(self.config.max_tokens),
                ..EncoderOptions::default()
            },
        )?;
        let embeddings = encoder.encode(&texts)?;
        let head = LinearTrainer {
            name: self.name.clone(),
            encoder: recipe.encoder_name(),
            config: self.config.head.clone(),
            sources: self.sources.clone(),
        }
        .train_grouped(
            Examples {
                texts: &texts,
                embeddings: embeddings.view(),
                labels: &labels,
                previous: None,
                groups: None,
            },
            &groups,
        )?;
        if self.progress {
            let mean = |xs: &[f32]| xs.iter().sum::<f32>() / xs.len().max(1) as f32;
            let n = fine_tuned.losses.len();
            let k = (n / 10).max(1);
            eprintln!(
                "{}: fine-tuned on {} sentences ({} pairs an epoch, {} steps) in {:.0} s, \
                 loss {:.4} -> {:.4} (first and last tenth); head in {:.0} s (lambda {})",
                self.name,
                data.len(),
                fine_tuned.pairs,
                n,
                fine_tuned.seconds,
                mean(&fine_tuned.losses[..k.min(n)]),
                mean(&fine_tuned.losses[n.saturating_sub(k)..]),
                head_start.elapsed().as_secs_f64(),
                head.meta.lambda
            );
        }
        Ok(TrainedSetFit {
            classifier: SetFitClassifier {
                name: self.name.clone(),
                encoder,
                head,
            },
            recipe,
            fine_tuned,
        })
    }
}

impl Trainer for SetFitTrainer {
    fn name(&self) -> &str {
        &self.name
    }

    /// `None`: it reads only texts (and brings its own encoder).
    fn encoder(&self) -> Option<&str> {
        None
    }

    fn train(&self, examples: Examples<'_>) -> Result<Box<dyn Classifier>> {
        let n = examples.labels.len();
        ensure!(examples.texts.len() == n, "one text per label");
        let data = (0..n)
            .map(|i| LabelledSentence {
                text: examples.texts[i].to_string(),
                stance: examples.labels[i],
                previous: None,
                // Without groups, every sentence is its own group: the
                // head's inner cross-validation then holds out sentences.
                group: examples
                    .groups
                    .and_then(|g| g.get(i))
                    .map_or_else(|| format!("{}", i % 5), |g| g.to_string()),
            })
            .collect();
        Ok(Box::new(self.train_model(data)?.classifier))
    }
}

/// A saved SetFit model: the head, and how to rebuild its encoder.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetFitFile {
    /// Always "setfit".
    pub kind: String,
    pub recipe: Recipe,
    /// sha256 of `recipe` (checked on load: an edited recipe is refused).
    pub recipe_sha256: String,
    /// sha256 of the fine-tuned weights (see `finetune::model::weights_sha256`).
    pub weights_sha256: String,
    /// Where the training sentences were read from (files or directories,
    /// as given to `stance train`), relative to the working directory.
    pub sources: Vec<String>,
    pub head: LinearHead,
}

impl SetFitFile {
    /// Trains on the sentences of `sources` and returns the saved form; the
    /// fine-tuned weights go into the cache at `cache_root`, so the first
    /// use does not rebuild them.
    pub fn train(trainer: &SetFitTrainer, sources: &[PathBuf], cache_root: &Path) -> Result<Self> {
        let data = read_labelled(sources)?;
        let trainer = SetFitTrainer {
            sources: sources.iter().map(|p| p.display().to_string()).collect(),
            ..trainer.clone()
        };
        let trained = trainer.train_model(data)?;
        let dir = trained.recipe.cache_dir(cache_root);
        let weights_sha256 = recipe::store(
            &trained.fine_tuned.varmap,
            &trainer.base.dir,
            &trained.recipe,
            &dir,
        )?;
        Ok(SetFitFile {
            kind: "setfit".into(),
            recipe_sha256: trained.recipe.sha256(),
            recipe: trained.recipe,
            weights_sha256,
            sources: trainer.sources,
            head: trained.classifier.head,
        })
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        crate::infra::atomic::write(path, self.to_json()?.as_bytes())
    }

    /// The saved form: one line of JSON.
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string(self)? + "\n")
    }

    /// Whether the file at `path` is a saved SetFit model (its `kind` says
    /// so) rather than a linear head. A file that cannot be read or parsed
    /// is not: the linear head loader then reports what is wrong with it.
    pub fn is_setfit(path: &Path) -> bool {
        #[derive(Deserialize)]
        struct Kind {
            kind: Option<String>,
        }
        std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Kind>(&bytes).ok())
            .is_some_and(|k| k.kind.as_deref() == Some("setfit"))
    }

    /// Reads a saved model and checks that its recipe is the one it was
    /// saved with.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let file: SetFitFile = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a SetFit model", path.display()))?;
        ensure!(
            file.kind == "setfit",
            "{}: kind {:?}, expected \"setfit\"",
            path.display(),
            file.kind
        );
        ensure!(
            file.recipe.sha256() == file.recipe_sha256,
            "{}: the recipe does not match its recorded sha256 (edited by hand?)",
            path.display()
        );
        ensure!(
            file.head.encoder == file.recipe.encoder_name(),
            "{}: the head was trained on encoder {:?}, the recipe makes {:?}",
            path.display(),
            file.head.encoder,
            file.recipe.encoder_name()
        );
        Ok(file)
    }

    /// The classifier, with its fine-tuned encoder from the cache at
    /// `cache_root`. When the cache does not hold it (or holds other
    /// weights), the encoder is rebuilt from the recipe: the training
    /// sentences are read again from `sources` (relative to the working
    /// directory) and must hash as recorded, and the rebuilt weights must
    /// hash as recorded too.
    pub fn classifier(
        &self,
        base: &BaseModel,
        cache_root: &Path,
        progress: bool,
    ) -> Result<SetFitClassifier> {
        ensure!(
            base.name == self.recipe.base_model && base.weights_sha256 == self.recipe.base_weights_sha256,
            "this SetFit model was fine-tuned from {} (weights sha256 {}), not from the loaded {} ({})",
            self.recipe.base_model,
            self.recipe.base_weights_sha256,
            base.name,
            base.weights_sha256
        );
        let dir = self.recipe.cache_dir(cache_root);
        let cached = dir.exists() && recipe::verify(&dir, &self.weights_sha256).is_ok();
        if !cached {
            self.rebuild(base, &dir, progress)?;
        }
        let encoder = BertEncoder::load(
            &dir,
            EncoderOptions {
                max_tokens: Some(self.recipe.config.max_tokens),
                ..EncoderOptions::default()
            },
        )?;
        Ok(SetFitClassifier {
            name: self.head.name.clone(),
            encoder,
            head: self.head.clone(),
        })
    }

    /// Fine-tunes again from the recipe into `dir`; see [`Self::classifier`].
    fn rebuild(&self, base: &BaseModel, dir: &Path, progress: bool) -> Result<()> {
        if progress {
            eprintln!(
                "{} is not in the cache: rebuilding it from its recipe ({} sentences, {:?})",
                self.recipe.encoder_name(),
                self.recipe.examples,
                self.sources
            );
        }
        let sources: Vec<PathBuf> = self.sources.iter().map(PathBuf::from).collect();
        let mut data = read_labelled(&sources).with_context(|| {
            format!(
                "cannot read the training sentences to rebuild {} (run from the directory \
                 `stance train` ran in)",
                self.recipe.encoder_name()
            )
        })?;
        recipe::canonical_order(&mut data);
        let texts: Vec<&str> = data.iter().map(|d| d.text.as_str()).collect();
        let labels: Vec<Stance> = data.iter().map(|d| d.stance).collect();
        let found = training_hash(&texts, &labels);
        if found != self.recipe.training_sha256 {
            bail!(
                "the training sentences in {:?} have changed since the model was trained \
                 (sha256 {found}, recorded {}); retrain it with `stance train`",
                self.sources,
                self.recipe.training_sha256
            );
        }
        let config = &self.recipe.config;
        let fine_tuned = fine_tune(
            Base::load(&base.dir, config.max_tokens)?,
            &texts,
            &labels,
            config,
            &progress_bar(0, progress),
        )?;
        let found = crate::classify::finetune::model::weights_sha256(&fine_tuned.varmap)?;
        if found != self.weights_sha256 {
            bail!(
                "rebuilt weights of {} have sha256 {found}, but the model recorded {}: this \
                 machine's arithmetic differs from the one that trained it (another CPU \
                 family or candle version); retrain it here with `stance train`",
                self.recipe.encoder_name(),
                self.weights_sha256
            );
        }
        recipe::store(&fine_tuned.varmap, &base.dir, &self.recipe, dir)?;
        Ok(())
    }
}
