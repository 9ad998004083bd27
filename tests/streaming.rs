//! Batch scoring at scale: JSONL on stdin streams out in input order with
//! memory that does not grow with the input, `--resume` carries on an
//! interrupted output to the same bytes as an uninterrupted run, and the
//! `--shard I/N` outputs together are the single run. (Peak memory is
//! measured in `tests/memory.rs`, a test binary of its own.)
//!
//! These runs use the `keyword` classifier: it reads no embeddings, so
//! `stance score` does not load the encoder at all (`needs_encoder` in
//! `src/cli/score.rs`) and thousands of full-length articles are scored in
//! seconds. Every other stage (reading, splitting, boilerplate, attribution,
//! writing) runs as with the default classifier; the encoder's own memory is
//! fixed (the model) plus one window's batches, and is measured by the
//! encoder benchmark, not here.

mod common;

use common::{assert_success, jsonl, write_articles};
use serde_json::Value;
use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn stance() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stance"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

/// `stance score` with the keyword classifier, two threads, no progress bar.
fn score(args: &[&str]) -> Command {
    let mut cmd = stance();
    cmd.args([
        "score",
        "--classifier",
        "keyword",
        "--threads",
        "2",
        "--quiet",
    ])
    .args(args);
    cmd
}

fn run_with_stdin(mut cmd: Command, input: &Path) -> Output {
    cmd.stdin(fs::File::open(input).unwrap())
        .output()
        .expect("the stance binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The documented order for merged shard outputs: by doc id, then idx.
fn sorted_lines(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let mut lines: Vec<(String, u64, String)> = text
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["doc"].as_str().unwrap().to_string(),
                v["idx"].as_u64().unwrap(),
                l.to_string(),
            )
        })
        .collect();
    lines.sort();
    lines.into_iter().map(|(_, _, l)| l).collect()
}

/// Distinct doc ids in order of first appearance.
fn docs_in_order(records: &[Value]) -> Vec<String> {
    let mut docs: Vec<String> = Vec::new();
    for r in records {
        let doc = r["doc"].as_str().unwrap();
        if docs.last().map(String::as_str) != Some(doc) {
            docs.push(doc.to_string());
        }
    }
    docs
}

#[test]
fn stdin_streams_in_input_order_and_bad_records_are_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    write_articles(&input, 12, &[4, 9]);
    // A window of 5 articles: the output is written in three windows.
    let out = run_with_stdin(score(&["-", "--window", "5"]), &input);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("error: -:4: malformed JSONL record"), "{err}");
    assert!(err.contains("error: -:9: malformed JSONL record"), "{err}");
    assert!(err.contains("2 input(s) failed"), "{err}");
    let expected: Vec<String> = (0..12)
        .filter(|i| ![3, 8].contains(i))
        .map(|i| format!("a{i:06}"))
        .collect();
    assert_eq!(docs_in_order(&jsonl(&out.stdout)), expected);

    // The same records as reading the file at once, whatever the window.
    let whole = score(&[input.to_str().unwrap(), "--window", "64"])
        .output()
        .unwrap();
    assert_eq!(whole.stdout, out.stdout);
}

