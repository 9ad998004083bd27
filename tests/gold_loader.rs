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
