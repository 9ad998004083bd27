//! Invariants every segmentation must keep, whatever the input, and a
//! check that huge inputs finish (the scanner must stay linear).
//!
//! The invariants are what later stages rely on: spans can be sliced out of
//! the raw text, they are in order and disjoint, nothing but whitespace is
//! dropped, and the code-point offsets name the same text as the byte ones.

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use stance::segment::{sentences, LineBreaks, RuleSegmenter, Segmenter};

const ARTICLES: [&str; 5] = [
    include_str!("../eval/corpus/000_033704b3241b65e2.txt"),
    include_str!("../eval/corpus/001_088931e9380f7480.txt"),
    include_str!("../eval/corpus/002_164b338d48ad01ba.txt"),
    include_str!("../eval/corpus/003_f9edf75673bbe520.txt"),
    include_str!("../eval/corpus/004_e6ee3feba9137063.txt"),
];

fn check_invariants(seg: &RuleSegmenter, text: &str) -> Result<(), TestCaseError> {
    let ranges = seg.split(text);
    // A byte-order mark at the very start belongs to no sentence (it is
    // page encoding, not text); everything else outside spans is whitespace.
    let mut prev = if text.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        0
    };
    for r in &ranges {
        prop_assert!(r.start < r.end, "empty or reversed span {r:?}");
        prop_assert!(r.end <= text.len(), "span {r:?} out of bounds");
        prop_assert!(
            text.is_char_boundary(r.start) && text.is_char_boundary(r.end),
            "span {r:?} splits a char"
        );
        prop_assert!(
            prev <= r.start,
            "span {r:?} overlaps or precedes the previous one"
        );
        let gap = &text[prev..r.start];
        prop_assert!(
            gap.chars().all(char::is_whitespace),
            "non-whitespace lost between spans: {gap:?}"
        );
        let s = &text[r.clone()];
        prop_assert_eq!(s.trim(), s, "span not trimmed");
        if seg.line_breaks() == LineBreaks::Hard {
            prop_assert!(
                !s.contains(['\n', '\r']),
                "a line break inside a sentence: {s:?}"
            );
        }
        prev = r.end;
    }
    prop_assert!(
        text[prev..].chars().all(char::is_whitespace),
        "text lost after the last span"
    );

    let sents = sentences(seg, text);
    prop_assert_eq!(sents.len(), ranges.len());
    for (i, (s, r)) in sents.iter().zip(&ranges).enumerate() {
        prop_assert_eq!(s.idx, i);
        prop_assert_eq!(&s.text, &text[r.clone()]);
        prop_assert_eq!(s.start, text[..r.start].chars().count());
        prop_assert_eq!(s.end, text[..r.end].chars().count());
    }
    Ok(())
}

fn check_both(text: &str) -> Result<(), TestCaseError> {
    check_invariants(&RuleSegmenter::default(), text)?;
    check_invariants(
        &RuleSegmenter::new().with_line_breaks(LineBreaks::Soft),
        text,
    )
}

/// Pieces that exercise the rules: terminators, quotes of every kind,
/// brackets, bullets, abbreviations, list markers, odd whitespace.
fn piece() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        ".",
        "!",
        "?",
        "…",
        "...",
        ". . .",
        "?!",
        "«",
        "»",
        "« ",
        " »",
        "“",
        "”",
        "‘",
        "’",
        "\"",
        "'",
        "(",
        ")",
        "[",
        "]",
        "(...)",
        "[…]",
        "\n",
        "\n\n",
        "\r\n",
        " ",
        "  ",
        "\u{a0}",
        "\u{202f}",
        "\t",
        "\u{2028}",
        "•",
        "⁃",
        "—",
        "–",
        "-",
        ",",
        ":",
        ";",
        "Mr",
        "U.S",
        "U.N.",
        "e.g",
        "Jan",
        "No",
        "Inc",
        "F",
        "I",
        "p",
        "a",
        "b",
        "1",
        "2",
        "10",
        "5.000",
        "3.5",
        "1.)",
        "2)",
        "The",
        "He",
        "Mali",
        "said",
        "asked",
        "compromise",
        "Été",
        "Ça",
        "ÉTÉ",
        "日本",
        "。",
        "！",
        "𝔘",
        "é",
        "$",
        "@",
        "/",
    ]);
    prop_oneof![
        4 => atoms.prop_map(str::to_owned),
        1 => "[a-zA-Z]{1,6}",
        1 => any::<char>().prop_map(String::from),
    ]
}

fn article_slice() -> impl Strategy<Value = String> {
    (
        0..ARTICLES.len(),
        any::<prop::sample::Index>(),
        0usize..3000,
    )
        .prop_map(|(a, start, len)| {
            let text = ARTICLES[a];
            let mut s = start.index(text.len());
            while !text.is_char_boundary(s) {
                s -= 1;
            }
            let mut e = (s + len).min(text.len());
            while !text.is_char_boundary(e) {
                e -= 1;
            }
            text[s..e].to_owned()
        })
}

proptest! {
    // Failures found once are replayed first, from a file kept with the
    // segmenter's other test data.
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/data/segment/props.proptest-regressions",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn invariants_on_random_mixtures(pieces in prop::collection::vec(piece(), 0..120)) {
        check_both(&pieces.concat())?;
    }

    #[test]
    fn invariants_on_article_slices(text in article_slice()) {
        check_both(&text)?;
    }

    #[test]
    fn invariants_on_arbitrary_strings(text in any::<String>()) {
        check_both(&text)?;
    }
}

#[test]
fn invariants_on_whole_articles() {
    for text in ARTICLES {
        check_both(text).expect("invariants hold");
    }
}

/// 5 MB on a single line, in shapes that would trip a backtracking or
/// quadratic scanner: one endless sentence, endless candidate boundaries,
/// an endless spaced ellipsis, endless quotes, bullets and list markers.
/// The test asserts completion, not a time.
#[test]
fn five_megabyte_single_lines_finish() {
    const SIZE: usize = 5 * 1024 * 1024;
    let shapes: [(&str, &str); 9] = [
        ("no terminator", "word and more words "),
        ("sentences", "The talks began. "),
        ("initials", "A. "),
        ("spaced ellipsis", ". "),
        ("quotes", "\" "),
        ("bullets", "• "),
        ("list markers", "1. 2. "),
        ("guillemets", "« fin. » "),
        ("whitespace", "\u{a0} "),
    ];
    let seg = RuleSegmenter::default();
    for (name, unit) in shapes {
        let text = unit.repeat(SIZE / unit.len());
        let t = std::time::Instant::now();
        let spans = sentences(&seg, &text);
        println!("{name}: {} sentences in {:?}", spans.len(), t.elapsed());
        let head = (0..=100_000)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        check_both(&text[..head]).expect("invariants hold");
    }
}
