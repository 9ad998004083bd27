//! The properties the fuzz targets check, one function per target, on the
//! raw input bytes. Shared with `tests/fuzz_regressions.rs` (through
//! `#[path]`), which runs them on every crash the fuzzers found, so a fixed
//! crash stays fixed under `cargo test`.

#![allow(dead_code)]

use stance::attribute::Attributor;
use stance::classify::Keyword;
use stance::corpus::{txt_article, Article, ArticleReader, Metadata, Origin};
use stance::gold::{GoldSet, Texts};
use stance::pipeline::{split_article, Scorer, MAX_SENTENCE_CHARS};
use stance::segment::{is_line_break, sentences, LineBreaks, RuleSegmenter, Segmenter};
use stance::Stance;
use std::collections::HashSet;
use std::path::Path;
use std::sync::OnceLock;

fn article(text: String) -> Article {
    Article {
        id: "fuzz".into(),
        text,
        meta: Metadata::default(),
        origin: Origin {
            path: "fuzz.txt".into(),
            line: None,
        },
    }
}

// ---------------------------------------------------------------------------
// split: the sentence splitter on arbitrary text, in both line-break modes.
//
// Spans are non-empty, in bounds, on char boundaries, in order and disjoint;
// nothing but whitespace lies between, before or after them (a leading
// byte-order mark excepted); each span is trimmed; with hard line breaks no
// span crosses a line; the code-point spans of `sentences` slice the same
// text; boilerplate flags and split records agree with them.

fn check_spans(text: &str, ranges: &[std::ops::Range<usize>], mode: LineBreaks) {
    let mut prev_end = 0;
    for (k, r) in ranges.iter().enumerate() {
        assert!(r.start < r.end, "empty or reversed span {r:?}");
        let span = text
            .get(r.clone())
            .unwrap_or_else(|| panic!("span {r:?} out of bounds or off a char boundary"));
        assert!(
            r.start >= prev_end,
            "span {k} {r:?} overlaps the one before"
        );
        let gap = &text[prev_end..r.start];
        let gap = if prev_end == 0 {
            gap.strip_prefix('\u{feff}').unwrap_or(gap)
        } else {
            gap
        };
        assert!(
            gap.chars().all(char::is_whitespace),
            "non-whitespace {gap:?} left out before span {k}"
        );
        assert_eq!(span.trim(), span, "span {k} is not trimmed");
        if mode == LineBreaks::Hard {
            assert!(!span.contains(is_line_break), "span {k} crosses a line");
        }
        prev_end = r.end;
    }
    let tail = &text[prev_end..];
    let tail = if prev_end == 0 {
        tail.strip_prefix('\u{feff}').unwrap_or(tail)
    } else {
        tail
    };
    assert!(
        tail.chars().all(char::is_whitespace),
        "non-whitespace {tail:?} left out at the end"
    );
}

pub fn split(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let chars: Vec<char> = text.chars().collect();
    for mode in [LineBreaks::Hard, LineBreaks::Soft] {
        let segmenter = RuleSegmenter::new().with_line_breaks(mode);
        let ranges = segmenter.split(&text);
        check_spans(&text, &ranges, mode);
        let sents = sentences(&segmenter, &text);
        assert_eq!(sents.len(), ranges.len());
        for (s, r) in sents.iter().zip(&ranges) {
            assert_eq!(s.text, &text[r.clone()]);
            assert_eq!(chars[s.start..s.end].iter().collect::<String>(), s.text);
        }
    }
    // The records `stance split` writes: same spans, boilerplate flagged by line.
    let article = article(text.clone().into_owned());
    let segmenter = RuleSegmenter::default();
    // A sentence longer than MAX_SENTENCE_CHARS comes as pieces, each
    // within the bound, marked `cut`, slicing the text, with only whitespace
    // between them inside the sentence.
    let records = split_article(&segmenter, &article);
    let sents = sentences(&segmenter, &text);
    let mut records = records.iter().enumerate().peekable();
    for s in &sents {
        let long = s.end - s.start > MAX_SENTENCE_CHARS;
        let (mut at, mut pieces) = (s.start, 0);
        while let Some((k, r)) = records.next_if(|(_, r)| r.end <= s.end) {
            assert_eq!(r.idx, k);
            assert!(r.start >= at && r.start < r.end, "piece {k} out of order");
            assert!(r.end - r.start <= MAX_SENTENCE_CHARS, "piece {k} too long");
            assert_eq!(r.cut, long);
            assert_eq!(chars[r.start..r.end].iter().collect::<String>(), r.text);
            assert!(chars[at..r.start].iter().all(|c| c.is_whitespace()));
            assert_eq!(r.boilerplate, r.boilerplate_kind.is_some());
            if pieces == 0 {
                assert_eq!(r.start, s.start, "the first piece starts the sentence");
            }
            at = r.end;
            pieces += 1;
        }
        assert_eq!(at, s.end, "the pieces end where the sentence does");
        assert!(
            long || pieces == 1,
            "a sentence within the bound is one record"
        );
    }
    assert!(records.next().is_none(), "a record outside every sentence");
}

// ---------------------------------------------------------------------------
// readers: the `.txt` decoder and the JSONL stream reader (line splitting,
// the record parser, the duplicate-id check) on arbitrary bytes.
//
// A text that is read is the file's bytes unchanged, holds no NUL and is not
// blank; every refusal names a line of the input; JSONL records and refusals
// come in line order, one per line at most, and no id is read twice.

fn blank(text: &str) -> bool {
    text.trim_start_matches('\u{feff}').trim().is_empty()
}

