//! The head shipped in `models/heads/` (the default classifier of `stance
//! score`) is what its documented command trains today, and `stance score`
//! uses it by default.

mod common;
use common::*;

#[test]
fn the_shipped_head_is_what_its_command_trains() {
    let tmp = tempfile::tempdir().unwrap();
    let fresh = tmp.path().join("head.json");
    // The command in models/heads/README.md.
    assert_success(&stance(&[
        "train",
        "--classifier",
        "linear+context+cues",
        "--gold",
        "labels/gold.jsonl",
        "labels/train/synthetic-en-news.jsonl",
        "--quiet",
        "--out",
        fresh.to_str().unwrap(),
    ]));
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/heads/linear-minilm.json"),
    )
    .unwrap();
    assert!(
        std::fs::read_to_string(&fresh).unwrap() == shipped,
        "models/heads/linear-minilm.json is stale: retrain it with the command in \
         models/heads/README.md"
    );
}

#[test]
fn score_uses_the_shipped_head_by_default() {
    let run = |extra: &[&str]| -> String {
        let mut args = vec!["score", "eval/corpus", "--format", "jsonl", "--quiet"];
        args.extend_from_slice(extra);
        let out = stance(&args);
        assert_success(&out);
        String::from_utf8(out.stdout).unwrap()
    };
    let default = run(&[]);
    assert_eq!(
        default,
        run(&["--classifier", "models/heads/linear-minilm.json"]),
        "the default is the shipped head"
    );
    assert_ne!(default, run(&["--classifier", "zero-shot"]));
    // On another encoder the shipped head is refused, saying what to do.
    let out = stance(&["score", "eval/corpus", "--encoder", "mpnet", "--quiet"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("all-MiniLM-L6-v2") && stderr.contains("stance train"),
        "{stderr}"
    );
}
