//! `cargo bench`: the pipeline's speed on the bundled corpus, medians over
//! alternating rounds. Figures for the README, never assertions on time.
//!
//! - segmentation, MB/s of article text (eval/corpus);
//! - the encoder, sentences/s on eval/bench/corpus-sentences.txt (distinct
//!   real sentences: repeated copies would share length-sorted batches and
//!   flatter every implementation), batch 32, at each precision;
//! - end to end (read, split, embed, zero-shot, attribute), articles/s, at
//!   the default precision;
//! - peak resident memory (VmHWM), read after the end-to-end rounds and
//!   before the other precisions are loaded.
//!
//! Threads: rayon's default, or `RAYON_NUM_THREADS=2 cargo bench`. Rounds:
//! `BENCH_ROUNDS` (default 5). The model must be cached (`stance models
//! fetch minilm`); nothing is downloaded here.

use std::path::{Path, PathBuf};
use std::time::Instant;

use stance::attribute::Attributor;
use stance::classify::zero_shot::LabelDescriptions;
use stance::classify::ZeroShot;
use stance::corpus::{Article, ArticleReader};
use stance::embed::{self, Encoder, EncoderOptions, Precision};
use stance::infra::provision::{self, FetchOptions, Manifest};
use stance::pipeline::{split_articles, Scorer};
use stance::segment::RuleSegmenter;

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v[(v.len() - 1) / 2]
}

fn time(f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_secs_f64()
}

/// Peak resident set size of this process, in MB.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn encoder(dir: &Path, precision: Precision) -> Box<dyn Encoder> {
    let opts = EncoderOptions {
        batch_size: 32,
        precision: Some(precision),
        ..EncoderOptions::default()
    };
    embed::load(dir, opts).unwrap_or_else(|e| panic!("loading {precision} encoder: {e:#}"))
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let threads = rayon::current_num_threads();
    let articles: Vec<Article> = ArticleReader::new(&[root.join("eval/corpus")])
        .collect::<Result<_, _>>()
        .expect("reading eval/corpus");
    let bytes: usize = articles.iter().map(|a| a.text.len()).sum();
    let sentences_text = std::fs::read_to_string(root.join("eval/bench/corpus-sentences.txt"))
        .expect("reading eval/bench/corpus-sentences.txt");
    let sentences: Vec<&str> = sentences_text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    let manifest = Manifest::builtin("minilm").unwrap();
    let dir = provision::ensure(
        &manifest,
        &FetchOptions {
            offline: true,
            ..FetchOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e:#}"));
    println!(
        "stance pipeline bench: {} articles ({:.1} KB), {} distinct sentences, {threads} threads, {rounds} rounds",
        articles.len(),
        bytes as f64 / 1e3,
        sentences.len()
    );

    // Segmentation: enough passes over the corpus for a measurable time.
    let segmenter = RuleSegmenter::default();
    const SPLIT_PASSES: usize = 20;
    let split_times: Vec<f64> = (0..rounds)
        .map(|_| {
            time(|| {
                for _ in 0..SPLIT_PASSES {
                    std::hint::black_box(split_articles(&segmenter, &articles));
                }
            })
        })
        .collect();
    let mb_per_s = (bytes * SPLIT_PASSES) as f64 / 1e6 / median(&split_times);
    println!("segmentation: {mb_per_s:.2} MB/s (median of {rounds})");

    // End to end at the default precision.
    let default = Precision::fastest();
    let enc = encoder(&dir, default);
    let zero_shot = ZeroShot::new(LabelDescriptions::builtin(), enc.as_ref()).unwrap();
    let attributor = Attributor::builtin();
    let scorer = Scorer {
        segmenter: &segmenter,
        encoder: Some(enc.as_ref()),
        classifier: &zero_shot,
        attributor: Some(&attributor),
    };
    scorer.score(&articles[..1]).unwrap(); // warm-up
    let e2e: Vec<f64> = (0..rounds)
        .map(|_| time(|| drop(std::hint::black_box(scorer.score(&articles).unwrap()))))
        .collect();
    println!(
        "end to end ({default}): {:.2} articles/s (median of {rounds}: {:.3} s for {})",
        articles.len() as f64 / median(&e2e),
        median(&e2e),
        articles.len()
    );
    match peak_rss_mb() {
        Some(mb) => println!("peak RSS after end to end: {mb:.0} MB"),
        None => println!("peak RSS: /proc/self/status unavailable"),
    }
    drop(zero_shot);
    drop(enc);

    // The encoder at every precision, taking turns.
    let encoders: Vec<(Precision, Box<dyn Encoder>)> = Precision::ALL
        .iter()
        .map(|&p| (p, encoder(&dir, p)))
        .collect();
    for (_, e) in &encoders {
        e.encode(&sentences[..32.min(sentences.len())]).unwrap();
    }
    let mut times = vec![Vec::new(); encoders.len()];
    for _ in 0..rounds {
        for ((_, e), t) in encoders.iter().zip(&mut times) {
            t.push(time(|| {
                drop(std::hint::black_box(e.encode(&sentences).unwrap()))
            }));
        }
    }
    for ((p, _), t) in encoders.iter().zip(&times) {
        println!(
            "encoder {p}: {:.1} sentences/s (median of {rounds}: {:.3} s)",
            sentences.len() as f64 / median(t),
            median(t)
        );
    }
}
