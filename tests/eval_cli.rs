//! `stance eval` end to end on the bundled gold set. The zero-shot test
//! fetches the model the way the product does (first use).

mod common;
use common::*;

use std::fs;

#[test]
fn keyword_and_majority_floors_on_the_gold_set() {
    let out = stance(&[
        "eval",
        "--classifier",
        "keyword",
        "--format",
        "json",
        "--quiet",
    ]);
    assert_success(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["gold_sentences"], 263);
    assert_eq!(report["gold_docs"], 5);
    let keyword = &report["classifiers"][0];
    assert_eq!(keyword["setting"], "no-training");
    let f1 = keyword["macro_f1"].as_f64().unwrap();
    let (lo, hi) = (
        keyword["macro_f1_ci"][0].as_f64().unwrap(),
        keyword["macro_f1_ci"][1].as_f64().unwrap(),
    );
    assert!(lo <= f1 && f1 <= hi, "{lo} {f1} {hi}");
    assert_eq!(keyword["per_doc"].as_array().unwrap().len(), 5);
    assert!(keyword["boundaries"]["f1"].as_f64().unwrap() > 0.95);

    let out = stance(&[
        "eval",
        "--classifier",
        "majority",
        "--format",
        "md",
        "--quiet",
    ]);
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.contains("| majority | leave-one-document-out |"), "{md}");
    let out = stance(&[
        "eval",
        "--classifier",
        "majority",
        "--cv",
        "none",
        "--format",
        "md",
        "--quiet",
    ]);
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.contains("TRAINING-SET accuracy (optimistic)"), "{md}");
}

#[test]
fn a_predictions_file_from_another_splitter_is_scored_against_gold() {
    // Predictions that cut each gold document into halves, all neutral: the
    // alignment still gives every gold sentence a label, and the boundary
    // scores show the splitter disagrees.
    let gold =
        fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/labels/gold.jsonl")).unwrap();
    let mut ends: std::collections::BTreeMap<String, u64> = Default::default();
    for line in gold.lines() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        let e = ends
            .entry(r["doc"].as_str().unwrap().to_string())
            .or_default();
        *e = (*e).max(r["end"].as_u64().unwrap());
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("halves.jsonl");
    let mut lines = String::new();
    for (doc, end) in &ends {
        let mid = end / 2;
        lines +=
            &format!("{{\"doc\":\"{doc}\",\"start\":0,\"end\":{mid},\"stance\":\"neutral\"}}\n");
        lines += &format!("{{\"doc\":\"{doc}\",\"start\":{mid},\"end\":{end},\"stance\":\"neutral\",\"extra\":1}}\n");
    }
    fs::write(&path, lines).unwrap();
    let out = stance(&[
        "eval",
        "--predictions",
        path.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_success(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = &report["classifiers"][0];
    assert_eq!(c["setting"], "predictions-file");
    assert_eq!(c["uncovered"], 0);
    assert!((c["accuracy"].as_f64().unwrap() - 166.0 / 263.0).abs() < 1e-9);
    assert!(c["boundaries"]["recall"].as_f64().unwrap() < 0.05);
}

#[test]
fn html_report_has_charts_and_errors_in_context_and_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.html");
    let run = || {
        let out = stance(&[
            "eval",
            "--classifier",
            "keyword",
            "--format",
            "html",
            "--out",
            path.to_str().unwrap(),
        ]);
        assert_success(&out);
        fs::read_to_string(&path).unwrap()
    };
    let html = run();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("aria-label=\"confusion matrix\""));
    assert!(html.contains("aria-label=\"per-class scores\""));
    assert!(html.contains("<mark>"), "errors are shown in context");
    assert_eq!(html, run(), "same input, same report");
}

#[test]
fn a_gold_file_with_bad_records_is_refused_with_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gold.jsonl");
    let gold =
        fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/labels/gold.jsonl")).unwrap();
    let first = gold
        .lines()
        .next()
        .unwrap()
        .replace("\"stance\": \"", "\"stance\": \"x");
    fs::write(&path, format!("{first}\n")).unwrap();
    let out = stance(&[
        "eval",
        "--gold",
        path.to_str().unwrap(),
        "--classifier",
        "keyword",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:1:", path.display())),
        "{stderr}"
    );
    assert!(stderr.contains("refused"), "{stderr}");
}

#[test]
fn all_puts_the_zero_shot_classifier_beside_the_floors() {
    // SetFit at its small CI setting (see `SetFitConfig::ci`), on MiniLM:
    // SetFit fine-tunes BERT encoders only.
    let out = stance(&[
        "eval",
        "--encoder",
        "minilm",
        "--classifier",
        "all",
        "--setfit-config",
        "ci",
        "--format",
        "md",
        "--quiet",
    ]);
    assert_success(&out);
    let md = String::from_utf8(out.stdout).unwrap();
    for row in [
        "| zero-shot | no training |",
        "| keyword | no training |",
        "| majority | leave-one-document-out |",
        "| linear | leave-one-document-out |",
        "| setfit | leave-one-document-out |",
    ] {
        assert!(md.contains(row), "{row} missing:\n{md}");
    }
    assert!(md.contains("263 sentences in 5 documents"));
}

#[test]
fn attribution_is_scored_on_the_gold_claims() {
    let out = stance(&[
        "eval",
        "--classifier",
        "keyword",
        "--format",
        "json",
        "--quiet",
    ]);
    assert_success(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let a = &report["attribution"];
    assert_eq!(a["scores"]["clause_classifier"], "keyword");
    // 101 gold sentences carry claims (labels/gold.jsonl).
    assert_eq!(a["scores"]["sentences"], 101);
    let acc = a["scores"]["holder_accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc));
    let errors = a["scores"]["errors"].as_array().unwrap().len();
    assert_eq!(((1.0 - acc) * 101.0).round() as usize, errors);
    assert_eq!(a["scores"]["per_holder"]["france"]["support"], 23);
    // Gold net for France: (9 − 14) / 23.
    let gold = a["gold_net"]["france"].as_f64().unwrap();
    assert!((gold - (9.0 - 14.0) / 23.0).abs() < 1e-9);
    let stances: Vec<&str> = a["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["stances"].as_str().unwrap())
        .collect();
    assert_eq!(stances, ["gold stances", "keyword stances"]);
}
