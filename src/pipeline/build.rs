//! Building the pipeline from plain options: the one place that turns an
//! encoder name, a classifier name and a gazetteer into loaded stages. Every
//! subcommand builds its stages here, and so can a Rust caller:
//!
//! ```no_run
//! use stance::pipeline::{Pipeline, PipelineOptions};
//! let pipeline = Pipeline::load(&PipelineOptions::default())?;
//! for sentence in pipeline.score_text("note", "Paris rejects any talks with JNIM.")? {
//!     println!("{} {}", sentence.stance, sentence.sentence.text);
//! }
//! # Ok::<(), anyhow::Error>(())
//! ```

use super::{ScoredSentence, Scorer};
use crate::attribute::{Attributor, Gazetteer};
use crate::classify::linear::LinearHead;
use crate::classify::setfit::{BaseModel, SetFitFile, SetFitTrainer};
use crate::classify::{Classifier, ZeroShot};
use crate::corpus::{Article, Metadata, Origin};
use crate::embed::{Encoder, EncoderOptions, Precision};
use crate::infra::provision::{self, FetchOptions, Manifest};
use crate::segment::RuleSegmenter;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Which encoder to load and how its files are found.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderChoice {
    /// A built-in encoder name or alias (`gemma`, `minilm`, `mpnet`).
    pub name: String,
    /// The forward pass's arithmetic; `None` takes the encoder's default.
    pub precision: Option<Precision>,
    /// Never download: fail, saying what to fetch, when the model is not cached.
    pub offline: bool,
    /// Show download progress and training progress bars on stderr.
    pub progress: bool,
}

impl Default for EncoderChoice {
    fn default() -> Self {
        EncoderChoice {
            name: crate::encoders::DEFAULT_ENCODER.to_string(),
            precision: None,
            offline: false,
            progress: false,
        }
    }
}

/// Everything that decides the pipeline `stance score` runs.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineOptions {
    pub encoder: EncoderChoice,
    /// `linear` (the head shipped for the encoder), `zero-shot`, `keyword`,
    /// or the path of a linear head or SetFit model saved by `stance train`.
    pub classifier: String,
    /// An actor gazetteer (TOML, as labels/actors.toml); `None` takes the built-in one.
    pub gazetteer: Option<PathBuf>,
    /// Sentences per encoder batch.
    pub batch_size: usize,
    /// Worker threads for rayon and candle; `None` uses every core.
    pub threads: Option<usize>,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions {
            encoder: EncoderChoice::default(),
            classifier: "linear".to_string(),
            gazetteer: None,
            // The encoder's own default, so the two cannot drift apart.
            batch_size: EncoderOptions::default().batch_size,
            threads: None,
        }
    }
}

/// Uses `threads` worker threads for rayon and for candle's matrix kernels.
/// The global pool starts once: a second call with the same count does
/// nothing, one with another count is an error.
pub fn set_threads(threads: Option<usize>) -> Result<()> {
    static STARTED_WITH: OnceLock<usize> = OnceLock::new();
    let Some(n) = threads else {
        return Ok(());
    };
    if n == 0 {
        bail!("--threads must be at least 1");
    }
    if let Some(&started) = STARTED_WITH.get() {
        if started == n {
            return Ok(());
        }
        bail!("the thread pool already runs {started} threads, not {n}");
    }
    // candle's CPU kernels read RAYON_NUM_THREADS too; set it before any pool starts.
    std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global()
        .context("cannot start the thread pool")?;
    let _ = STARTED_WITH.set(n);
    Ok(())
}

/// The manifest of the chosen encoder and its verified directory in the
/// cache, fetched first unless `offline`.
fn provisioned(choice: &EncoderChoice) -> Result<(Manifest, PathBuf)> {
    let manifest = Manifest::builtin(&choice.name)?;
    let dir = provision::ensure(
        &manifest,
        &FetchOptions {
            offline: choice.offline,
            progress: choice.progress,
            ..FetchOptions::default()
        },
    )?;
    Ok((manifest, dir))
}

/// Finds (fetching when allowed) and loads the chosen encoder, with the
/// architecture its files call for, encoding `batch_size` sentences at a time.
pub fn load_encoder(choice: &EncoderChoice, batch_size: usize) -> Result<Box<dyn Encoder>> {
    let (_, dir) = provisioned(choice)?;
    crate::embed::load(
        &dir,
        EncoderOptions {
            batch_size,
            precision: choice.precision,
            ..EncoderOptions::default()
        },
    )
}

/// Finds (fetching when allowed) and verifies the files of the chosen
/// encoder, the base a SetFit model is fine-tuned from.
pub fn base_model(choice: &EncoderChoice) -> Result<BaseModel> {
    let (manifest, dir) = provisioned(choice)?;
    BaseModel::new(&manifest, dir)
}

