//! The gold loader refuses every record that is not exactly the standard.

use stance::gold::{GoldSet, Texts};
use std::io::Write;

fn texts() -> Texts {
    let mut t = Texts::new();
    t.insert(
        "d".into(),
        "Paris says no. Bamako wants talks, é. Rain fell.".into(),
    );
    t
}

fn load(lines: &[&str]) -> Result<GoldSet, Vec<stance::gold::GoldError>> {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    for l in lines {
        writeln!(file, "{l}").unwrap();
    }
    GoldSet::load(file.path(), &texts())
}

const PARIS: &str = r#"{"doc":"d","start":0,"end":14,"text":"Paris says no.","stance":"anti-dialogue","mixed":false,"claims":[{"holder":"france","stance":"anti-dialogue","target":"unspecified"}],"note":""}"#;
const BAMAKO: &str = r#"{"doc":"d","start":15,"end":37,"text":"Bamako wants talks, é.","stance":"pro-dialogue","mixed":false,"claims":[{"holder":"mali","stance":"pro-dialogue","target":"jihadists"}],"note":""}"#;
const RAIN: &str = r#"{"doc":"d","start":38,"end":48,"text":"Rain fell.","stance":"neutral","mixed":false,"claims":[],"note":""}"#;

fn refusal(line: &str) -> String {
    let errors = load(&[PARIS, line]).expect_err("refused");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].line, Some(2));
    errors[0].to_string()
}

#[test]
fn good_records_load_sorted_by_span() {
    let gold = load(&[RAIN, PARIS, BAMAKO]).unwrap();
    let starts: Vec<usize> = gold.records.iter().map(|r| r.start).collect();
    assert_eq!(starts, [0, 15, 38]);
    assert_eq!(gold.docs(), ["d"]);
}

#[test]
fn text_must_be_the_exact_code_point_span() {
    let shifted = RAIN.replace("\"start\":38,\"end\":48", "\"start\":37,\"end\":47");
    assert!(refusal(&shifted).contains("is not the span 37..47"));
    let bytes_not_chars = BAMAKO.replace("\"end\":37", "\"end\":38");
    assert!(refusal(&bytes_not_chars).contains("not the span"));
    let past_end = RAIN.replace("\"end\":48", "\"end\":60");
    assert!(refusal(&past_end).contains("runs past the end"));
    let unknown = RAIN.replace("\"doc\":\"d\"", "\"doc\":\"x\"");
    assert!(refusal(&unknown).contains("unknown document"));
}

#[test]
fn values_outside_the_standard_are_refused() {
    assert!(refusal(&RAIN.replace("\"neutral\"", "\"none\"")).contains("not a gold record"));
    assert!(refusal(&BAMAKO.replace("\"mali\"", "\"bamako\"")).contains("not a gold record"));
    assert!(refusal(&BAMAKO.replace("\"jihadists\"", "\"rebels\"")).contains("not a gold record"));
    assert!(
        refusal(&RAIN.replace("\"note\":\"\"", "\"note\":\"\",\"extra\":1"))
            .contains("unknown field")
    );
    assert!(refusal("{not json").contains("not a gold record"));
}

#[test]
fn stance_mixed_and_claims_must_agree() {
    let neutral_with_claim = BAMAKO.replace(
        "\"stance\":\"pro-dialogue\",\"mixed\"",
        "\"stance\":\"neutral\",\"mixed\"",
    );
    assert!(refusal(&neutral_with_claim).contains("no claims"));
    let pro_without_claim = RAIN.replace("\"neutral\"", "\"pro-dialogue\"");
    assert!(refusal(&pro_without_claim).contains("no claim has that stance"));
    let mixed_one_side = BAMAKO.replace(
        "\"stance\":\"pro-dialogue\",\"mixed\":false",
        "\"stance\":\"neutral\",\"mixed\":true",
    );
    assert!(refusal(&mixed_one_side).contains("mixed is true"));
    let neutral_claim = BAMAKO.replace(
        "{\"holder\":\"mali\",\"stance\":\"pro-dialogue\"",
        "{\"holder\":\"mali\",\"stance\":\"neutral\"",
    );
    assert!(refusal(&neutral_claim).contains("neutral"));
}

#[test]
fn overlapping_spans_are_refused_and_all_errors_are_listed() {
    let overlap = r#"{"doc":"d","start":6,"end":14,"text":"says no.","stance":"neutral","mixed":false,"claims":[],"note":""}"#;
    let errors = load(&[PARIS, overlap, "{", RAIN]).unwrap_err();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors.iter().any(|e| e.to_string().contains("overlaps")));
    assert!(errors.iter().any(|e| e.line == Some(3)));
}

/// The French gold set: the gold articles translated, each record's labels
/// carried over from its English record, and every translation naming its
/// original, so that cross-validation holds a story out in both languages.
#[test]
fn the_french_gold_translates_the_english_gold_record_by_record() {
    use stance::corpus::ArticleReader;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let load = |corpus: &str, gold: &str| {
        let articles: Vec<_> = ArticleReader::new(&[root.join(corpus)])
            .map(|a| a.unwrap())
            .collect();
        let texts: Texts = articles
            .iter()
            .map(|a| (a.id.clone(), a.text.clone()))
            .collect();
        let gold = GoldSet::load(&root.join(gold), &texts).unwrap_or_else(|e| panic!("{e:?}"));
        (articles, gold)
    };
    let (english, en_gold) = load("eval/corpus", "labels/gold.jsonl");
    let (french, fr_gold) = load("eval/corpus-fr", "labels/gold-fr.jsonl");
    assert_eq!(french.len(), english.len());
    for (fr, en) in french.iter().zip(&english) {
        assert_eq!(fr.meta.translation_of.as_deref(), Some(en.id.as_str()));
        assert_eq!(fr.meta.language.as_deref(), Some("fr"));
        assert_eq!(fr.id, format!("{}-fr", en.id));
    }
    assert_eq!(fr_gold.records.len(), en_gold.records.len());
    for (fr, en) in fr_gold.records.iter().zip(&en_gold.records) {
        assert_eq!(fr.doc, format!("{}-fr", en.doc));
        assert_eq!(
            (fr.stance, fr.mixed, &fr.claims),
            (en.stance, en.mixed, &en.claims),
            "{:?} carries {:?}",
            fr.text,
            en.text
        );
    }
}
