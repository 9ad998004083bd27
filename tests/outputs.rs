//! Outputs: every `--out` appears whole or not at all, and the same input
//! gives the same bytes whatever the thread count.
//!
//! (Permission bits do not stop root, so an unwritable target is made here
//! as a missing directory, a path under a plain file, or a directory in the
//! way; the same check refuses a read-only directory for other users.)

mod common;
use common::*;

use std::fs;
use std::path::Path;

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Each command that writes `--out`, with the arguments it needs besides.
fn commands(train: &str) -> Vec<(&'static str, Vec<String>)> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        ("split", s(&["split", "eval/corpus"])),
        (
            "score",
            s(&["score", "eval/corpus", "--classifier", "keyword", "--quiet"]),
        ),
        (
            "eval",
            s(&[
                "eval",
                "--classifier",
                "keyword",
                "--format",
                "json",
                "--quiet",
            ]),
        ),
        (
            "compare",
            s(&[
                "compare",
                "eval/corpus",
                "--classifier",
                "keyword",
                "--quiet",
            ]),
        ),
        (
            "train",
            s(&["train", "--encoder", "minilm", "--gold", train, "--quiet"]),
        ),
    ]
}

#[test]
fn an_unwritable_out_is_a_clear_error_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let train = training_file(tmp.path());
    let work = tmp.path().join("work");
    fs::create_dir(&work).unwrap();
    fs::write(work.join("plain"), "a file, not a directory").unwrap();
    fs::create_dir(work.join("taken")).unwrap();
    let before = listing(&work);
    let targets = [
        (work.join("missing/out.json"), "is not a directory"),
        (work.join("plain/out.json"), "is not a directory"),
        (work.join("taken"), "it is a directory"),
    ];
    for (name, args) in commands(train.to_str().unwrap()) {
        for (target, why) in &targets {
            let mut args = args.clone();
            args.extend(["--out".to_string(), target.to_str().unwrap().to_string()]);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = stance(&args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
            assert!(
                stderr.contains(&format!("cannot write {}", target.display()))
                    && stderr.contains(why),
                "{name}: {stderr}"
            );
            assert!(out.stdout.is_empty(), "{name}");
            assert_eq!(listing(&work), before, "{name} left something behind");
            assert!(listing(&work.join("taken")).is_empty());
        }
    }
}

#[test]
fn every_out_appears_whole_with_no_temporary_file_beside_it() {
    let tmp = tempfile::tempdir().unwrap();
    let train = training_file(tmp.path());
    let work = tmp.path().join("work");
    fs::create_dir(&work).unwrap();
    for (name, args) in commands(train.to_str().unwrap()) {
        let target = work.join(format!("{name}.out"));
        let mut args = args.clone();
        args.extend(["--out".to_string(), target.to_str().unwrap().to_string()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = stance(&args);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{name} wrote to stdout too");
        let written = fs::read_to_string(&target).unwrap();
        assert!(written.ends_with('\n'), "{name}: output is complete");
        if name == "eval" || name == "compare" || name == "train" {
            serde_json::from_str::<serde_json::Value>(&written)
                .unwrap_or_else(|e| panic!("{name}: not whole JSON: {e}"));
        }
    }
    let names = listing(&work);
    assert_eq!(
        names,
        [
            "compare.out",
            "eval.out",
            "score.out",
            "split.out",
            "train.out"
        ],
        "one file per command, no temporary file"
    );
}

#[test]
fn scoring_gives_the_same_bytes_with_one_or_two_threads_and_across_runs() {
    let run = |threads: &str| {
        let out = stance(&[
            "score",
            "eval/corpus",
            "--format",
            "jsonl",
            "--threads",
            threads,
            "--quiet",
        ]);
        assert_success(&out);
        out.stdout
    };
    let one = run("1");
    let two = run("2");
    let two_again = run("2");
    assert!(one.len() > 10_000);
    assert!(one == two, "--threads 1 and --threads 2 differ");
    assert!(two == two_again, "two runs differ");
}
