//! `stance score`: every sentence of the articles, labelled and scored.

use super::{
    report_input_error, warn_about_article, warn_truncated, ActorsArgs, ClassifierArgs, ModelArgs,
    ScoreArgs, SetFitArgs, Sink, EXIT_SOME_FAILED,
};
use crate::classify::linear::LinearHead;
use crate::classify::setfit::{BaseModel, SetFitFile, SetFitTrainer};
use crate::classify::{Classifier, ZeroShot};
use crate::corpus::{Article, ArticleReader};
use crate::embed::{Encoder, EncoderOptions};
use crate::output::{Format, ScoreWriter};
use crate::pipeline::Scorer;
use crate::provision::{self, FetchOptions, Manifest};
use crate::resume::{ResumePoint, ResumedFile};
use crate::segment::RuleSegmenter;
use crate::stream::Selection;
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::Path;

/// Uses `threads` worker threads for rayon and for candle's matrix kernels.
pub(crate) fn set_threads(threads: Option<usize>) -> Result<()> {
    if let Some(n) = threads {
        if n == 0 {
            bail!("--threads must be at least 1");
        }
        // candle's CPU kernels read RAYON_NUM_THREADS too; set it before any pool starts.
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("cannot start the thread pool")?;
    }
    Ok(())
}

/// Finds (fetching when allowed) and loads the encoder named by `--encoder`,
/// with the architecture its files call for.
pub(crate) fn load_encoder(
    model: &ModelArgs,
    batch_size: usize,
    quiet: bool,
) -> Result<Box<dyn Encoder>> {
    let (_, dir) = provisioned(model, quiet)?;
    crate::embed::load(
        &dir,
        EncoderOptions {
            batch_size,
            precision: model.precision,
            ..EncoderOptions::default()
        },
    )
}

/// Finds (fetching when allowed) and verifies the files of the encoder
/// named by `--encoder`, the base a SetFit model is fine-tuned from.
pub(crate) fn base_model(model: &ModelArgs, quiet: bool) -> Result<BaseModel> {
    let (manifest, dir) = provisioned(model, quiet)?;
    BaseModel::new(&manifest, dir)
}

/// The manifest of the encoder named by `--encoder` and its verified
/// directory in the cache, fetched first unless `--offline`.
fn provisioned(model: &ModelArgs, quiet: bool) -> Result<(Manifest, std::path::PathBuf)> {
    let manifest = Manifest::builtin(&model.encoder)?;
    let dir = provision::ensure(
        &manifest,
        &FetchOptions {
            offline: model.offline,
            progress: !quiet,
            ..FetchOptions::default()
        },
    )?;
    Ok((manifest, dir))
}

/// Whether SetFit can fine-tune the encoder named by `--encoder` (a BERT
/// model); the model is fetched first where needed.
pub(crate) fn setfit_supported(model: &ModelArgs, quiet: bool) -> Result<bool> {
    let (_, dir) = provisioned(model, quiet)?;
    Ok(crate::embed::model_type(&dir)?.as_deref() == Some("bert"))
}

/// The SetFit trainer the command line asks for.
pub(crate) fn setfit_trainer(
    model: &ModelArgs,
    setfit: &SetFitArgs,
    quiet: bool,
) -> Result<SetFitTrainer> {
    Ok(SetFitTrainer {
        name: "setfit".into(),
        base: base_model(model, quiet)?,
        config: crate::finetune::SetFitConfig::from_profile_or_file(&setfit.setfit_config)?,
        sources: vec![],
        progress: !quiet,
    })
}

/// Whether the classifier named on the command line reads embeddings.
pub(crate) fn needs_encoder(name: &str) -> bool {
    name == "zero-shot"
        || name.starts_with("linear")
        || (is_head_file(name) && !SetFitFile::is_setfit(std::path::Path::new(name)))
}

/// The stages that score articles, loaded from the command line: the
/// segmenter, the encoder (none for the keyword rule; a SetFit model brings
/// its own), the classifier and the attributor. `score` and `compare` build
/// their [`Scorer`] from it.
pub(crate) struct ScoringStages {
    segmenter: RuleSegmenter,
    pub encoder: Option<Box<dyn Encoder>>,
    pub classifier: Box<dyn Classifier>,
    attributor: crate::attribute::Attributor,
}

impl ScoringStages {
    /// Loads the classifier asked for, the encoder when it reads vectors
    /// (encoding `batch_size` sentences at a time) and the gazetteer.
    pub(crate) fn load(
        classifier: &ClassifierArgs,
        model: &ModelArgs,
        actors: &ActorsArgs,
        batch_size: usize,
        quiet: bool,
    ) -> Result<Self> {
        let encoder = if needs_encoder(&classifier.classifier) {
            Some(load_encoder(model, batch_size, quiet)?)
        } else {
            None
        };
        let classifier = load_classifier(&classifier.classifier, encoder.as_deref(), model, quiet)?;
        Ok(ScoringStages {
            segmenter: RuleSegmenter::default(),
            encoder,
            classifier,
            attributor: actors.attributor()?,
        })
    }

    pub(crate) fn scorer(&self) -> Scorer<'_> {
        Scorer {
            segmenter: &self.segmenter,
            encoder: self.encoder.as_deref(),
            classifier: self.classifier.as_ref(),
            attributor: Some(&self.attributor),
        }
    }
}

/// A classifier given as a file: a head saved by `stance train`.
fn is_head_file(name: &str) -> bool {
    name.ends_with(".json")
}

