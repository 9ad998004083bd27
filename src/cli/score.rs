//! `stance score`: every sentence of the articles, labelled and scored.

use super::{
    load_pipeline, report_input_error, warn_about_article, warn_truncated, ScoreArgs, Sink,
    EXIT_SOME_FAILED,
};
use crate::corpus::{Article, ArticleReader};
use crate::infra::resume::{ResumePoint, ResumedFile};
use crate::infra::stream::Selection;
use crate::pipeline::set_threads;
use crate::report::output::{Format, ScoreWriter};
use anyhow::{bail, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::Path;

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
        // articles only): see `crate::infra::signals`.
        crate::infra::signals::install();
    }
    let (sink, resume_point) = open_sink(&args, format)?;
    let stages = load_pipeline(
        &args.classifier,
        &args.model,
        &args.actors,
        args.batch_size,
        args.threads,
        args.quiet,
    )?;
    crate::infra::signals::check()?;
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
            crate::infra::signals::check()?;
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
        crate::infra::signals::check()?;
        let docs = scorer.score(&window)?;
        crate::infra::signals::check()?;
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
