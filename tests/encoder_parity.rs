//! The Rust encoders against sentence-transformers' own vectors
//! (eval/fixtures/<model>_reference.json, made by make_encoder_fixture.py),
//! for each model: all-MiniLM-L6-v2 (BERT), all-mpnet-base-v2 (MPNet) and
//! EmbeddingGemma-300M (Gemma 3; its fixture is made by
//! make_gemma_fixture.py, with the Classification prompt stance uses).
//!
//! The models are obtained as the product obtains them: `provision::ensure`
//! with downloads allowed, so the first run fetches them into the cache, and
//! loaded through `embed::load`, which picks the architecture.

use std::path::PathBuf;
use std::sync::OnceLock;

use ndarray::Array2;
use stance::embed::mpnet::relative_position_bucket;
use stance::embed::{self, Encoder, EncoderOptions, Precision};
use stance::infra::provision::{self, FetchOptions, Manifest};

/// The checkout under test. `cargo test` sets CARGO_MANIFEST_DIR at run time
/// too; that one wins because worktrees sharing one CARGO_TARGET_DIR can run
/// a test binary compiled in another checkout.
fn repo_root() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(Into::into)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
}

/// A model under test and what its fixture must show.
struct Case {
    alias: &'static str,
    name: &'static str,
    dim: usize,
    /// sentence-transformers' max_seq_length, which the encoder must take
    /// from the model's files when not told otherwise.
    max_seq_length: usize,
    /// Truncation lengths that would give other vectors: tokenizer.json's
    /// 128, and for MPNet the 512 its positions allow.
    wrong_truncations: &'static [usize],
    /// The forward pass under test.
    precision: Precision,
}

const MINILM: Case = Case {
    alias: "minilm",
    name: "all-MiniLM-L6-v2",
    dim: 384,
    max_seq_length: 256,
    wrong_truncations: &[128],
    precision: Precision::Reference,
};

/// Our own forward pass (`--precision fp32`) on the same fixture.
const MINILM_FP32: Case = Case {
    precision: Precision::Fp32,
    ..MINILM
};

const MPNET: Case = Case {
    alias: "mpnet",
    name: "all-mpnet-base-v2",
    dim: 768,
    max_seq_length: 384,
    wrong_truncations: &[128, 512],
    precision: Precision::Reference,
};

/// Our own MPNet pass (`--precision fp32`): BERT's fast stack with the
/// relative position bias, on the same fixture (three of its sentences are
/// cut at the 384-token limit).
const MPNET_FP32: Case = Case {
    precision: Precision::Fp32,
    ..MPNET
};

/// EmbeddingGemma: 512 is the truncation a tokenizer or position default
/// could plausibly impose instead of sentence-transformers' 2048.
const GEMMA: Case = Case {
    alias: "gemma",
    name: "embeddinggemma-300m",
    dim: 768,
    max_seq_length: 2048,
    wrong_truncations: &[512],
    precision: Precision::Reference,
};

/// Our own Gemma pass (`--precision fp32`) on the same fixture.
const GEMMA_FP32: Case = Case {
    precision: Precision::Fp32,
    ..GEMMA
};

struct Reference {
    json: serde_json::Value,
    texts: Vec<String>,
    tokens: Vec<usize>,
    vectors: Vec<Vec<f32>>,
}

fn reference(case: &Case) -> Reference {
    let path = repo_root().join(format!("eval/fixtures/{}_reference.json", case.alias));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(json["model"], case.name);
    assert_eq!(json["max_seq_length"], case.max_seq_length);
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
        json,
    }
}

fn model_dir(case: &Case) -> &'static PathBuf {
    // One cell per model, so parallel tests wait for a single fetch.
    static MINILM_DIR: OnceLock<PathBuf> = OnceLock::new();
    static MPNET_DIR: OnceLock<PathBuf> = OnceLock::new();
    static GEMMA_DIR: OnceLock<PathBuf> = OnceLock::new();
    let cell = match case.alias {
        "minilm" => &MINILM_DIR,
        "mpnet" => &MPNET_DIR,
        "gemma" => &GEMMA_DIR,
        other => panic!("no cache cell for {other}"),
    };
    cell.get_or_init(|| {
        let manifest = Manifest::builtin(case.alias).unwrap();
        let opts = FetchOptions {
            offline: false,
            progress: true,
            index_url: None,
        };
        provision::ensure(&manifest, &opts).unwrap_or_else(|e| panic!("{e}"))
    })
}

