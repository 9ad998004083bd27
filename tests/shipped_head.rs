//! The heads shipped in `models/heads/` (`--classifier linear`, one per
//! encoder; the EmbeddingGemma one is `stance score`'s default classifier) are what
//! their documented commands train today, and `stance score` uses the one for
//! its encoder by default.

mod common;
use common::*;

/// Retrains a shipped head with the command in models/heads/README.md
/// (`training`: the files after `--gold`) and compares bytes.
fn assert_retrains(encoder: &str, training: &[&str], shipped: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let fresh = tmp.path().join("head.json");
    let mut args = vec![
        "train",
        "--encoder",
        encoder,
        "--classifier",
        "linear+context+cues",
        "--gold",
    ];
    args.extend_from_slice(training);
    args.extend_from_slice(&["--quiet", "--out", fresh.to_str().unwrap()]);
    assert_success(&stance(&args));
    let want =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(shipped))
            .unwrap();
    assert!(
        std::fs::read_to_string(&fresh).unwrap() == want,
        "{shipped} is stale: retrain it with the command in models/heads/README.md"
    );
}

/// The training files of every shipped head.
const BILINGUAL_TRAINING: &[&str] = &[
    "labels/gold.jsonl",
    "labels/gold-fr.jsonl",
    "labels/train/synthetic-en-news.jsonl",
    "labels/train/articles-b1.jsonl",
    "labels/train/articles-b2.jsonl",
    "labels/train/articles-b3.jsonl",
    "labels/train/articles-b4.jsonl",
    "labels/train/articles-b5.jsonl",
];

#[test]
fn the_shipped_gemma_head_is_what_its_command_trains() {
    assert_retrains(
        "gemma",
        BILINGUAL_TRAINING,
        "models/heads/linear-gemma.json",
    );
}

#[test]
fn the_shipped_minilm_head_is_what_its_command_trains() {
    assert_retrains(
        "minilm",
        BILINGUAL_TRAINING,
        "models/heads/linear-minilm.json",
    );
}

#[test]
fn the_shipped_mpnet_head_is_what_its_command_trains() {
    assert_retrains(
        "mpnet",
        BILINGUAL_TRAINING,
        "models/heads/linear-mpnet.json",
    );
}

fn score(extra: &[&str]) -> String {
    let mut args = vec!["score", "eval/corpus", "--format", "jsonl", "--quiet"];
    args.extend_from_slice(extra);
    let out = stance(&args);
    assert_success(&out);
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn score_uses_the_shipped_head_by_default() {
    let default = score(&[]);
    assert_eq!(
        default,
        score(&[
            "--encoder",
            "gemma",
            "--classifier",
            "models/heads/linear-gemma.json"
        ]),
        "the default is EmbeddingGemma with its shipped head"
    );
    assert_ne!(default, score(&["--classifier", "zero-shot"]));
}

#[test]
fn each_encoder_gets_its_own_shipped_head() {
    assert_eq!(
        score(&["--encoder", "minilm"]),
        score(&[
            "--encoder",
            "minilm",
            "--classifier",
            "models/heads/linear-minilm.json"
        ]),
        "--encoder minilm uses the shipped MiniLM head"
    );
    assert_eq!(
        score(&["--encoder", "mpnet"]),
        score(&[
            "--encoder",
            "mpnet",
            "--classifier",
            "models/heads/linear-mpnet.json"
        ]),
        "--encoder mpnet uses the shipped MPNet head"
    );
    // A head is refused on the encoder it was not trained on, saying which.
    let out = stance(&[
        "score",
        "eval/corpus",
        "--encoder",
        "mpnet",
        "--classifier",
        "models/heads/linear-minilm.json",
        "--quiet",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("all-MiniLM-L6-v2") && stderr.contains("all-mpnet-base-v2"),
        "{stderr}"
    );
}
