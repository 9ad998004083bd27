//! The training data: the synthetic sentence sets and the training articles.
//! Well-formed records, labels consistent with the annotation standard's
//! rules, articles labelled unit by unit, and nothing copied or paraphrased
//! from the gold articles in either language (the gold sets stay test sets).

use stance::classify::train::read_labelled;
use stance::corpus::ArticleReader;
use stance::gold::{GoldSet, Texts};
use stance::pipeline::split_articles;
use stance::segment::RuleSegmenter;
use std::collections::{BTreeMap, HashSet};
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
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !(name.starts_with("synthetic-") && name.ends_with(".jsonl")) {
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
    let synthetic: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("synthetic-")
        })
        .collect();
    assert_eq!(read_labelled(&synthetic).unwrap().len(), n);
}

/// The training article batches: `labels/train/articles/<batch>/` holds the
/// raw texts, `labels/train/articles-<batch>.jsonl` their adjudicated labels.
fn article_batches() -> Vec<(String, std::path::PathBuf, std::path::PathBuf)> {
    let mut batches: Vec<_> = std::fs::read_dir(root().join("labels/train/articles"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|dir| {
            let batch = dir.file_name().unwrap().to_string_lossy().into_owned();
            let labels = root().join(format!("labels/train/articles-{batch}.jsonl"));
            (batch, dir, labels)
        })
        .collect();
    batches.sort();
    batches
}

#[test]
fn training_articles_are_labelled_unit_by_unit_in_both_languages() {
    let segmenter = RuleSegmenter::default();
    let gold_docs: HashSet<String> = ArticleReader::new(&[root().join("eval/corpus")])
        .map(|a| a.unwrap().id)
        .collect();
    let mut per_language: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut ids = HashSet::new();
    let batches = article_batches();
    assert!(!batches.is_empty());
    for (batch, dir, labels) in &batches {
        let articles: Vec<_> = ArticleReader::new(std::slice::from_ref(dir))
            .map(|a| a.unwrap())
            .collect();
        let texts: Texts = articles
            .iter()
            .map(|a| (a.id.clone(), a.text.clone()))
            .collect();
        // Strictly, as the gold sets: exact spans, values, consistency.
        let gold = GoldSet::load(labels, &texts).unwrap_or_else(|errors| {
            panic!(
                "{batch}: {}",
                errors
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
        let labelled: HashSet<(String, usize, usize)> = gold
            .records
            .iter()
            .map(|r| (r.doc.clone(), r.start, r.end))
            .collect();
        for (article, units) in articles.iter().zip(split_articles(&segmenter, &articles)) {
            assert!(
                ids.insert(article.id.clone()),
                "{}: id used twice",
                article.id
            );
            assert!(
                !gold_docs.contains(&article.id),
                "{}: a gold id",
                article.id
            );
            let language = article
                .meta
                .language
                .clone()
                .unwrap_or_else(|| panic!("{}: no language in metadata.csv", article.id));
            assert!(["en", "fr"].contains(&language.as_str()), "{}", article.id);
            for u in &units {
                assert!(
                    labelled.contains(&(u.doc.clone(), u.start, u.end)),
                    "{}: unit {}..{} is not labelled: {:?}",
                    u.doc,
                    u.start,
                    u.end,
                    u.text
                );
            }
            let entry = per_language.entry(language).or_default();
            entry.0 += 1;
            entry.1 += units.len();
        }
        assert_eq!(
            gold.records.len(),
            labelled.len(),
            "{batch}: one record per unit"
        );
    }
    let (articles, sentences) = per_language
        .values()
        .fold((0, 0), |(a, s), (x, y)| (a + x, s + y));
    assert!(articles >= 80, "{articles} training articles");
    assert!(sentences >= 2500, "{sentences} training sentences");
    for (language, (n, _)) in &per_language {
        assert!(*n >= 40, "{n} {language} articles");
    }
}

#[test]
fn no_training_sentence_copies_a_gold_sentence_in_either_language() {
    let gold: Vec<HashSet<String>> = ["labels/gold.jsonl", "labels/gold-fr.jsonl"]
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(root().join(f))
                .unwrap()
                .lines()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(&l).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        // Page furniture ("Share", cookie banners) is generic on purpose.
        .filter(|t| t.len() > 60)
        .map(|t| grams(&t))
        .collect();
    // Every `.jsonl` of labels/train: the synthetic sets and the articles.
    let training = read_labelled(&[root().join("labels/train")]).unwrap();
    assert!(
        training.len() >= 3000,
        "{} training sentences",
        training.len()
    );
    for s in &training {
        let g = grams(&s.text);
        let closest = gold.iter().map(|h| jaccard(&g, h)).fold(0.0, f64::max);
        assert!(
            closest < 0.5,
            "too close to a gold sentence ({closest:.2}): {}",
            s.text
        );
    }
}
