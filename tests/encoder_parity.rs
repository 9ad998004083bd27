//! The Rust encoder against sentence-transformers' own vectors
//! (eval/fixtures/minilm_reference.json, made by make_encoder_fixture.py).
//!
//! The model is obtained as the product obtains it: `provision::ensure` with
//! downloads allowed, so the first run fetches it into the cache.

use std::path::PathBuf;
use std::sync::OnceLock;

use ndarray::Array2;
use stance::embed::{BertEncoder, Encoder, EncoderOptions};
use stance::provision::{self, FetchOptions, Manifest};

/// The checkout under test. `cargo test` sets CARGO_MANIFEST_DIR at run time
/// too; that one wins because worktrees sharing one CARGO_TARGET_DIR can run
/// a test binary compiled in another checkout.
fn repo_root() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(Into::into)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
}

struct Reference {
    texts: Vec<String>,
    tokens: Vec<usize>,
    vectors: Vec<Vec<f32>>,
}

fn reference() -> Reference {
    let path = repo_root().join("eval/fixtures/minilm_reference.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let items = json["items"].as_array().unwrap();
    Reference {
        texts: items
            .iter()
            .map(|i| i["text"].as_str().unwrap().to_string())
            .collect(),
        tokens: items
            .iter()
            .map(|i| i["tokens"].as_u64().unwrap() as usize)
            .collect(),
        vectors: items
            .iter()
            .map(|i| {
                i["vector"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap() as f32)
                    .collect()
            })
            .collect(),
    }
}

fn model_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let manifest = Manifest::builtin("minilm").unwrap();
        let opts = FetchOptions {
            offline: false,
            progress: true,
            index_url: None,
        };
        provision::ensure(&manifest, &opts).unwrap_or_else(|e| panic!("{e}"))
    })
}

fn encoder(batch_size: usize, max_tokens: usize) -> BertEncoder {
    BertEncoder::load(
        model_dir(),
        EncoderOptions {
            batch_size,
            max_tokens: Some(max_tokens),
        },
    )
    .unwrap()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

fn encode(enc: &BertEncoder, texts: &[String]) -> Array2<f32> {
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    enc.encode(&refs).unwrap()
}

fn max_abs_diff(a: &Array2<f32>, b: &Array2<f32>) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn matches_sentence_transformers() {
    let r = reference();
    let enc = encoder(32, 256);
    assert_eq!(enc.name(), "all-MiniLM-L6-v2");
    assert_eq!(enc.dim(), 384);
    let got = encode(&enc, &r.texts);
    assert_eq!(got.nrows(), r.texts.len());

    let mut worst = (f64::INFINITY, 0);
    let mut max_diff = 0f32;
    for (i, want) in r.vectors.iter().enumerate() {
        let row = got.row(i).to_vec();
        max_diff = row
            .iter()
            .zip(want)
            .map(|(x, y)| (x - y).abs())
            .fold(max_diff, f32::max);
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "row {i} not unit: {norm}");
        let c = cosine(&row, want);
        if c < worst.0 {
            worst = (c, i);
        }
        assert!(c >= 0.9999, "cosine {c:.7} for {:?}", r.texts[i]);
    }
    eprintln!(
        "parity: {} sentences, min cosine {:.9} (1 - cos = {:.1e}; {:?}, {} tokens), \
         max |component difference| {max_diff:.1e}",
        r.texts.len(),
        worst.0,
        1.0 - worst.0,
        r.texts[worst.1].chars().take(40).collect::<String>(),
        r.tokens[worst.1]
    );
}

/// The fixture must be able to catch the tokenizer.json default (truncate at
/// 128): encoding with it has to miss the reference on the long items.
#[test]
fn fixture_detects_wrong_truncation() {
    let r = reference();
    let long: Vec<usize> = (0..r.texts.len()).filter(|&i| r.tokens[i] > 128).collect();
    assert!(long.len() >= 2, "fixture needs sentences over 128 tokens");
    let got = encode(&encoder(32, 128), &r.texts);
    for i in long {
        let c = cosine(&got.row(i).to_vec(), &r.vectors[i]);
        assert!(
            c < 0.999,
            "item {i} ({} tokens) insensitive to truncation: {c}",
            r.tokens[i]
        );
    }
}

#[test]
fn batch_size_does_not_change_vectors() {
    let r = reference();
    let a = encode(&encoder(32, 256), &r.texts);
    let b = encode(&encoder(1, 256), &r.texts);
    let c = encode(&encoder(5, 256), &r.texts);
    let d1 = max_abs_diff(&a, &b);
    let d5 = max_abs_diff(&a, &c);
    eprintln!("max |batch32 - batch1| = {d1:e}, max |batch32 - batch5| = {d5:e}");
    assert!(d1 <= 1e-6 && d5 <= 1e-6, "{d1} {d5}");
}

#[test]
fn order_is_preserved_and_runs_are_bit_identical() {
    let r = reference();
    let enc = encoder(4, 256);
    let forward = encode(&enc, &r.texts);
    assert_eq!(forward, encode(&enc, &r.texts), "same input, same bits");

    let reversed: Vec<String> = r.texts.iter().rev().cloned().collect();
    let backward = encode(&enc, &reversed);
    let n = r.texts.len();
    for i in 0..n {
        let d = forward
            .row(i)
            .iter()
            .zip(backward.row(n - 1 - i).iter())
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(d <= 1e-6, "row {i} moved or changed: {d}");
    }
    assert!(enc.encode(&[]).unwrap().is_empty());
}