/// Whether SetFit can fine-tune the chosen encoder (a BERT model); the
/// model is fetched first where needed.
pub fn setfit_supported(choice: &EncoderChoice) -> Result<bool> {
    let (_, dir) = provisioned(choice)?;
    Ok(crate::embed::model_type(&dir)?
        .as_deref()
        .and_then(crate::encoders::Architecture::from_model_type)
        .is_some_and(|a| a.fine_tunable()))
}

/// A SetFit trainer fine-tuning the chosen encoder with the settings
/// `config` names (`default`, `ci` or a TOML file).
pub fn setfit_trainer(choice: &EncoderChoice, config: &str) -> Result<SetFitTrainer> {
    Ok(SetFitTrainer {
        name: "setfit".into(),
        base: base_model(choice)?,
        config: crate::classify::finetune::SetFitConfig::from_profile_or_file(config)?,
        sources: vec![],
        progress: choice.progress,
    })
}

/// Whether the classifier named `name` reads embeddings.
pub fn needs_encoder(name: &str) -> bool {
    name == "zero-shot"
        || name.starts_with("linear")
        || (is_head_file(name) && !SetFitFile::is_setfit(Path::new(name)))
}

/// A classifier given as a file: a head saved by `stance train`.
fn is_head_file(name: &str) -> bool {
    name.ends_with(".json")
}

/// Builds the classifier named `name`; `encoder` is required when
/// [`needs_encoder`] says so. A SetFit model brings its own encoder,
/// fine-tuned from the one `choice` names (taken from the cache, or rebuilt
/// into it from its recipe on first use).
pub fn load_classifier(
    name: &str,
    encoder: Option<&dyn Encoder>,
    choice: &EncoderChoice,
) -> Result<Box<dyn Classifier>> {
    match name {
        path if is_head_file(path) && SetFitFile::is_setfit(Path::new(path)) => {
            let file = SetFitFile::load(Path::new(path))?;
            let base = base_model(choice)?;
            Ok(Box::new(file.classifier(
                &base,
                &provision::cache_dir()?,
                choice.progress,
            )?))
        }
        "zero-shot" => Ok(Box::new(ZeroShot::new(
            crate::classify::zero_shot::LabelDescriptions::builtin(),
            encoder.context("the zero-shot classifier needs an encoder")?,
        )?)),
        "keyword" => Ok(Box::new(crate::classify::Keyword)),
        "linear" => Ok(Box::new(LinearHead::builtin_for(
            encoder.context("the linear head needs an encoder")?,
        )?)),
        path if is_head_file(path) => Ok(Box::new(LinearHead::load_for(
            Path::new(path),
            encoder.context("a linear head needs an encoder")?,
        )?)),
        other => bail!(
            "unknown classifier {other:?} (available: linear, zero-shot, keyword, or a linear head or \
             SetFit model saved by `stance train`, FILE.json)"
        ),
    }
}

/// The attributor with the gazetteer in `path`, or the built-in one.
pub fn load_attributor(path: Option<&Path>) -> Result<Attributor> {
    Ok(match path {
        Some(path) => Attributor::new(Gazetteer::load(path)?),
        None => Attributor::builtin(),
    })
}

/// The loaded stages that score articles: the segmenter, the encoder (none
/// for the keyword rule; a SetFit model brings its own), the classifier and
/// the attributor.
pub struct Pipeline {
    segmenter: RuleSegmenter,
    pub encoder: Option<Box<dyn Encoder>>,
    pub classifier: Box<dyn Classifier>,
    attributor: Attributor,
}

impl Pipeline {
    /// Loads the classifier asked for, the encoder when it reads vectors,
    /// and the gazetteer; starts the thread pool when `threads` is given.
    pub fn load(options: &PipelineOptions) -> Result<Self> {
        set_threads(options.threads)?;
        let encoder = if needs_encoder(&options.classifier) {
            Some(load_encoder(&options.encoder, options.batch_size)?)
        } else {
            None
        };
        let classifier =
            load_classifier(&options.classifier, encoder.as_deref(), &options.encoder)?;
        Ok(Pipeline {
            segmenter: RuleSegmenter::default(),
            encoder,
            classifier,
            attributor: load_attributor(options.gazetteer.as_deref())?,
        })
    }

    /// The stages borrowed as a [`Scorer`].
    pub fn scorer(&self) -> Scorer<'_> {
        Scorer {
            segmenter: &self.segmenter,
            encoder: self.encoder.as_deref(),
            classifier: self.classifier.as_ref(),
            attributor: Some(&self.attributor),
        }
    }

    /// Scores every sentence of `articles`; one list per article, in order.
    pub fn score(&self, articles: &[Article]) -> Result<Vec<Vec<ScoredSentence>>> {
        self.scorer().score(articles)
    }

    /// Scores every sentence of one text, given the document id `id`.
    pub fn score_text(&self, id: &str, text: &str) -> Result<Vec<ScoredSentence>> {
        let article = Article {
            id: id.to_string(),
            text: text.to_string(),
            origin: Origin {
                path: "-".into(),
                line: None,
            },
            meta: Metadata::default(),
        };
        Ok(self.score(&[article])?.pop().unwrap_or_default())
    }
}
