//! Peak memory of `stance score` on a stream does not grow with the input:
//! 10,000 articles within 10% of 1,000.
//!
//! A test binary of its own, with one test: a child's peak RSS as the
//! kernel reports it (`ru_maxrss` of `wait4`) also counts the parent's
//! resident memory at the moment of spawning, so the parent must stay small
//! (no other test's buffers beside it, outputs read as a stream); the test
//! checks that it is.

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Peak resident memory of a finished child, in KiB, and its exit code.
fn wait_for_peak_rss_kib(child: Child) -> (i32, i64) {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet reaped (std never waits on
    // it: the Child is forgotten below).
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    std::mem::forget(child);
    (libc::WEXITSTATUS(status), usage.ru_maxrss)
}

/// This process's resident memory now, in KiB.
fn own_rss_kib() -> i64 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Distinct documents in a `stance score` JSONL output, read line by line.
fn count_docs(path: &Path) -> usize {
    #[derive(serde::Deserialize)]
    struct Record {
        doc: String,
    }
    let (mut docs, mut last) = (0, String::new());
    for line in BufReader::new(fs::File::open(path).unwrap()).lines() {
        let record: Record = serde_json::from_str(&line.unwrap()).unwrap();
        if record.doc != last {
            docs += 1;
            last = record.doc;
        }
    }
    docs
}

/// Both inputs cycle the five corpus articles (full length, 3.6 to 19 kB
/// each) under new ids: 8 MB and 81 MB of JSONL on stdin. The `keyword`
/// classifier keeps the test cheap and honest: it reads no embeddings, so
/// `stance score` never loads the encoder (`needs_encoder` in
/// `src/cli/score.rs`: a real saving for every text-only classifier, not a
/// test switch), and what is measured is the streaming itself: reading,
/// windows of 64 articles, splitting, attribution, writing. Were articles
/// or records held across windows, the larger run would need some 70 MB
/// more; what does grow is the duplicate-id table, 16 bytes an article.
/// (The encoder adds a fixed amount, the model and one window's batches.)
#[test]
fn peak_memory_does_not_grow_with_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let mut peaks = Vec::new();
    for n in [1_000, 10_000] {
        let input = dir.path().join(format!("in-{n}.jsonl"));
        common::write_articles(&input, n, &[]);
        let output = dir.path().join(format!("out-{n}.jsonl"));
        let parent_kib = own_rss_kib();
        let child = Command::new(env!("CARGO_BIN_EXE_stance"))
            .args([
                "score",
                "-",
                "--classifier",
                "keyword",
                "--threads",
                "2",
                "--quiet",
            ])
            .stdin(fs::File::open(&input).unwrap())
            .stdout(fs::File::create(&output).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let (code, peak_kib) = wait_for_peak_rss_kib(child);
        assert_eq!(code, 0);
        assert_eq!(count_docs(&output), n, "every article scored");
        fs::remove_file(&input).unwrap();
        fs::remove_file(&output).unwrap();
        eprintln!("{n} articles: peak RSS {peak_kib} KiB (this test process: {parent_kib} KiB)");
        assert!(
            parent_kib * 2 < peak_kib,
            "the test process ({parent_kib} KiB) is too big to measure its child ({peak_kib} KiB)"
        );
        peaks.push(peak_kib as f64);
    }
    let growth = peaks[1] / peaks[0] - 1.0;
    assert!(
        growth < 0.10,
        "peak RSS grew by {:.1}% from 1,000 to 10,000 articles ({} → {} KiB)",
        growth * 100.0,
        peaks[0],
        peaks[1]
    );
}
