//! Trained heads are checked before use: a damaged or mismatched head file
//! is refused with its path and the expected and found values, never
//! applied. The head is trained by `stance train` on the real encoder
//! (fetched the way the product fetches it), then damaged in each way.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn stance(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stance"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the stance binary runs")
}

fn train_head(dir: &Path) -> PathBuf {
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
    let train = dir.join("train.jsonl");
    fs::write(&train, lines.join("\n") + "\n").unwrap();
    let head = dir.join("head.json");
    let out = stance(&[
        "train",
        "--gold",
        train.to_str().unwrap(),
        "--out",
        head.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    head
}

/// `stance score` on one article with the head file as classifier.
fn score_with(head: &Path) -> Output {
    stance(&[
        "score",
        "eval/corpus/002_164b338d48ad01ba.txt",
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
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
