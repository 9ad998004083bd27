//! `stance eval`: every classifier against the gold set, side by side.

use super::score::{load_classifier, load_encoder, needs_encoder, set_threads};
use super::{EvalArgs, Sink};
use crate::classify::linear::{LinearConfig, LinearTrainer};
use crate::classify::train::{MajorityTrainer, Trainer};
use crate::corpus::{Article, ArticleReader};
use crate::evaluate::run::{evaluate_trained, evaluate_untrained, GoldExamples};
use crate::evaluate::{score_predictions, EvalReport, Prediction, Setting};
use crate::gold::{GoldSet, Texts};
use crate::pipeline::Embedded;
use crate::segment::RuleSegmenter;
use anyhow::{bail, Context, Result};
use ndarray::Array2;
use std::io::{BufRead, Write};
use std::path::Path;

/// Classifiers that need no training, then the trained floors.
const UNTRAINED: &[&str] = &["zero-shot", "keyword"];
const TRAINED: &[&str] = &["majority", "linear"];

/// Report format of `stance eval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Json,
    Md,
    Html,
}

/// The trainer behind a trained classifier's name; `encoder` names the
/// encoder whose vectors it learns from.
fn trainer(name: &str, encoder: Option<&str>) -> Option<Box<dyn Trainer>> {
    match name {
        "majority" => Some(Box::new(MajorityTrainer)),
        "linear" => Some(Box::new(LinearTrainer {
            name: name.to_string(),
            encoder: encoder.unwrap_or_default().to_string(),
            config: LinearConfig::default(),
            sources: vec![],
        })),
        _ => None,
    }
}

/// Reads a JSONL file of predictions (e.g. `stance score` output).
fn read_predictions(path: &Path) -> Result<Vec<Prediction>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("{}:{}: cannot read", path.display(), i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let p: Prediction = serde_json::from_str(&line)
            .with_context(|| format!("{}:{}: not a prediction record", path.display(), i + 1))?;
        out.push(p);
    }
    Ok(out)
}

pub fn run(args: EvalArgs) -> Result<u8> {
    set_threads(args.threads)?;
    let mut articles: Vec<Article> = Vec::new();
    for article in ArticleReader::new(std::slice::from_ref(&args.corpus)) {
        articles.push(article?);
    }
    let texts: Texts = articles
        .iter()
        .map(|a| (a.id.clone(), a.text.clone()))
        .collect();
    let gold = match GoldSet::load(&args.gold, &texts) {
        Ok(gold) => gold,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            bail!(
                "{} gold record(s) refused; nothing was evaluated",
                errors.len()
            );
        }
    };
    let gold_docs = gold.docs();
    articles.retain(|a| gold_docs.contains(&a.id.as_str()));
    articles.sort_by(|a, b| a.id.cmp(&b.id));
    let doc_ids: Vec<String> = articles.iter().map(|a| a.id.clone()).collect();

    let extra = crate::classify::train::read_labelled(&args.train_extra)?;
    let mut reports = Vec::new();
    if let Some(path) = &args.predictions {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        reports.push(score_predictions(
            &name,
            Setting::PredictionsFile,
            &gold,
            &read_predictions(path)?,
        ));
    } else {
        let names: Vec<&str> = if args.classifier == "all" {
            UNTRAINED.iter().chain(TRAINED).copied().collect()
        } else {
            vec![args.classifier.as_str()]
        };
        let encoder = if names.iter().any(|n| needs_encoder(n)) {
            Some(load_encoder(&args.model, 32, args.quiet)?)
        } else {
            None
        };
        let encoder_ref = encoder.as_deref();
        let segmenter = RuleSegmenter::default();
        let embedded = Embedded::new(&segmenter, encoder_ref, &articles)?;
        for name in names {
            if let Some(trainer) = trainer(name, encoder_ref.map(|e| e.name())) {
                let embed = |texts: Vec<&str>| -> Result<Array2<f32>> {
                    match (trainer.encoder(), encoder_ref) {
                        (None, _) => Ok(Array2::zeros((texts.len(), 0))),
                        (Some(_), Some(enc)) => enc.encode(&texts),
                        (Some(needed), None) => bail!("{name} needs encoder {needed}"),
                    }
                };
                let examples = GoldExamples {
                    gold: &gold,
                    embeddings: embed(gold.records.iter().map(|r| r.text.as_str()).collect())?,
                    extra: &extra,
                    extra_embeddings: embed(extra.iter().map(|e| e.text.as_str()).collect())?,
                };
                reports.push(evaluate_trained(
                    &examples,
                    &embedded,
                    &doc_ids,
                    trainer.as_ref(),
                    args.cv,
                )?);
            } else {
                let classifier = load_classifier(name, encoder_ref)?;
                reports.push(evaluate_untrained(&gold, &embedded, classifier.as_ref())?);
            }
        }
    }

    let report = EvalReport::new(&args.gold.display().to_string(), &gold, reports);
    let rendered = match args.format {
        ReportFormat::Json => report.to_json(),
        ReportFormat::Md => report.to_markdown(),
        ReportFormat::Html => crate::evaluate::html::render(&report, &texts),
    };
    let mut sink = Sink::open(args.out.as_deref())?;
    sink.write_all(rendered.as_bytes())?;
    sink.commit()?;
    Ok(0)
}