fn encoder(case: &Case, batch_size: usize, max_tokens: Option<usize>) -> Box<dyn Encoder> {
    embed::load(
        model_dir(case),
        EncoderOptions {
            batch_size,
            max_tokens,
            precision: Some(case.precision),
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

fn encode(enc: &dyn Encoder, texts: &[String]) -> Array2<f32> {
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

fn matches_sentence_transformers(case: &Case) {
    let r = reference(case);
    // Default options: the truncation comes from sentence_bert_config.json.
    let enc = encoder(case, 32, None);
    assert_eq!(enc.name(), case.name);
    assert_eq!(enc.dim(), case.dim);
    assert_eq!(enc.precision(), case.precision);
    let got = encode(enc.as_ref(), &r.texts);
    assert_eq!(got.nrows(), r.texts.len());

    let mut worst = (f64::INFINITY, 0);
    let mut total = 0f64;
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
        total += c;
        if c < worst.0 {
            worst = (c, i);
        }
        assert!(c >= 0.9999, "cosine {c:.7} for {:?}", r.texts[i]);
    }
    eprintln!(
        "parity {} ({}): {} sentences, mean cosine {:.9}, min cosine {:.9} (1 - cos = {:.1e}; \
         {:?}, {} tokens), max |component difference| {max_diff:.1e}",
        case.name,
        case.precision,
        r.texts.len(),
        total / r.texts.len() as f64,
        worst.0,
        1.0 - worst.0,
        r.texts[worst.1].chars().take(40).collect::<String>(),
        r.tokens[worst.1]
    );
}

/// The fixture must be able to catch a wrong truncation length (the
/// tokenizer.json default of 128, or the model's position limit): encoding
/// with it has to miss the reference on the items it cuts differently.
fn fixture_detects_wrong_truncation(case: &Case) {
    let r = reference(case);
    for &wrong in case.wrong_truncations {
        // Items cut differently by at least 10 tokens.
        let shorter = wrong.min(case.max_seq_length);
        let long: Vec<usize> = (0..r.texts.len())
            .filter(|&i| r.tokens[i] >= shorter + 10)
            .collect();
        assert!(
            long.len() >= 2,
            "fixture needs sentences over {} tokens",
            shorter + 10
        );
        let got = encode(encoder(case, 32, Some(wrong)).as_ref(), &r.texts);
        for i in long {
            let c = cosine(&got.row(i).to_vec(), &r.vectors[i]);
            assert!(
                c < 0.999,
                "item {i} ({} tokens) insensitive to truncation at {wrong}: {c}",
                r.tokens[i]
            );
        }
    }
}

fn batch_size_does_not_change_vectors(case: &Case) {
    let r = reference(case);
    let a = encode(encoder(case, 32, None).as_ref(), &r.texts);
    let b = encode(encoder(case, 1, None).as_ref(), &r.texts);
    let c = encode(encoder(case, 5, None).as_ref(), &r.texts);
    let d1 = max_abs_diff(&a, &b);
    let d5 = max_abs_diff(&a, &c);
    eprintln!(
        "{}: max |batch32 - batch1| = {d1:e}, max |batch32 - batch5| = {d5:e}",
        case.name
    );
    assert!(d1 <= 1e-6 && d5 <= 1e-6, "{d1} {d5}");
}

fn order_is_preserved_and_runs_are_bit_identical(case: &Case) {
    let r = reference(case);
    let enc = encoder(case, 4, None);
    let forward = encode(enc.as_ref(), &r.texts);
    assert_eq!(
        forward,
        encode(enc.as_ref(), &r.texts),
        "same input, same bits"
    );

    let reversed: Vec<String> = r.texts.iter().rev().cloned().collect();
    let backward = encode(enc.as_ref(), &reversed);
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

macro_rules! parity_tests {
    ($($model:ident => $case:expr),* $(,)?) => {$(
        mod $model {
            #[test]
            fn matches_sentence_transformers() {
                super::matches_sentence_transformers(&$case)
            }
            #[test]
            fn fixture_detects_wrong_truncation() {
                super::fixture_detects_wrong_truncation(&$case)
            }
            #[test]
            fn batch_size_does_not_change_vectors() {
                super::batch_size_does_not_change_vectors(&$case)
            }
            #[test]
            fn order_is_preserved_and_runs_are_bit_identical() {
                super::order_is_preserved_and_runs_are_bit_identical(&$case)
            }
        }
    )*};
}

parity_tests!(
    minilm => super::MINILM,
    minilm_fp32 => super::MINILM_FP32,
    mpnet => super::MPNET,
    mpnet_fp32 => super::MPNET_FP32,
    gemma => super::GEMMA,
    gemma_fp32 => super::GEMMA_FP32,
);

/// The Gemma fixture was made with the prompt stance reads from the model's
/// config_sentence_transformers.json, and exercises the sliding-window band
/// (257 tokens) and English and French.
#[test]
fn gemma_fixture_uses_the_classification_prompt_and_long_inputs() {
    let r = reference(&GEMMA);
    assert_eq!(r.json["prompt_name"], "Classification");
    assert_eq!(r.json["prompt"], "task: classification | query: ");
    assert!(r.texts.len() >= 20);
    assert!(r.tokens.iter().any(|&n| n > 600), "{:?}", r.tokens);
    assert!(r.texts.iter().any(|t| t.contains(" les ")));
}

/// MPNet's attention bias depends on bucketing every relative position
/// exactly as torch does, float rounding included.
#[test]
fn mpnet_relative_position_buckets_match_torch() {
    let r = reference(&MPNET);
    let table = &r.json["relative_position_buckets"];
    let num_buckets = table["num_buckets"].as_u64().unwrap() as u32;
    let max_distance = table["max_distance"].as_u64().unwrap() as u32;
    let first = table["first_relative_position"].as_i64().unwrap();
    let buckets = table["buckets"].as_array().unwrap();
    assert!(buckets.len() >= 1023, "every distance of a 512-token input");
    for (k, want) in buckets.iter().enumerate() {
        let rel = first + k as i64;
        assert_eq!(
            u64::from(relative_position_bucket(rel, num_buckets, max_distance)),
            want.as_u64().unwrap(),
            "relative position {rel}"
        );
    }
}
