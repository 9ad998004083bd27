//! The command line as a user meets it: the contract's records, bad input
//! reported with file and line while the rest is scored, and `--offline`.
//! Tests that score fetch the model the way the product does (first use).

mod common;
use common::*;

use std::fs;
use std::path::Path;
use std::process::Command;

#[test]
fn split_writes_the_contract_records_for_the_corpus() {
    let out = stance(&["split", "eval/corpus"]);
    assert_success(&out);
    let records = jsonl(&out.stdout);
    assert!(records.len() > 200, "{}", records.len());
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("eval/corpus");
    for r in &records {
        for key in ["doc", "idx", "start", "end", "text", "boilerplate"] {
            assert!(r.get(key).is_some(), "{key} missing in {r}");
        }
        let text =
            fs::read_to_string(corpus.join(format!("{}.txt", r["doc"].as_str().unwrap()))).unwrap();
        let (start, end) = (
            r["start"].as_u64().unwrap() as usize,
            r["end"].as_u64().unwrap() as usize,
        );
        let span: String = text.chars().skip(start).take(end - start).collect();
        assert_eq!(
            span,
            r["text"].as_str().unwrap(),
            "spans are code points into the raw text"
        );
    }
    let flagged: Vec<&str> = records
        .iter()
        .filter(|r| r["boilerplate"] == true)
        .map(|r| r["text"].as_str().unwrap())
        .collect();
    assert!(flagged.contains(&"JOE PENNEY / Reuters"), "{flagged:?}");
    assert!(
        flagged.contains(&"Download the France 24 application"),
        "{flagged:?}"
    );
}

#[test]
fn score_reports_bad_articles_with_file_and_line_and_scores_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("a.txt"),
        "Bamako wants talks with the jihadists. Paris refuses.",
    )
    .unwrap();
    fs::write(dir.path().join("b.txt"), b"Caf\xe9 au lait.").unwrap();
    fs::write(dir.path().join("c.txt"), "").unwrap();
    fs::write(
        dir.path().join("d.jsonl"),
        "{\"id\":\"d1\",\"text\":\"A ceasefire was signed.\"}\n{not json}\n",
    )
    .unwrap();
    let out = stance(&[
        "score",
        dir.path().to_str().unwrap(),
        "--format",
        "jsonl",
        "--quiet",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "some input failed: {stderr}");
    assert!(stderr.contains("b.txt:1: invalid UTF-8"), "{stderr}");
    assert!(stderr.contains("c.txt: empty article"), "{stderr}");
    assert!(stderr.contains("d.jsonl:2: malformed JSONL"), "{stderr}");
    let records = jsonl(&out.stdout);
    let docs: Vec<&str> = records.iter().map(|r| r["doc"].as_str().unwrap()).collect();
    assert_eq!(docs, ["a", "a", "d1"]);
    for r in &records {
        let scores = &r["scores"];
        let sum: f64 = ["pro-dialogue", "anti-dialogue", "neutral"]
            .iter()
            .map(|k| scores[k].as_f64().unwrap())
            .sum();
        assert!((sum - 1.0).abs() < 1e-3, "{r}");
        assert!(
            ["pro-dialogue", "anti-dialogue", "neutral"].contains(&r["stance"].as_str().unwrap())
        );
    }
}

#[test]
fn score_reads_jsonl_on_stdin_and_is_deterministic() {
    use std::io::Write;
    let run = || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stance"))
            .args(["score", "-", "--format", "csv", "--quiet"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(
                b"{\"id\":\"s1\",\"text\":\"No dialogue, no compromise. The army attacked.\"}\n",
            )
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let (first, second) = (run(), run());
    assert!(first.status.success());
    assert_eq!(first.stdout, second.stdout, "same input, same bytes");
    let text = String::from_utf8(first.stdout).unwrap();
    assert_eq!(text.lines().count(), 3, "header and two sentences: {text}");
    assert!(text.starts_with("doc,idx,start,end,boilerplate,stance,"));
}

#[test]
fn offline_without_a_cached_model_says_what_to_run() {
    let cache = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stance"))
        .args(["score", "eval/corpus", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("STANCE_CACHE_DIR", cache.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("stance models fetch gemma"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn out_file_appears_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sentences.jsonl");
    let out = stance(&[
        "split",
        "eval/corpus/002_164b338d48ad01ba.txt",
        "--out",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    let records = jsonl(&fs::read(&path).unwrap());
    assert!(!records.is_empty());
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary file left"
    );
}
