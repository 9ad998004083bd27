//! The synthetic training set: well-formed records, labels consistent with
//! the annotation standard's rules, and nothing copied or paraphrased from
//! the gold articles (the gold set must stay a test set).

use stance::classify::train::read_labelled;
use std::collections::HashSet;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Character 5-grams of a whitespace-normalised, lower-cased text.
fn grams(text: &str) -> HashSet<String> {
    let norm: Vec<char> = text
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .collect();
    norm.windows(5.min(norm.len().max(1)))
        .map(|w| w.iter().collect())
        .collect()
}

fn jaccard(a: &HashSet<String>, b: &HashSet<String>) -> f64 {
    a.intersection(b).count() as f64 / a.union(b).count().max(1) as f64
}

#[test]
fn synthetic_records_follow_the_standard() {
    let dir = root().join("labels/train");
    let mut ids = HashSet::new();
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "jsonl") {
            continue;
        }
        for (i, line) in std::fs::read_to_string(&path).unwrap().lines().enumerate() {
            let at = format!("{}:{}", path.display(), i + 1);
            let r: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{at}: {e}"));
            assert_eq!(r["synthetic"], true, "{at}: marked synthetic");
            assert!(
                ids.insert(r["id"].as_str().unwrap().to_string()),
                "{at}: duplicate id"
            );
            assert!(["en", "fr"].contains(&r["lang"].as_str().unwrap()), "{at}");
            let stance = r["stance"].as_str().unwrap();
            let claims = r["claims"].as_array().unwrap();
            let mixed = r["mixed"].as_bool().unwrap();
            let has = |s: &str| claims.iter().any(|c| c["stance"] == s);
            for c in claims {
                assert!(
                    [
                        "france",
                        "mali",
                        "jihadists",
                        "tuareg",
                        "malian-society",
                        "analyst",
                        "author",
                        "other"
                    ]
                    .contains(&c["holder"].as_str().unwrap()),
                    "{at}"
                );
                assert!(
                    ["jihadists", "tuareg", "unspecified"].contains(&c["target"].as_str().unwrap()),
                    "{at}"
                );
                assert_ne!(c["stance"], "neutral", "{at}");
            }
            if mixed {
                assert!(
                    stance == "neutral" && has("pro-dialogue") && has("anti-dialogue"),
                    "{at}"
                );
            } else if stance == "neutral" {
                assert!(claims.is_empty(), "{at}");
            } else {
                assert!(has(stance), "{at}");
            }
            n += 1;
        }
    }
    assert!(n >= 600, "{n} synthetic sentences");
    assert_eq!(read_labelled(&[dir]).unwrap().len(), n);
}

#[test]
fn no_synthetic_sentence_copies_a_gold_sentence() {
    let gold: Vec<HashSet<String>> = std::fs::read_to_string(root().join("labels/gold.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        // Page furniture ("Share", cookie banners) is generic on purpose.
        .filter(|t| t.len() > 60)
        .map(|t| grams(&t))
        .collect();
    let synthetic = read_labelled(&[root().join("labels/train")]).unwrap();
    for s in &synthetic {
        let g = grams(&s.text);
        let closest = gold.iter().map(|h| jaccard(&g, h)).fold(0.0, f64::max);
        assert!(
            closest < 0.5,
            "too close to a gold sentence ({closest:.2}): {}",
            s.text
        );
    }
}
