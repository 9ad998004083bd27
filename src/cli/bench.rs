//! `stance bench encode`: the encoder's throughput on a file of sentences,
//! model load excluded. Figures for the README and issue notes; never a test.

use super::{BenchArgs, ClassifierArgs, ScalingArgs};
use crate::pipeline::{set_threads, PipelineOptions};
use anyhow::{ensure, Context, Result};
use serde::Serialize;
use std::io::Write;
use std::time::Instant;

/// The contract's record: `{n, batch, threads, times_s, median_s, sent_per_s}`.
#[derive(Debug, Serialize)]
pub struct EncodeBench {
    pub encoder: String,
    pub precision: String,
    pub n: usize,
    pub batch: usize,
    pub threads: usize,
    pub times_s: Vec<f64>,
    pub median_s: f64,
    pub sent_per_s: f64,
}

/// The middle value (the lower middle for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[(sorted.len() - 1) / 2]
}

pub fn run(args: BenchArgs) -> Result<u8> {
    set_threads(args.threads)?;
    ensure!(args.repeats >= 1, "--repeats must be at least 1");
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let sentences: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    ensure!(
        !sentences.is_empty(),
        "{}: no sentences (one a line)",
        args.file.display()
    );
    let encoder = super::load_encoder(&args.model.choice(true), args.batch)?;
    // One untimed pass warms the allocator and the thread pool.
    encoder.encode(&sentences[..sentences.len().min(args.batch)])?;
    let mut times = Vec::with_capacity(args.repeats);
    for _ in 0..args.repeats {
        let start = Instant::now();
        let vectors = encoder.encode(&sentences)?;
        times.push(start.elapsed().as_secs_f64());
        ensure!(
            vectors.nrows() == sentences.len(),
            "one vector per sentence"
        );
    }
    let median_s = median(&times);
    let result = EncodeBench {
        encoder: encoder.name().to_string(),
        precision: encoder.precision().to_string(),
        n: sentences.len(),
        batch: args.batch,
        threads: rayon::current_num_threads(),
        times_s: times,
        median_s,
        sent_per_s: sentences.len() as f64 / median_s,
    };
    let mut stdout = std::io::stdout().lock();
    if args.json() {
        writeln!(stdout, "{}", serde_json::to_string(&result)?)?;
    } else {
        writeln!(
            stdout,
            "{} ({}): {} sentences, batch {}, {} threads: median {:.3} s over {} runs, {:.1} sentences/s",
            result.encoder,
            result.precision,
            result.n,
            result.batch,
            result.threads,
            result.median_s,
            result.times_s.len(),
            result.sent_per_s
        )?;
        let features: Vec<String> = crate::embed::fast::cpu_features()
            .iter()
            .map(|(name, has)| format!("{name} {}", if *has { "yes" } else { "no" }))
            .collect();
        writeln!(
            stdout,
            "kernels: {}; CPU: {}",
            crate::embed::fast::kernel_path(encoder.precision()),
            features.join(", ")
        )?;
    }
    Ok(0)
}

/// `stance bench scaling`: for each shape and size, the seconds to split,
/// to score (split, classify, attribute) and to write the JSONL records, one
/// line each; read down a shape's rows: linear stages grow 10× per row.
pub fn scaling(args: ScalingArgs) -> Result<u8> {
    use crate::adversarial::{text, Shape};
    use crate::corpus::{Article, Metadata, Origin};
    use crate::report::output::{Format, ScoreWriter};
    set_threads(args.threads)?;
    let stages = super::load_pipeline(
        &ClassifierArgs {
            classifier: args.classifier.clone(),
        },
        &args.model,
        &args.actors,
        PipelineOptions::default().batch_size,
        args.threads,
        true,
    )?;
    let scorer = stages.scorer();
    let shapes = if args.shapes.is_empty() {
        Shape::ALL.to_vec()
    } else {
        args.shapes.clone()
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "| shape | bytes | records | cut | split s | score s | write s | MB/s |"
    )?;
    writeln!(stdout, "|---|---:|---:|---:|---:|---:|---:|---:|")?;
    for shape in shapes {
        for &bytes in &args.sizes {
            let article = Article {
                id: format!("{}-{bytes}", shape.name()),
                text: text(shape, bytes),
                origin: Origin {
                    path: "bench".into(),
                    line: None,
                },
                meta: Metadata::default(),
            };
            let t = Instant::now();
            let split = crate::pipeline::split_article(scorer.segmenter, &article);
            let split_s = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let docs = scorer.score(std::slice::from_ref(&article))?;
            let score_s = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let mut writer = ScoreWriter::new(Format::Jsonl, std::io::sink());
            for doc in &docs {
                writer.write(doc)?;
            }
            let write_s = t.elapsed().as_secs_f64();
            let total = score_s + write_s;
            writeln!(
                stdout,
                "| {} | {} | {} | {} | {split_s:.3} | {score_s:.3} | {write_s:.3} | {:.2} |",
                shape.name(),
                article.text.len(),
                split.len(),
                split.iter().filter(|s| s.cut).count(),
                article.text.len() as f64 / 1e6 / total.max(1e-9),
            )?;
            stdout.flush()?;
            if total > args.limit {
                writeln!(
                    stdout,
                    "| {} | (larger sizes skipped: {total:.1} s > --limit {}) | | | | | | |",
                    shape.name(),
                    args.limit
                )?;
                break;
            }
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(super::median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(super::median(&[4.0, 1.0, 3.0, 2.0]), 2.0);
    }
}
