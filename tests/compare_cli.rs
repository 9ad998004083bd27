//! `stance compare` end to end: the contract's JSON shape, the gold table
//! beside the predicted one, grouping by year, and a refused gazetteer.
//! Uses the keyword classifier and the gold set, so no model is needed.

mod common;
use common::*;

use std::process::Output;

fn json(out: &Output) -> serde_json::Value {
    assert_success(out);
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

const HOLDERS: [&str; 8] = [
    "france",
    "mali",
    "jihadists",
    "tuareg",
    "malian-society",
    "analyst",
    "author",
    "other",
];

#[test]
fn gold_comparison_has_the_contract_shape_and_hand_checked_counts() {
    let v = json(&stance(&["compare", "--gold", "labels/gold.jsonl"]));
    assert_eq!(v["source"], "gold");
    let actors = v["actors"].as_object().unwrap();
    for h in HOLDERS {
        let a = &actors[h];
        for key in ["pro", "anti", "neutral", "net", "ci"] {
            assert!(a.get(key).is_some(), "{h}.{key} missing: {a}");
        }
    }
    // From labels/gold.jsonl: France holds 9 pro and 14 anti claims, in 23
    // sentences; Mali 25 pro, 2 anti.
    let france = &actors["france"];
    assert_eq!(
        (france["pro"].as_u64(), france["anti"].as_u64()),
        (Some(9), Some(14))
    );
    let net = france["net"].as_f64().unwrap();
    assert!((net - (9.0 - 14.0) / 23.0).abs() < 1e-9, "{net}");
    let ci = france["ci"].as_array().unwrap();
    let (lo, hi) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
    assert!(lo <= net && net <= hi, "{lo} {net} {hi}");
    assert_eq!(actors["mali"]["pro"], 25);
    assert_eq!(actors["mali"]["anti"], 2);
    assert!(!france["evidence"].as_array().unwrap().is_empty());
    // Deterministic: the same bytes twice.
    assert_eq!(
        stance(&["compare", "--gold", "labels/gold.jsonl"]).stdout,
        stance(&["compare", "--gold", "labels/gold.jsonl"]).stdout
    );
}

#[test]
fn predicted_beside_gold_by_year_in_every_format() {
    let v = json(&stance(&[
        "compare",
        "eval/corpus",
        "--classifier",
        "keyword",
        "--gold",
        "labels/gold.jsonl",
        "--by",
        "year",
        "--quiet",
    ]));
    assert_eq!(v["source"], "predicted");
    assert_eq!(v["classifier"], "keyword");
    assert!(v["gold"]["actors"]["france"]["net"].is_number());
    assert!(v["error"].get("mali").is_some());
    let keys: Vec<&str> = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["2013", "2020", "2021", "2022"]);
    for format in ["md", "html"] {
        let out = stance(&[
            "compare",
            "eval/corpus",
            "--classifier",
            "keyword",
            "--gold",
            "labels/gold.jsonl",
            "--by",
            "year",
            "--format",
            format,
            "--quiet",
        ]);
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("france"), "{format}");
        if format == "html" {
            assert_eq!(text.matches("<svg").count(), 2, "two charts");
        }
    }
}

#[test]
fn predictions_file_from_score_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("scored.jsonl");
    let out = stance(&[
        "score",
        "eval/corpus",
        "--classifier",
        "keyword",
        "--format",
        "jsonl",
        "--out",
        records.to_str().unwrap(),
        "--quiet",
    ]);
    assert_success(&out);
    let text = std::fs::read_to_string(&records).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    for key in ["holder", "target", "mixed", "claims"] {
        assert!(first.get(key).is_some(), "{key} missing: {first}");
    }
    let v = json(&stance(&[
        "compare",
        "--predictions",
        records.to_str().unwrap(),
        "--by",
        "doc",
    ]));
    assert_eq!(v["groups"].as_array().unwrap().len(), 5);

    // Records without claims are refused, saying what to do.
    let bare = dir.path().join("bare.jsonl");
    std::fs::write(
        &bare,
        "{\"doc\":\"d\",\"start\":0,\"end\":3,\"stance\":\"neutral\"}\n",
    )
    .unwrap();
    let out = stance(&["compare", "--predictions", bare.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("stance score"));

    // A bad gazetteer is refused with its line.
    let actors = dir.path().join("actors.toml");
    std::fs::write(
        &actors,
        "[holders.france]\npeople = [\"Macron\"]\n\n[holders.paris]\nbodies = []\n",
    )
    .unwrap();
    let out = stance(&[
        "compare",
        "eval/corpus",
        "--classifier",
        "keyword",
        "--actors",
        actors.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("actors.toml:"), "{err}");

    // Nothing to compare.
    assert!(!stance(&["compare"]).status.success());
}
