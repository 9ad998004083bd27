//! `--encoder minilm|mpnet|gemma`: the commands that embed load the encoder named,
//! trained heads record it, and a head is refused on another encoder.
//! The models are fetched the way the product fetches them (first use).

mod common;
use common::*;

use stance::classify::linear::LinearHead;
use stance::corpus::{Article, Metadata, Origin};
use stance::embed::{self, EncoderOptions};
use stance::infra::provision::{self, FetchOptions, Manifest};
use stance::pipeline::Scorer;
use stance::segment::RuleSegmenter;

fn encoder(alias: &str) -> Box<dyn embed::Encoder> {
    let manifest = Manifest::builtin(alias).unwrap();
    let dir = provision::ensure(&manifest, &FetchOptions::default()).unwrap();
    embed::load(&dir, EncoderOptions::default()).unwrap()
}

const TEXT: &str = "Bamako wants talks with the jihadists. Paris refuses any negotiation.";

fn article() -> Article {
    Article {
        id: "t".into(),
        text: TEXT.into(),
        meta: Metadata::default(),
        origin: Origin {
            path: "t.txt".into(),
            line: None,
        },
    }
}

#[test]
fn heads_record_their_encoder_and_are_refused_on_another() {
    let tmp = tempfile::tempdir().unwrap();
    let train = training_file(tmp.path());
    let segmenter = RuleSegmenter::default();
    let encoders = [
        ("minilm", encoder("minilm")),
        ("mpnet", encoder("mpnet")),
        ("gemma", encoder("gemma")),
    ];
    for (i, (alias, enc)) in encoders.iter().enumerate() {
        let out_path = tmp.path().join(format!("{alias}.json"));
        assert_success(&stance(&[
            "train",
            "--gold",
            train.to_str().unwrap(),
            "--encoder",
            alias,
            "--out",
            out_path.to_str().unwrap(),
            "--quiet",
        ]));
        let head = LinearHead::load(&out_path).unwrap();
        assert_eq!(head.encoder, enc.name());
        assert_eq!(head.dim(), enc.dim());

        let scorer = |encoder: &dyn embed::Encoder| {
            Scorer {
                segmenter: &segmenter,
                encoder: Some(encoder),
                classifier: &head,
                attributor: None,
            }
            .score(&[article()])
        };
        let scored = scorer(enc.as_ref()).unwrap();
        assert_eq!(scored[0].len(), 2);

        let other = encoders[(i + 1) % encoders.len()].1.as_ref();
        let err = scorer(other).unwrap_err().to_string();
        assert!(
            err.contains(enc.name()) && err.contains(other.name()),
            "{err}"
        );
    }
}

#[test]
fn score_runs_the_zero_shot_classifier_on_every_encoder() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("t.txt");
    std::fs::write(&input, TEXT).unwrap();
    let scores = |alias: &str| -> Vec<serde_json::Value> {
        let out = stance(&[
            "score",
            input.to_str().unwrap(),
            "--classifier",
            "zero-shot",
            "--encoder",
            alias,
            "--format",
            "jsonl",
            "--quiet",
        ]);
        assert_success(&out);
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["scores"].clone())
            .collect()
    };
    let minilm = scores("minilm");
    let mpnet = scores("mpnet");
    let gemma = scores("gemma");
    assert_eq!(minilm.len(), 2);
    assert_eq!(mpnet.len(), 2);
    assert_eq!(gemma.len(), 2);
    for s in mpnet.iter().chain(&gemma) {
        let total: f64 = s
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_f64().unwrap())
            .sum();
        assert!((total - 1.0).abs() < 1e-3, "{s}");
    }
    assert_ne!(minilm, mpnet, "--encoder must change the vectors");
    assert_ne!(mpnet, gemma, "--encoder must change the vectors");
}

#[test]
fn unknown_encoder_lists_the_known_ones() {
    let out = stance(&["score", "eval/corpus", "--encoder", "nope", "--quiet"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("minilm") && stderr.contains("mpnet") && stderr.contains("gemma"),
        "{stderr}"
    );
}

#[test]
fn setfit_is_refused_on_an_encoder_it_cannot_fine_tune() {
    let tmp = tempfile::tempdir().unwrap();
    let train = training_file(tmp.path());
    let out = stance(&[
        "train",
        "--gold",
        train.to_str().unwrap(),
        "--encoder",
        "gemma",
        "--classifier",
        "setfit",
        "--out",
        tmp.path().join("setfit.json").to_str().unwrap(),
        "--quiet",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("SetFit fine-tunes BERT encoders only")
            && stderr.contains("embeddinggemma-300m"),
        "{stderr}"
    );
}
