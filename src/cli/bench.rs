//! `stance bench encode`: the encoder's throughput on a file of sentences,
//! model load excluded. Figures for the README and issue notes; never a test.

use super::score::{load_encoder, set_threads};
use super::BenchArgs;
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
    let encoder = load_encoder(&args.model, args.batch, true)?;
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