/// Builds the classifier named on the command line; `encoder` is required
/// when [`needs_encoder`] says so. A SetFit model brings its own encoder,
/// fine-tuned from the one `model` names (taken from the cache, or rebuilt
/// into it from its recipe on first use).
pub(crate) fn load_classifier(
    name: &str,
    encoder: Option<&dyn Encoder>,
    model: &ModelArgs,
    quiet: bool,
) -> Result<Box<dyn Classifier>> {
    match name {
        path if is_head_file(path) && SetFitFile::is_setfit(std::path::Path::new(path)) => {
            let file = SetFitFile::load(std::path::Path::new(path))?;
            let base = base_model(model, quiet)?;
            Ok(Box::new(file.classifier(
                &base,
                &provision::cache_dir()?,
                !quiet,
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
            std::path::Path::new(path),
            encoder.context("a linear head needs an encoder")?,
        )?)),
        other => bail!(
            "unknown classifier {other:?} (available: linear, zero-shot, keyword, or a linear head or \
             SetFit model saved by `stance train`, FILE.json)"
        ),
    }
}

fn progress_bar(quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} scoring: {pos} articles, {msg} sentences [{elapsed}, {per_sec}]",
        )
        .expect("valid template"),
    );
    bar.set_message("0");
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// Opens `--out` (or stdout) for scoring: in place when resuming, after
/// reading where the interrupted run stopped; atomically otherwise. Done
/// before the model is fetched or loaded, so a bad `--out` fails at once.
fn open_sink(args: &ScoreArgs, format: Format) -> Result<(Sink, ResumePoint)> {
    let Some(path) = args.out.as_deref().filter(|_| args.resume) else {
        return Ok((Sink::open(args.out.as_deref())?, ResumePoint::default()));
    };
    if format != Format::Jsonl {
        bail!("--resume carries on JSONL output only (--format jsonl)");
    }
    let point = ResumePoint::scan(path)?;
    if !args.quiet && point.keep + point.dropped > 0 {
        eprintln!(
            "resuming {}: {} complete article(s) kept{}",
            path.display(),
            point.complete_articles,
            match &point.last_complete {
                Some(id) => format!(", scoring the input after {id:?}"),
                None => String::new(),
            }
        );
    }
    Ok((Sink::Resumed(ResumedFile::open(path, &point)?), point))
}

pub fn run(args: ScoreArgs) -> Result<u8> {
    set_threads(args.threads)?;
    if args.window == 0 {
        bail!("--window must be at least 1");
    }
    let format = args
        .format
        .unwrap_or(if std::io::stdout().is_terminal() && args.out.is_none() {
            Format::Table
        } else {
            Format::Jsonl
        });
    if args.out.is_some() {
        // Ctrl-C and SIGTERM stop the run between articles, so the
        // temporary output is removed (or the --resume file holds complete
        // articles only): see `crate::signals`.
        crate::signals::install();
    }
    let (sink, resume_point) = open_sink(&args, format)?;
    let stages = ScoringStages::load(
        &args.classifier,
        &args.model,
        &args.actors,
        args.batch_size,
        args.quiet,
    )?;
    crate::signals::check()?;
    let encoder = stages.encoder.as_deref();
    let scorer = stages.scorer();

    let mut writer = ScoreWriter::new(format, sink);
    let bar = progress_bar(args.quiet);
    let (mut failed, mut sentences) = (0usize, 0usize);
    let mut input = Selection::new(
        ArticleReader::new(&args.input.paths),
        args.shard,
        resume_point.last_complete,
    );
    // A bounded window of articles at a time: read, score (in parallel
    // inside the window), write in input order, repeat.
    loop {
        let mut window: Vec<Article> = Vec::with_capacity(args.window);
        let mut stories: Vec<String> = Vec::with_capacity(args.window);
        for item in input.by_ref() {
            crate::signals::check()?;
            match item {
                Ok((article, story)) => {
                    bar.suspend(|| warn_about_article(&article));
                    window.push(article);
                    stories.push(story);
                    if window.len() == args.window {
                        break;
                    }
                }
                Err(e) => {
                    bar.suspend(|| report_input_error(&e));
                    failed += 1;
                }
            }
        }
        if let Some(last) = input.still_skipping() {
            // The input ended before the last article the output holds:
            // the file is left as it was.
            bail!(
                "cannot resume {}: its last complete article {last:?} is not in this input \
                 (or not in this --shard); was it written from another input?",
                args.out.as_deref().unwrap_or(Path::new("-")).display()
            );
        }
        if window.is_empty() {
            break;
        }
        crate::signals::check()?;
        let docs = scorer.score(&window)?;
        crate::signals::check()?;
        bar.suspend(|| warn_truncated(&window, &docs, encoder.and_then(|e| e.max_tokens())));
        for (mut doc, story) in docs.into_iter().zip(stories) {
            sentences += doc.len();
            for record in doc.iter_mut() {
                record.story = Some(story.clone());
            }
            writer.write(&doc)?;
        }
        writer.flush()?;
        bar.inc(window.len() as u64);
        bar.set_message(sentences.to_string());
    }
    bar.finish_and_clear();
    writer.finish()?.commit()?;
    if failed > 0 {
        eprintln!("{failed} input(s) failed; every other article was scored");
        return Ok(EXIT_SOME_FAILED);
    }
    Ok(0)
}
