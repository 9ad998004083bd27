//! The Apache Spark route: `eval/spark/score_rdd.py` runs pyspark in local
//! mode, pipes the partitions of a JSONL file of the corpus through
//! `stance score -` with `RDD.pipe`, and saves the records. The part files,
//! concatenated in partition order, must be the single-process output byte
//! for byte (same records, same order: input order).
//!
//! Needs Java (17 or later, for pyspark 4); without it the test prints why
//! and passes without running. pyspark comes from the Python package
//! registry: the test installs it into a virtual environment under the
//! target directory on first use (`CARGO_TARGET_TMPDIR/spark-venv`), so
//! `cargo test --release` stays the one command on a machine with Python
//! and pip.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The pyspark release the test installs (the script needs pyspark ≥ 3).
const PYSPARK: &str = "pyspark==4.3.0";

fn show(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Why the test cannot run here, when Java is missing.
fn java_missing() -> Option<String> {
    match Command::new("java").arg("-version").output() {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!("`java -version` failed: {}", show(&out))),
        Err(e) => Some(format!("no `java` on PATH ({e})")),
    }
}

/// A Python with pyspark: the virtual environment under the target
/// directory, created and filled from the package registry when missing.
fn python_with_pyspark() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("spark-venv");
    let python = venv.join("bin/python");
    let has_pyspark = |python: &Path| {
        Command::new(python)
            .args(["-c", "import pyspark"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if has_pyspark(&python) {
        return python;
    }
    eprintln!(
        "installing {PYSPARK} into {} (first run only)",
        venv.display()
    );
    let out = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "python3 -m venv: {}", show(&out));
    let out = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", PYSPARK])
        .output()
        .expect("pip runs");
    assert!(
        out.status.success(),
        "pip install {PYSPARK}: {}",
        show(&out)
    );
    assert!(has_pyspark(&python), "pyspark installed but not importable");
    python
}

/// The bundled corpus as one JSONL file of articles, ids from file stems.
fn corpus_jsonl(path: &Path) {
    let mut files: Vec<PathBuf> = fs::read_dir(common::corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    let lines: Vec<String> = files
        .iter()
        .map(|p| {
            let id = p.file_stem().unwrap().to_str().unwrap();
            serde_json::json!({"id": id, "text": fs::read_to_string(p).unwrap()}).to_string()
        })
        .collect();
    fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn rdd_pipe_over_partitions_equals_the_single_process_output() {
    if let Some(why) = java_missing() {
        eprintln!("SKIPPED: the Spark route needs Java 17 or later: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("corpus.jsonl");
    corpus_jsonl(&input);
    let stance = env!("CARGO_BIN_EXE_stance");

    // The single process, with MiniLM (the fast mode, as a large batch on
    // Spark would use it) and its shipped head; this also fetches the model
    // into the cache when it is not there yet.
    let single = Command::new(stance)
        .args([
            "score",
            "--quiet",
            "--format",
            "jsonl",
            "--encoder",
            "minilm",
        ])
        .arg(&input)
        .output()
        .unwrap();
    assert!(single.status.success(), "{}", show(&single));
    assert!(single.stdout.len() > 1000);

    let python = python_with_pyspark();
    let output = dir.path().join("scored");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("eval/spark/score_rdd.py");
    let run = Command::new(&python)
        .arg(script)
        .arg(&input)
        .arg(&output)
        .args([
            "--stance",
            stance,
            "--partitions",
            "2",
            "--master",
            "local[2]",
        ])
        .args(["--", "--offline", "--threads", "1", "--encoder", "minilm"])
        .env("PYSPARK_PYTHON", &python)
        .output()
        .unwrap();
    assert!(run.status.success(), "score_rdd.py: {}", show(&run));

    let mut parts: Vec<PathBuf> = fs::read_dir(&output)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("part-")
        })
        .collect();
    parts.sort();
    let outputs: Vec<Vec<u8>> = parts.iter().map(|p| fs::read(p).unwrap()).collect();
    assert!(
        outputs.iter().filter(|o| !o.is_empty()).count() >= 2,
        "at least two partitions scored something: {parts:?}"
    );
    let spark = outputs.concat();
    assert!(
        spark == single.stdout,
        "the Spark output ({} bytes) differs from the single process's ({} bytes)",
        spark.len(),
        single.stdout.len()
    );
}
