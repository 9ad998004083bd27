//! Trained heads are checked before use: a damaged or mismatched head file
//! is refused with its path and the expected and found values, never
//! applied. The head is trained by `stance train` on the real encoder
//! (fetched the way the product fetches it), then damaged in each way. MiniLM,
//! the fastest encoder, serves: the checks are the same for every encoder.

mod common;
use common::*;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

fn train_head(dir: &Path) -> PathBuf {
    let train = training_file(dir);
    let head = dir.join("head.json");
    let out = stance(&[
        "train",
        "--encoder",
        "minilm",
        "--gold",
        train.to_str().unwrap(),
        "--out",
        head.to_str().unwrap(),
        "--quiet",
    ]);
    assert_success(&out);
    head
}

/// `stance score` on one article with the head file as classifier.
fn score_with(head: &Path) -> Output {
    stance(&[
        "score",
        "eval/corpus/002_164b338d48ad01ba.txt",
        "--encoder",
        "minilm",
        "--classifier",
        head.to_str().unwrap(),
        "--format",
        "jsonl",
        "--quiet",
    ])
}

/// The head rewritten by `edit`, saved beside it as `name`.
fn variant(head: &Path, name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let mut json: serde_json::Value = serde_json::from_slice(&fs::read(head).unwrap()).unwrap();
    edit(&mut json);
    let path = head.with_file_name(name);
    fs::write(&path, json.to_string()).unwrap();
    path
}

fn refused(head: &Path, expected: &[&str]) {
    let out = score_with(head);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing is scored with a bad head");
    assert!(
        stderr.contains(&format!("error: {}: ", head.display())),
        "the error names the file: {stderr}"
    );
    for e in expected {
        assert!(stderr.contains(e), "expected {e:?} in: {stderr}");
    }
}

#[test]
fn damaged_or_mismatched_heads_are_refused_naming_the_file_and_values() {
    let tmp = tempfile::tempdir().unwrap();
    let head = train_head(tmp.path());

    // The intact head scores.
    let out = score_with(&head);
    assert_success(&out);
    assert!(!out.stdout.is_empty());

    let bytes = fs::read(&head).unwrap();
    let truncated = tmp.path().join("truncated.json");
    fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    refused(
        &truncated,
        &[&format!(
            "truncated linear head: the JSON ends after {} bytes",
            bytes.len() / 2
        )],
    );

    let narrow = variant(&head, "narrow.json", |j| {
        for row in j["weights"].as_array_mut().unwrap() {
            row.as_array_mut().unwrap().pop();
        }
    });
    refused(
        &narrow,
        &["head has 383 weights per label, expected 384 for \"all-MiniLM-L6-v2\" (384-dimensional embeddings)"],
    );

    let reordered = variant(&head, "reordered.json", |j| {
        j["labels"] = serde_json::json!(["neutral", "pro-dialogue", "anti-dialogue"]);
    });
    refused(
        &reordered,
        &[
            "bad linear head: label set [\"neutral\", \"pro-dialogue\", \"anti-dialogue\"], expected [\"pro-dialogue\", \"anti-dialogue\", \"neutral\"]",
        ],
    );

    let unknown = variant(&head, "unknown_label.json", |j| {
        j["labels"] = serde_json::json!(["pro-dialogue", "anti-dialogue", "none"]);
    });
    refused(&unknown, &["not a linear head: unknown variant `none`"]);

    let two_rows = variant(&head, "two_rows.json", |j| {
        j["weights"].as_array_mut().unwrap().pop();
    });
    refused(
        &two_rows,
        &["expected 3 rows of weights and 3 biases, found 2 and 3"],
    );

    let other_encoder = variant(&head, "other_encoder.json", |j| {
        j["encoder"] = serde_json::json!("all-mpnet-base-v2");
    });
    refused(
        &other_encoder,
        &["head trained on encoder \"all-mpnet-base-v2\", but encoder \"all-MiniLM-L6-v2\" is loaded"],
    );
}