pub fn readers(data: &[u8]) {
    // Lines as the decoder counts them: `\n`, `\r\n` and a lone `\r` end one.
    let txt_lines = 1 + data
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && data.get(i + 1) != Some(&b'\n')))
        .count();
    match txt_article(Path::new("fuzz.txt"), data.to_vec(), Metadata::default()) {
        Ok(article) => {
            assert_eq!(article.text.as_bytes(), data);
            assert_eq!(article.id, "fuzz");
            assert!(!article.text.contains('\0'));
            assert!(!blank(&article.text));
        }
        Err(e) => {
            assert_eq!(e.origin.path, Path::new("fuzz.txt"));
            if let Some(line) = e.origin.line {
                assert!(
                    (1..=txt_lines).contains(&line),
                    "line {line} of {txt_lines}"
                );
            }
        }
    }

    let jsonl_lines = data.split(|&b| b == b'\n').count();
    let mut ids = HashSet::new();
    let mut last = 0;
    for item in ArticleReader::from_jsonl("fuzz.jsonl", std::io::Cursor::new(data.to_vec())) {
        let line = match item {
            Ok(article) => {
                assert!(
                    ids.insert(article.id.clone()),
                    "id {:?} read twice",
                    article.id
                );
                assert!(!article.id.is_empty());
                assert!(!article.text.contains('\0'));
                assert!(!blank(&article.text));
                article.origin.line
            }
            Err(e) => e.origin.line,
        };
        let line = line.expect("JSONL items name their line");
        assert!(
            line > last && line <= jsonl_lines,
            "line {line} after {last} of {jsonl_lines}"
        );
        last = line;
    }
}

// ---------------------------------------------------------------------------
// gold: the strict gold loader on arbitrary bytes, against a fixed small
// article set (multi-byte characters, a byte-order mark, CRLF).
//
// A loaded set holds only records whose text is exactly their code-point
// span, in order and disjoint within each document; a refused file lists at
// least one error, each naming a line of the input, sorted.

pub fn gold_texts() -> &'static Texts {
    static TEXTS: OnceLock<Texts> = OnceLock::new();
    TEXTS.get_or_init(|| {
        let mut t = Texts::new();
        t.insert(
            "d".into(),
            "Paris says no. Bamako wants talks, é. Rain fell.".into(),
        );
        t.insert(
            "e".into(),
            "\u{feff}Mali\r\nLe « dialogue » est ouvert.\r\nNo talks with JNIM.".into(),
        );
        t
    })
}

/// The loaded set, for callers that check more.
pub fn gold(data: &[u8]) -> Option<GoldSet> {
    let texts = gold_texts();
    let lines = data.split(|&b| b == b'\n').count();
    match GoldSet::read(Path::new("fuzz-gold.jsonl"), data, texts) {
        Ok(gold) => {
            for r in &gold.records {
                let text = &texts[&r.doc];
                assert!(r.start < r.end);
                let span: String = text.chars().skip(r.start).take(r.end - r.start).collect();
                assert_eq!(span, r.text);
            }
            for pair in gold.records.windows(2) {
                let (a, b) = (&pair[0], &pair[1]);
                assert!((&a.doc, a.start) <= (&b.doc, b.start), "not sorted");
                assert!(a.doc != b.doc || a.end <= b.start, "overlap kept");
            }
            Some(gold)
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            let mut last = 0;
            for e in &errors {
                let line = e.line.expect("every refusal names its line");
                assert!(line >= last && line <= lines, "line {line} of {lines}");
                last = line;
            }
            None
        }
    }
}

// ---------------------------------------------------------------------------
// pipeline: everything after the reader except the neural encoder, on
// arbitrary text: segmentation, boilerplate, the keyword classifier and
// attribution (quotes, speakers, anaphora, clause splits), as `stance score
// --classifier keyword` runs them.
//
// One record per sentence (or piece of a long one), spans slice the text, scores are a probability
// vector, claims agree with the stance and `mixed`.

fn attributor() -> &'static Attributor {
    static ATTRIBUTOR: OnceLock<Attributor> = OnceLock::new();
    ATTRIBUTOR.get_or_init(Attributor::builtin)
}

pub fn pipeline(data: &[u8]) {
    let article = article(String::from_utf8_lossy(data).into_owned());
    let segmenter = RuleSegmenter::default();
    let scorer = Scorer {
        segmenter: &segmenter,
        encoder: None,
        classifier: &Keyword,
        attributor: Some(attributor()),
    };
    let scored = scorer
        .score(std::slice::from_ref(&article))
        .expect("the keyword pipeline cannot fail on text");
    assert_eq!(scored.len(), 1);
    // The records are those of `split_article` (sentences, long ones cut
    // into pieces; the `split` target checks those against the splitter).
    let expected = split_article(&segmenter, &article);
    assert_eq!(scored[0].len(), expected.len());
    let chars: Vec<char> = article.text.chars().collect();
    for (r, s) in scored[0].iter().zip(&expected) {
        let sent = &r.sentence;
        assert_eq!(
            (sent.start, sent.end, &sent.text, sent.cut),
            (s.start, s.end, &s.text, s.cut)
        );
        assert_eq!(
            chars[sent.start..sent.end].iter().collect::<String>(),
            sent.text
        );
        let sum: f32 = Stance::ALL.iter().map(|&l| r.scores.get(l)).sum();
        assert!((sum - 1.0).abs() < 1e-4, "scores sum to {sum}");
        if r.mixed {
            assert_eq!(r.stance, Stance::Neutral);
        } else if r.stance != Stance::Neutral {
            assert!(r.claims.iter().any(|c| c.stance == r.stance), "{r:?}");
        }
        assert!(
            r.claims.iter().all(|c| c.stance != Stance::Neutral),
            "{r:?}"
        );
    }
}
