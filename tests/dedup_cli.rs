//! Near-duplicate stories and speakers, end to end, on fixtures written for
//! this test (`tests/data/dedup/`): one wire dispatch in four copies (the
//! original, a retitled one, a trimmed one, a re-paragraphed one with a
//! paragraph added), a different story of the same day and outlet, and a
//! later story. Keyword classifier: no model needed.

mod common;
use common::*;

use std::collections::BTreeMap;

const DIR: &str = "tests/data/dedup";
const WIRE: [&str; 4] = [
    "wire-afp",
    "wire-reparagraphed",
    "wire-retitled",
    "wire-trimmed",
];

fn compare(extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "compare",
        DIR,
        "--classifier",
        "keyword",
        "--corpus",
        DIR,
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let out = stance(&args);
    assert_success(&out);
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

/// Each actor's pro, anti, net and interval.
fn figures(v: &serde_json::Value) -> BTreeMap<String, String> {
    v["actors"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(h, a)| {
            (
                h.clone(),
                format!("{} {} {} {}", a["pro"], a["anti"], a["net"], a["ci"]),
            )
        })
        .collect()
}

#[test]
fn score_marks_each_record_with_its_story_whatever_the_window_or_shard() {
    let records = |extra: &[&str]| {
        let mut args = vec!["score", DIR, "--classifier", "keyword", "--format", "jsonl"];
        args.extend_from_slice(extra);
        let out = stance(&args);
        assert_success(&out);
        jsonl(&out.stdout)
    };
    let all = records(&[]);
    let mut story_of: BTreeMap<String, String> = BTreeMap::new();
    for r in &all {
        let doc = r["doc"].as_str().unwrap().to_string();
        let story = r["story"].as_str().expect("every record has a story");
        let before = story_of.insert(doc.clone(), story.to_string());
        assert!(before.is_none_or(|b| b == story), "one story per article");
    }
    for doc in WIRE {
        assert_eq!(story_of[doc], "wire-afp", "{doc}");
    }
    // The same day's other story, from the same outlet, stays apart.
    assert_eq!(story_of["summit-same-day"], "summit-same-day");
    assert_eq!(story_of["council-later"], "council-later");
    // Windows of one article and shards give the same stories.
    assert_eq!(records(&["--window", "1"]), all);
    let mut sharded: Vec<serde_json::Value> = records(&["--shard", "0/2"]);
    sharded.extend(records(&["--shard", "1/2"]));
    for r in &sharded {
        assert_eq!(
            r["story"].as_str(),
            Some(story_of[r["doc"].as_str().unwrap()].as_str())
        );
    }
    assert_eq!(sharded.len(), all.len());
    // Speakers in the records: Le Drian's quotation, completed to his
    // full name from the gazetteer.
    let quote = all
        .iter()
        .find(|r| {
            r["doc"] == "wire-afp" && r["text"].as_str().unwrap().starts_with("\"There can be")
        })
        .unwrap();
    assert_eq!(quote["stance"], "anti-dialogue");
    assert_eq!(quote["claims"][0]["holder"], "france");
    assert_eq!(quote["claims"][0]["speaker"], "Jean-Yves Le Drian");
    assert_eq!(quote["speaker"], "Jean-Yves Le Drian");
}

#[test]
fn compare_counts_each_story_once_and_lists_every_copy() {
    let folded = compare(&[]);
    let kept = compare(&["--keep-duplicates"]);
    assert_eq!(folded["folded"], 3);
    assert_eq!(kept["folded"], 0);
    assert_eq!(folded["documents"].as_array().unwrap().len(), 3);
    assert_eq!(kept["documents"].as_array().unwrap().len(), 6);
    let stories = folded["stories"].as_array().unwrap();
    assert_eq!(stories.len(), 1);
    assert_eq!(stories[0]["story"], "wire-afp");
    assert_eq!(stories[0]["counted"], "wire-afp");
    let outlets: Vec<&str> = stories[0]["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["outlet"].as_str().unwrap())
        .collect();
    assert_eq!(
        outlets,
        [
            "Agence Wire",
            "Niger River News",
            "Sahel Daily",
            "Bamako Evening"
        ]
    );

    // Folding counts exactly what the articles without their copies give.
    let dir = tempfile::tempdir().unwrap();
    for f in [
        "wire-afp.txt",
        "summit-same-day.txt",
        "council-later.txt",
        "metadata.csv",
    ] {
        std::fs::copy(format!("{DIR}/{f}"), dir.path().join(f)).unwrap();
    }
    let d = dir.path().to_str().unwrap();
    let out = stance(&[
        "compare",
        d,
        "--classifier",
        "keyword",
        "--corpus",
        d,
        "--quiet",
    ]);
    assert_success(&out);
    let unique: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(figures(&folded), figures(&unique));
    assert_eq!(unique["folded"], 0);
    assert!(unique.get("stories").is_none());

    // Every copy counts with --keep-duplicates: France's claims from the
    // wire are there four times (less what the trimmed copy lost).
    let france = |v: &serde_json::Value| v["actors"]["france"]["anti"].as_u64().unwrap();
    assert!(
        france(&kept) > france(&folded) + 2,
        "{} {}",
        france(&kept),
        france(&folded)
    );

    // The evidence of the counted story names its copies and their outlets.
    let evidence = folded["actors"]["france"]["evidence"].as_array().unwrap();
    let wire = evidence.iter().find(|e| e["doc"] == "wire-afp").unwrap();
    let copies: Vec<&str> = wire["copies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["doc"].as_str().unwrap())
        .collect();
    assert_eq!(
        copies,
        ["wire-reparagraphed", "wire-retitled", "wire-trimmed"]
    );
    assert!(evidence
        .iter()
        .all(|e| !WIRE[1..].contains(&e["doc"].as_str().unwrap())));
}

#[test]
fn compare_names_the_speakers_behind_each_actor() {
    let v = compare(&[]);
    let speakers = |holder: &str| {
        v["actors"][holder]["speakers"]
            .as_object()
            .map(|m| m.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let france = speakers("france");
    assert!(
        france.contains(&"Jean-Yves Le Drian".to_string()),
        "{france:?}"
    );
    assert!(
        france.contains(&"Emmanuel Macron".to_string()),
        "{france:?}"
    );
    assert!(speakers("mali").contains(&"Moctar Ouane".to_string()));
    let ledrian = &v["actors"]["france"]["speakers"]["Jean-Yves Le Drian"];
    assert!(ledrian["anti"].as_u64().unwrap() >= 1);
    assert_eq!(ledrian["net"], -1.0);
    // Each speaker's counts are within the holder's.
    for (_, a) in v["actors"].as_object().unwrap() {
        if let Some(s) = a["speakers"].as_object() {
            let pro: u64 = s.values().map(|r| r["pro"].as_u64().unwrap()).sum();
            assert!(pro <= a["pro"].as_u64().unwrap());
        }
    }
    // Markdown and HTML show speakers and the folded copies.
    for format in ["md", "html"] {
        let out = stance(&[
            "compare",
            DIR,
            "--classifier",
            "keyword",
            "--corpus",
            DIR,
            "--quiet",
            "--format",
            format,
        ]);
        assert_success(&out);
        let text = String::from_utf8(out.stdout).unwrap();
        for needle in [
            "Speakers",
            "Jean-Yves Le Drian",
            "Moctar Ouane",
            "3 near-copies folded",
            "also in wire-reparagraphed (Niger River News)",
        ] {
            assert!(text.contains(needle), "{format}: no {needle:?}");
        }
    }
}
