// Crate-comparison harness for the sentence segmenter (not part of the
// build: the crates it measures are not dependencies of `stance`).
// How to run it is in COMPARISON.md beside this file; the numbers it printed
// are there too.
//
// It scores each segmenter on
//   1. the golden table of tests/segment_golden.rs (included below, so the
//      table is written once; ignored cases count as cases),
//   2. the reviewed gold spans of the five articles (labels/gold.jsonl):
//      exact span matches, precision, recall,
//   3. a short list of the corpus sentences that are hardest to get whole.

use std::collections::HashSet;
use std::ops::Range;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Instant;

use stance::segment::{sentences, RuleSegmenter, Segmenter};

struct Case {
    name: &'static str,
    text: &'static str,
    expected: Vec<&'static str>,
    ignored: bool,
}

macro_rules! cases {
    ($( $(#[ignore = $why:literal])? $name:ident : $text:expr => [$($exp:expr),* $(,)?]; )*) => {
        pub fn golden_cases() -> Vec<super::Case> {
            vec![$( super::Case {
                name: stringify!($name),
                text: $text,
                expected: vec![$($exp),*],
                ignored: false $(|| { let _ = $why; true })?,
            } ),*]
        }
    };
}

#[path = "../../segment_golden.rs"]
mod golden;

/// Trims a byte range to its non-whitespace content; None if nothing is left.
fn trimmed(text: &str, r: Range<usize>) -> Option<Range<usize>> {
    let s = &text[r.clone()];
    let start = r.start + (s.len() - s.trim_start().len());
    let end = r.start + s.trim_end().len();
    (start < end).then_some(start..end)
}

/// The same line policy as `RuleSegmenter`: every line break ends a sentence.
fn lines(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut lo = 0;
    for (i, c) in text.char_indices() {
        if matches!(
            c,
            '\n' | '\r' | '\x0B' | '\x0C' | '\u{85}' | '\u{2028}' | '\u{2029}'
        ) {
            out.push(lo..i);
            lo = i + c.len_utf8();
        }
    }
    out.push(lo..text.len());
    out
}

struct Sentencex {
    per_line: bool,
}

impl Segmenter for Sentencex {
    fn split(&self, text: &str) -> Vec<Range<usize>> {
        let chunks = if self.per_line {
            lines(text)
        } else {
            vec![0..text.len()]
        };
        let mut out = Vec::new();
        for c in chunks {
            for b in sentencex::get_sentence_boundaries("en", &text[c.clone()]) {
                out.extend(trimmed(text, c.start + b.start_byte..c.start + b.end_byte));
            }
        }
        out
    }
}

struct Srx {
    rules: srx::Rules,
    per_line: bool,
}

impl Segmenter for Srx {
    fn split(&self, text: &str) -> Vec<Range<usize>> {
        let chunks = if self.per_line {
            lines(text)
        } else {
            vec![0..text.len()]
        };
        let mut out = Vec::new();
        for c in chunks {
            for r in self.rules.split_ranges(&text[c.clone()]) {
                out.extend(trimmed(text, c.start + r.start..c.start + r.end));
            }
        }
        out
    }
}

/// Sentences of the five articles that are easy to break: quotes holding two
/// sentences, quotes before their attribution, bracketed elisions, month
/// abbreviations, headlines and bullet lines.
const HARD_CORPUS_SENTENCES: &[&str] = &[
    "No dialogue, no compromise.”",
    "Barkhane, last June.",
    "“Everything leads us to believe that contacts took place in the corridors of this conference to push the negotiations forward,” Nasr said.",
    "As French forces prepare to withdraw, Mali considers reviving negotiations with jihadists",
    "A recent New York Times report observed,",
    "These respective statements could appear to make any dialogue a non-starter: why would Malian (or French or U.N.) authorities accept a withdrawal of foreign forces?",
    "\"Let's say it very clearly: there are peace agreements (...) These peace agreements have been validated by a certain number of signatories, including armed groups,\" Jean-Yves Le Drian told the press.",
    "\"And then there are terrorist groups that did not sign the peace accords.",
    "Things are simple.\"",
    "\"Things are simple\"",
    "Prerequisite of size",
    "• Share",
    "JOE PENNEY / Reuters",
    "Boys cross the street in the recently liberated town of Douentza, Mali, Jan. 29, 2013.",
    "(MORE: Mali’s War: After Surging Into the Islamist-Held North, Will France Retreat?)",
    "That’s a position Paris is hoping to shift.",
];

pub fn main() {
    let root = PathBuf::from(
        std::env::args()
            .nth(1)
            .expect("usage: compare_crates <stance worktree> <segment.srx>"),
    );
    let srx_path = std::env::args()
        .nth(2)
        .expect("usage: compare_crates <stance worktree> <segment.srx>");
    let srx = srx::SRX::from_str(&std::fs::read_to_string(&srx_path).expect("segment.srx"))
        .expect("parse srx");
    let en = || srx.language_rules("en");
    let skipped: usize = srx.errors().values().map(Vec::len).sum();
    println!("segment.srx: {} rules for en, {skipped} rules (all languages) skipped as unsupported regexes\n", en().len());

    let segmenters: Vec<(&str, Box<dyn Segmenter>)> = vec![
        ("RuleSegmenter (stance)", Box::new(RuleSegmenter::default())),
        (
            "sentencex 0.1.33, per line",
            Box::new(Sentencex { per_line: true }),
        ),
        (
            "sentencex 0.1.33, whole text",
            Box::new(Sentencex { per_line: false }),
        ),
        (
            "srx 0.1.4 + LanguageTool segment.srx (en), per line",
            Box::new(Srx {
                rules: en(),
                per_line: true,
            }),
        ),
        (
            "srx 0.1.4 + LanguageTool segment.srx (en), whole text",
            Box::new(Srx {
                rules: en(),
                per_line: false,
            }),
        ),
    ];

    // Gold spans: doc -> set of (start, end) in code points.
    let mut gold: Vec<(String, usize, usize)> = Vec::new();
    for line in std::fs::read_to_string(root.join("labels/gold.jsonl"))
        .expect("gold")
        .lines()
    {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        gold.push((
            v["doc"].as_str().unwrap().to_owned(),
            v["start"].as_u64().unwrap() as usize,
            v["end"].as_u64().unwrap() as usize,
        ));
    }
    let gold_set: HashSet<(String, usize, usize)> = gold.iter().cloned().collect();
    let mut docs: Vec<String> = gold.iter().map(|g| g.0.clone()).collect();
    docs.dedup();
    let texts: Vec<(String, String)> = docs
        .iter()
        .map(|d| {
            (
                d.clone(),
                std::fs::read_to_string(root.join(format!("eval/corpus/{d}.txt")))
                    .expect("article"),
            )
        })
        .collect();

    let cases = golden::golden_cases();
    println!("| segmenter | golden cases passed (of {}) | corpus sentences exact (of {}) | precision | recall | hard corpus sentences whole (of {}) | ms for the 5 articles x 20 |", cases.len(), gold.len(), HARD_CORPUS_SENTENCES.len());
    println!("|---|---|---|---|---|---|---|");
    let mut failures = String::new();
    for (name, seg) in &segmenters {
        let mut passed = 0;
        let mut failed = Vec::new();
        for c in &cases {
            let got: Vec<&str> = seg.split(c.text).into_iter().map(|r| &c.text[r]).collect();
            if got == c.expected {
                passed += 1;
            } else {
                failed.push(format!(
                    "{}{}",
                    c.name,
                    if c.ignored { " (ignored)" } else { "" }
                ));
            }
        }
        let mut predicted = 0;
        let mut exact = 0;
        let mut all_texts: HashSet<String> = HashSet::new();
        let mut corpus_diffs = Vec::new();
        for (doc, text) in &texts {
            for s in sentences(seg.as_ref(), text) {
                predicted += 1;
                if gold_set.contains(&(doc.clone(), s.start, s.end)) {
                    exact += 1;
                } else if corpus_diffs.len() < 12 {
                    corpus_diffs.push(format!(
                        "{doc} {}..{}: {:?}",
                        s.start,
                        s.end,
                        s.text.chars().take(90).collect::<String>()
                    ));
                }
                all_texts.insert(s.text);
            }
        }
        let hard = HARD_CORPUS_SENTENCES
            .iter()
            .filter(|h| all_texts.contains(**h))
            .count();
        let hard_missed: Vec<&str> = HARD_CORPUS_SENTENCES
            .iter()
            .filter(|h| !all_texts.contains(**h))
            .copied()
            .collect();
        let t = Instant::now();
        for _ in 0..20 {
            for (_, text) in &texts {
                std::hint::black_box(seg.split(text));
            }
        }
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        println!(
            "| {name} | {passed} | {exact} | {:.3} | {:.3} | {hard} | {ms:.1} |",
            exact as f64 / predicted.max(1) as f64,
            exact as f64 / gold.len() as f64,
        );
        failures.push_str(&format!(
            "\n### {name}\ngolden cases failed ({}): {}\n\nhard corpus sentences not whole ({}):\n",
            failed.len(),
            failed.join(", "),
            hard_missed.len()
        ));
        for h in hard_missed {
            failures.push_str(&format!("- {h:?}\n"));
        }
        failures.push_str("\nfirst predicted corpus sentences not in the gold:\n");
        for d in corpus_diffs {
            failures.push_str(&format!("- {d}\n"));
        }
    }
    println!("{failures}");
}