/// Cuts an uninterrupted output at many places, as a crash would (inside a
/// line, at a line end, between articles, inside an article), and resumes
/// each: the file always ends equal to the uninterrupted output.
#[test]
fn resume_completes_any_prefix_to_the_uninterrupted_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    write_articles(&input, 7, &[]);
    let full_path = dir.path().join("full.jsonl");
    let out = score(&[
        input.to_str().unwrap(),
        "--out",
        full_path.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert_success(&out);
    let full = fs::read(&full_path).unwrap();
    let line_ends: Vec<usize> = (0..full.len()).filter(|&i| full[i] == b'\n').collect();
    let mut cuts = vec![0, 1, full.len() - 1, full.len()];
    for k in [0, 1, 2, 40, 41, line_ends.len() / 2] {
        cuts.push(line_ends[k] + 1); // at a line end
        cuts.push(line_ends[k] + 10); // inside the next line
    }
    let partial = dir.path().join("partial.jsonl");
    for cut in cuts {
        fs::write(&partial, &full[..cut]).unwrap();
        let out = score(&[
            input.to_str().unwrap(),
            "--out",
            partial.to_str().unwrap(),
            "--resume",
        ])
        .output()
        .unwrap();
        assert!(out.status.success(), "cut at {cut}: {}", stderr(&out));
        assert!(
            fs::read(&partial).unwrap() == full,
            "cut at byte {cut}: the resumed file differs from the uninterrupted output"
        );
    }
}

/// A real run is killed (SIGKILL) in the middle, once its output file has
/// some lines, and resumed: the file then equals an uninterrupted run's.
#[test]
fn resume_after_kill_9_gives_the_uninterrupted_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    write_articles(&input, 1_500, &[]);
    let input = input.to_str().unwrap();

    let full_path = dir.path().join("full.jsonl");
    let out = score(&[input, "--out", full_path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_success(&out);
    let full = fs::read(&full_path).unwrap();

    let out_path = dir.path().join("out.jsonl");
    let args = [input, "--out", out_path.to_str().unwrap(), "--resume"];
    let mut child = score(&args).stderr(Stdio::null()).spawn().unwrap();
    let started = Instant::now();
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before its output had any line: nothing to interrupt"
        );
        let written = fs::read(&out_path).unwrap_or_default();
        if written.iter().filter(|&&b| b == b'\n').count() >= 10 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "no output");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let interrupted = fs::read(&out_path).unwrap();
    assert!(
        interrupted.len() < full.len() && full.starts_with(&interrupted),
        "killed in the middle: {} of {} bytes, a prefix of the full output",
        interrupted.len(),
        full.len()
    );

    let out = score(&args).output().unwrap();
    assert_success(&out);
    assert!(stderr(&out).is_empty() || stderr(&out).contains("resuming"));
    assert!(
        fs::read(&out_path).unwrap() == full,
        "the resumed output differs from the uninterrupted one"
    );
}

#[test]
fn resume_refuses_another_input_and_leaves_the_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
    write_articles(&a, 4, &[]);
    // The same articles under other ids.
    let other = fs::read_to_string(&a).unwrap().replace("\"a0", "\"b0");
    fs::write(&b, other).unwrap();
    let out_path = dir.path().join("out.jsonl");
    let out = score(&[a.to_str().unwrap(), "--out", out_path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_success(&out);
    let before = fs::read(&out_path).unwrap();
    let out = score(&[
        b.to_str().unwrap(),
        "--out",
        out_path.to_str().unwrap(),
        "--resume",
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("\"a000002\" is not in this input"),
        "{}",
        stderr(&out)
    );
    assert_eq!(fs::read(&out_path).unwrap(), before);

    // --resume needs a file to carry on, in JSONL.
    let out = score(&[a.to_str().unwrap(), "--resume"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--out"), "{}", stderr(&out));
    let out = score(&[
        a.to_str().unwrap(),
        "--out",
        out_path.to_str().unwrap(),
        "--resume",
        "--format",
        "csv",
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("JSONL"), "{}", stderr(&out));
}

/// The shards' outputs together, sorted by (doc, idx), are the single run
/// sorted the same way; each shard keeps input order; each bad record is
/// reported by exactly one shard.
#[test]
fn shards_together_equal_the_single_run() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    write_articles(&input, 23, &[5, 6, 17]);
    let single = run_with_stdin(score(&["-"]), &input);
    assert_eq!(single.status.code(), Some(1));
    let single_docs = docs_in_order(&jsonl(&single.stdout));

    let shards = 3;
    let mut merged = Vec::new();
    let mut reported = Vec::new();
    for i in 0..shards {
        let shard = format!("{i}/{shards}");
        let out = run_with_stdin(score(&["-", "--shard", &shard]), &input);
        let docs = docs_in_order(&jsonl(&out.stdout));
        assert!(!docs.is_empty(), "shard {shard} scored nothing");
        // In input order: a subsequence of the single run's documents.
        let mut rest = single_docs.iter();
        assert!(
            docs.iter().all(|d| rest.any(|s| s == d)),
            "shard {shard} out of input order: {docs:?}"
        );
        merged.extend_from_slice(&out.stdout);
        reported.extend(
            stderr(&out)
                .lines()
                .filter(|l| l.starts_with("error: -:"))
                .map(str::to_string),
        );
    }
    assert_eq!(sorted_lines(&merged), sorted_lines(&single.stdout));
    reported.sort();
    let mut expected: Vec<String> = stderr(&single)
        .lines()
        .filter(|l| l.starts_with("error: -:"))
        .map(str::to_string)
        .collect();
    expected.sort();
    assert_eq!(reported, expected);
    assert_eq!(expected.len(), 3);

    let out = score(&["-", "--shard", "3/3"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("numbered 0 to 2"), "{}", stderr(&out));
}
