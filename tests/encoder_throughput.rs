//! Timings, not checks: run on purpose, in release, with
//! `RAYON_NUM_THREADS=2 cargo test --release --test encoder_throughput -- --ignored --nocapture`.
//! For each encoder, in the same run: the cost of verifying the cached model
//! (paid at every load) and sentences per second on the bundled corpus.

use std::time::Instant;

use stance::embed::{self, EncoderOptions};
use stance::provision::{self, FetchOptions, Manifest};

/// The checkout under test. `cargo test` sets CARGO_MANIFEST_DIR at run time
/// too; that one wins because worktrees sharing one CARGO_TARGET_DIR can run
/// a test binary compiled in another checkout.
fn repo_root() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(Into::into)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Distinct sentence-like pieces of the bundled corpus (lines split on ". ").
fn corpus_sentences() -> Vec<String> {
    let dir = repo_root().join("eval/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for f in files {
        for line in std::fs::read_to_string(f).unwrap().lines() {
            for s in line.split(". ") {
                let s = s.trim();
                if !s.is_empty() && seen.insert(s.to_string()) {
                    out.push(s.to_string());
                }
            }
        }
    }
    out
}

#[test]
#[ignore = "timing; run explicitly in release"]
fn throughput() {
    let sentences = corpus_sentences();
    let texts: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let batch = 32;
    let threads = std::env::var("RAYON_NUM_THREADS").ok().unwrap_or_else(|| {
        format!(
            "default ({} cores)",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        )
    });
    let mut encoders = Vec::new();
    for alias in ["minilm", "mpnet"] {
        let manifest = Manifest::builtin(alias).unwrap();
        let dir = provision::ensure(&manifest, &FetchOptions::default()).unwrap();
        let bytes: u64 = manifest.files.iter().map(|f| f.size).sum();
        let times: Vec<f64> = (0..3)
            .map(|_| {
                let t = Instant::now();
                provision::verify(&manifest, &dir).unwrap();
                t.elapsed().as_secs_f64()
            })
            .collect();
        eprintln!(
            "{}: verify (sha256 of all files, {} MB): median {:.3} s over 3",
            manifest.name,
            bytes / 1_000_000,
            median(times)
        );
        let enc = embed::load(
            &dir,
            EncoderOptions {
                batch_size: batch,
                ..EncoderOptions::default()
            },
        )
        .unwrap();
        enc.encode(&texts[..batch.min(texts.len())]).unwrap(); // warm-up
        encoders.push((enc, Vec::new()));
    }
    // The encoders take turns, so a change in the machine's load while the
    // test runs weighs on both alike.
    for _ in 0..3 {
        for (enc, times) in &mut encoders {
            let t = Instant::now();
            enc.encode(&texts).unwrap();
            times.push(t.elapsed().as_secs_f64());
        }
    }
    for (enc, times) in encoders {
        let med = median(times.clone());
        eprintln!(
            "{}: encode {} sentences, batch {batch}, threads {threads}: times {:?} s, median {:.3} s, {:.1} sentences/s",
            enc.name(),
            texts.len(),
            times.iter().map(|t| format!("{t:.3}")).collect::<Vec<_>>(),
            med,
            texts.len() as f64 / med
        );
    }
}
