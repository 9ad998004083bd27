//! What the integration tests share: running the built binary from the
//! repository root, reading its JSONL, a tiny training set, the readers,
//! and large inputs made from the corpus for the scale tests.
//!
//! Each test file is its own crate and uses only some of these, so unused
//! ones are not warnings here.
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use stance::corpus::{Article, ArticleReader, InputError};

/// Runs `stance ARGS...` from the repository root and waits for it.
pub fn stance(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stance"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the stance binary runs")
}

/// Fails the test with the command's stderr unless it exited 0.
pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One JSON value per line of a JSONL output.
pub fn jsonl(out: &[u8]) -> Vec<serde_json::Value> {
    std::str::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

/// The bundled articles.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("eval/corpus")
}

/// The bundled corpus articles' texts, in file order.
pub fn corpus_texts() -> Vec<String> {
    let mut paths: Vec<PathBuf> = fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| fs::read_to_string(p).unwrap())
        .collect()
}

/// Writes `n` JSONL articles cycling through the corpus under new ids
/// (`a000000`, …); the 1-based `bad_lines` hold malformed records instead.
pub fn write_articles(path: &Path, n: usize, bad_lines: &[usize]) {
    let texts = corpus_texts();
    let mut out = std::io::BufWriter::new(fs::File::create(path).unwrap());
    for i in 0..n {
        if bad_lines.contains(&(i + 1)) {
            writeln!(out, "{{\"id\": \"broken{i}\", \"text\": ").unwrap();
        } else {
            let record =
                serde_json::json!({"id": format!("a{i:06}"), "text": texts[i % texts.len()]});
            writeln!(out, "{record}").unwrap();
        }
    }
    out.flush().unwrap();
}

/// Every article the readers give for `paths`, and every refusal.
pub fn read(paths: &[PathBuf]) -> (Vec<Article>, Vec<InputError>) {
    let (mut ok, mut bad) = (Vec::new(), Vec::new());
    for item in ArticleReader::new(paths) {
        match item {
            Ok(a) => ok.push(a),
            Err(e) => bad.push(e),
        }
    }
    (ok, bad)
}

/// A small labelled set in the training-set format (`dir/train.jsonl`), two
/// groups per label so grouped cross-validation has folds to choose from.
pub fn training_file(dir: &Path) -> PathBuf {
    let rows = [
        (
            "a",
            "pro-dialogue",
            "The government must open talks with the armed groups.",
        ),
        (
            "b",
            "pro-dialogue",
            "Negotiating with the rebels is the only road to peace.",
        ),
        (
            "a",
            "anti-dialogue",
            "There will be no negotiation with terrorists.",
        ),
        (
            "b",
            "anti-dialogue",
            "The minister ruled out any dialogue with the jihadists.",
        ),
        ("a", "neutral", "Soldiers patrolled the market on Tuesday."),
        ("b", "neutral", "The rainy season began late this year."),
    ];
    let lines: Vec<String> = rows
        .iter()
        .map(|(doc, stance, text)| {
            serde_json::json!({"doc": doc, "stance": stance, "text": text}).to_string()
        })
        .collect();
    let path = dir.join("train.jsonl");
    fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}
