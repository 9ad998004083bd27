//! Inputs shared by the scale tests (`streaming.rs`, `memory.rs`).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The bundled corpus articles, in file order.
pub fn corpus_texts() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("eval/corpus");
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| fs::read_to_string(p).unwrap())
        .collect()
}

/// Writes `n` JSONL articles cycling through the corpus under new ids
/// (`a000000`, …); the 1-based `bad_lines` hold malformed records instead.
pub fn write_articles(path: &Path, n: usize, bad_lines: &[usize]) {
    let texts = corpus_texts();
    let mut out = std::io::BufWriter::new(fs::File::create(path).unwrap());
    for i in 0..n {
        if bad_lines.contains(&(i + 1)) {
            writeln!(out, "{{\"id\": \"broken{i}\", \"text\": ").unwrap();
        } else {
            let record =
                serde_json::json!({"id": format!("a{i:06}"), "text": texts[i % texts.len()]});
            writeln!(out, "{record}").unwrap();
        }
    }
    out.flush().unwrap();
}
