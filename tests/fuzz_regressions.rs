//! Every crash the fuzzers (`fuzz/`, README "Fuzzing") found, kept as a
//! test: the input that crashed, run through the same checks the fuzz target
//! makes (`fuzz/fuzz_targets/checks.rs`, shared here), so a fixed crash
//! stays fixed under `cargo test`. Crashing inputs are in
//! `tests/data/fuzz/<target>/`, as found and minimized.

#[path = "../fuzz/fuzz_targets/checks.rs"]
mod checks;

use std::path::{Path, PathBuf};

fn data(rel: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

/// `pipeline`, three minutes into its first run: when attribution split a
/// sentence into clauses, the target cues of a clause were found in the
/// clause but their offsets used on the whole sentence, which named the wrong
/// words (silently) or sliced inside a multi-byte character (a panic). Here
/// the U+FFFD that replaces the invalid byte shifts "Katiba Macina" by two.
#[test]
fn pipeline_clause_target_cues_are_read_in_their_clause() {
    let minimized = data("tests/data/fuzz/pipeline/crash-239e9306-minimized");
    assert_eq!(minimized, b"\xff, and  Katiba Macina h");
    checks::pipeline(&minimized);
    checks::pipeline(&data(
        "tests/data/fuzz/pipeline/crash-239e93060075872d624f2bc526c05e3bbcbb57d0",
    ));
}

/// `pipeline`, two minutes into its second run: the subject rule cut the
/// words before an actor after the last clause mark, one byte past it,
/// inside an em dash (three bytes): any sentence with "—" right before a
/// name, as "—Algiers", stopped the whole run.
#[test]
fn pipeline_an_em_dash_before_an_actor() {
    let minimized = data("tests/data/fuzz/pipeline/crash-26629bda-minimized");
    assert_eq!(minimized, "—Algiers".as_bytes());
    checks::pipeline(&minimized);
    checks::pipeline(&data(
        "tests/data/fuzz/pipeline/crash-26629bda02fb93cfed4bd1bcfd05f932b31dff33",
    ));
}

/// The seeds every fuzzer starts from pass every check: a seed that failed
/// would stop a run before it explores anything.
#[test]
fn every_seed_passes_every_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = Vec::new();
    let mut dirs = vec![
        root.join("eval/corpus"),
        root.join("tests/data/nasty"),
        root.join("fuzz/seeds"),
    ];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() > 15, "{files:?}");
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        checks::split(&bytes);
        checks::readers(&bytes);
        checks::pipeline(&bytes);
        let _ = checks::gold(&bytes);
    }
}

/// The gold seed is a valid gold file for the fuzzer's articles, so the
/// fuzzer starts on the path where records load and their spans are checked.
#[test]
fn the_gold_seed_loads() {
    let gold = checks::gold(&data("fuzz/seeds/gold/valid.jsonl")).expect("the seed loads");
    assert_eq!(gold.records.len(), 5);
    assert!(gold.records.iter().any(|r| r.mixed));
}

/// The adversarial shapes of `stance bench scaling` (what `fuzz/run.sh`
/// seeds from `fuzz/seeds-large/`) at 100 KB pass the split, readers and
/// pipeline checks: long stretches with no boundary come as pieces, and
/// nothing in them panics. (How fast is the benchmark's business.)
#[test]
fn large_adversarial_pages_pass_every_check() {
    use stance::adversarial::{text, Shape};
    for shape in Shape::ALL {
        let page = text(shape, 100_000);
        checks::split(page.as_bytes());
        checks::readers(page.as_bytes());
        checks::pipeline(page.as_bytes());
    }
}
