//! `stance compare`: stance per actor across articles, from scoring the
//! articles, from a predictions file, or from the gold claims.

use super::eval::ReportFormat;
use super::{
    report_input_error, warn_about_article, warn_truncated, CompareArgs, Sink, EXIT_SOME_FAILED,
};
use crate::aggregate::{compare, render, Folding, SentenceClaims};
use crate::corpus::{read_metadata, Article, ArticleReader, METADATA_FILE};
use crate::evaluate::attribution::gold_sentence_claims;
use crate::gold::GoldSet;
use crate::pipeline::{set_threads, PipelineOptions};
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::Path;

/// Reads `stance score` records (JSONL) with their claims.
fn read_records(path: &Path) -> Result<Vec<SentenceClaims>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut out = Vec::new();
    let mut with_claims = false;
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("{}:{}: cannot read", path.display(), i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(&line)
            .with_context(|| format!("{}:{}: not JSON", path.display(), i + 1))?;
        with_claims |= value.get("claims").is_some();
        let record: SentenceClaims = serde_json::from_value(value).with_context(|| {
            format!("{}:{}: not a `stance score` record", path.display(), i + 1)
        })?;
        out.push(record);
    }
    if !out.is_empty() && !with_claims {
        bail!(
            "{}: the records carry no claims; make them with `stance score`",
            path.display()
        );
    }
    Ok(out)
}

/// Years and outlets of the articles in `corpus` (its `metadata.csv`), by
/// document id.
fn corpus_metadata(corpus: &Path) -> Result<(BTreeMap<String, i32>, BTreeMap<String, String>)> {
    let table = read_metadata(&corpus.join(METADATA_FILE))?;
    let years = table
        .iter()
        .filter_map(|(id, meta)| meta.year().map(|y| (id.clone(), y)))
        .collect();
    let outlets = table
        .into_iter()
        .filter_map(|(id, meta)| meta.outlet.map(|o| (id, o)))
        .collect();
    Ok((years, outlets))
}

pub fn run(args: CompareArgs) -> Result<u8> {
    set_threads(args.threads)?;
    if args.input.is_empty() && args.predictions.is_none() && args.gold.is_none() {
        bail!("give articles (PATH...), --predictions FILE or --gold FILE");
    }
    if !args.input.is_empty() && args.predictions.is_some() {
        bail!("give either articles or --predictions, not both");
    }
    // Opened first, so an unwritable --out fails before any scoring.
    let mut sink = Sink::open(args.out.as_deref())?;
    let (mut years, mut outlets) = if args.corpus.is_dir() {
        corpus_metadata(&args.corpus)?
    } else {
        Default::default()
    };
    let mut failed = 0usize;
    let mut classifier_name = None;
    let predicted: Option<Vec<SentenceClaims>> = if !args.input.is_empty() {
        let mut articles: Vec<Article> = Vec::new();
        for item in ArticleReader::new(&args.input) {
            match item {
                Ok(a) => {
                    warn_about_article(&a);
                    articles.push(a)
                }
                Err(e) => {
                    report_input_error(&e);
                    failed += 1;
                }
            }
        }
        for a in &articles {
            if let Some(y) = a.meta.year() {
                years.insert(a.id.clone(), y);
            }
            if let Some(o) = &a.meta.outlet {
                outlets.insert(a.id.clone(), o.clone());
            }
        }
        // Stories in input order, as `stance score` marks them.
        let stories = crate::corpus::dedup::stories(
            articles.iter().map(|a| (a.id.as_str(), a.text.as_str())),
        );
        let stages = super::load_pipeline(
            &args.classifier,
            &args.model,
            &args.actors,
            PipelineOptions::default().batch_size,
            args.threads,
            args.quiet,
        )?;
        let encoder = stages.encoder.as_deref();
        let scorer = stages.scorer();
        classifier_name = Some(stages.classifier.name().to_string());
        let mut docs = scorer.score(&articles)?;
        warn_truncated(&articles, &docs, encoder.and_then(|e| e.max_tokens()));
        for (doc, story) in docs.iter_mut().zip(stories) {
            for s in doc.iter_mut() {
                s.story = Some(story.clone());
            }
        }
        Some(docs.iter().flatten().map(SentenceClaims::from).collect())
    } else if let Some(path) = &args.predictions {
        Some(read_records(path)?)
    } else {
        None
    };
    let gold = match &args.gold {
        Some(path) => {
            let texts = crate::gold::article_texts(std::slice::from_ref(&args.corpus))?;
            match GoldSet::load(path, &texts) {
                Ok(g) => Some(gold_sentence_claims(&g)),
                Err(errors) => {
                    for e in &errors {
                        eprintln!("error: {e}");
                    }
                    bail!(
                        "{} gold record(s) refused; nothing was compared",
                        errors.len()
                    );
                }
            }
        }
        None => None,
    };
    if predicted.as_ref().is_some_and(Vec::is_empty) && gold.is_none() {
        bail!("no sentences to compare");
    }
    let comparison = compare(
        predicted.as_deref(),
        classifier_name.as_deref(),
        gold.as_deref(),
        &years,
        args.by,
        &Folding {
            keep_duplicates: args.keep_duplicates,
            outlets,
        },
    );
    let rendered = match args.format {
        ReportFormat::Json => serde_json::to_string_pretty(&comparison)? + "\n",
        ReportFormat::Md => render::to_markdown(&comparison),
        ReportFormat::Html => render::to_html(&comparison),
    };
    sink.write_all(rendered.as_bytes())?;
    sink.commit()?;
    Ok(if failed > 0 { EXIT_SOME_FAILED } else { 0 })
}
