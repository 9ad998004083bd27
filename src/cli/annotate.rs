//! `stance annotate`: a local page to label articles sentence by sentence,
//! and `stance agree`: how well two annotators' files agree.

use super::{report_input_error, AgreeArgs, AnnotateArgs, Sink, EXIT_FATAL};
use crate::annotate::server::AnnotationServer;
use crate::annotate::Session;
use crate::corpus::{Article, ArticleReader};
use crate::evaluate::agreement::Agreement;
use crate::gold::{article_texts, GoldSet};
use crate::pipeline::{set_threads, PipelineOptions};
use anyhow::{bail, Result};
use std::io::Write;
use std::path::Path;

pub fn run(args: AnnotateArgs) -> Result<u8> {
    set_threads(args.threads)?;
    let mut articles: Vec<Article> = Vec::new();
    let mut failed = 0;
    for article in ArticleReader::new(&args.input.paths) {
        match article {
            Ok(a) => articles.push(a),
            Err(e) => {
                report_input_error(&e);
                failed += 1;
            }
        }
    }
    if articles.is_empty() {
        bail!("no article to annotate");
    }
    // The port is taken first, so a busy one fails before the model loads.
    let server = AnnotationServer::bind(args.port)?;
    let stages = super::load_pipeline(
        &args.classifier,
        &args.model,
        &args.actors,
        PipelineOptions::default().batch_size,
        args.threads,
        args.quiet,
    )?;
    let scored = stages.scorer().score(&articles)?;
    let session = Session::new(
        &articles,
        scored,
        args.order,
        &args.out,
        stages.classifier.name(),
    )?;
    let done = session.labels.load()?.len();
    println!(
        "annotating {} sentences of {} article(s) into {} ({} labelled so far): open {}",
        session.queue.len(),
        articles.len(),
        args.out.display(),
        done,
        server.url()
    );
    if failed > 0 {
        eprintln!("warning: {failed} input(s) could not be read (above); the rest are served");
    }
    eprintln!("every decision is saved at once; stop with Ctrl-C");
    std::io::stdout().flush()?;
    server.serve(&session)?;
    Ok(0)
}

pub fn agree(args: AgreeArgs) -> Result<u8> {
    let mut sink = Sink::open(args.out.as_deref())?;
    let texts = article_texts(&args.corpus)?;
    let load = |path: &Path| -> Option<GoldSet> {
        match GoldSet::load(path, &texts) {
            Ok(set) => Some(set),
            Err(errors) => {
                for e in &errors {
                    eprintln!("error: {e}");
                }
                None
            }
        }
    };
    let (Some(a), Some(b)) = (load(&args.a), load(&args.b)) else {
        eprintln!("error: labels refused (above); nothing was compared");
        return Ok(EXIT_FATAL);
    };
    let agreement = Agreement::new(
        &args.a.display().to_string(),
        &a,
        &args.b.display().to_string(),
        &b,
    );
    let text = match args.format {
        super::eval::ReportFormat::Json => serde_json::to_string_pretty(&agreement)? + "\n",
        super::eval::ReportFormat::Md => agreement.to_markdown(),
        super::eval::ReportFormat::Html => bail!("stance agree writes json or md"),
    };
    sink.write_all(text.as_bytes())?;
    sink.commit()?;
    Ok(0)
}
