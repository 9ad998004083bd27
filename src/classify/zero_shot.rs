//! The classifier that needs no training data: cosine similarity between a
//! sentence and hypothesis sentences that describe each label.
//!
//! The hypotheses live in `models/zero-shot.toml` (written from the
//! annotation standard, never copied from corpus sentences). A sentence's
//! similarity to a label is the mean of its `top_k` best cosines to that
//! label's hypotheses; scores are `softmax(similarity / temperature + ln prior)`.

use super::{softmax, Batch, Classifier};
use crate::embed::Encoder;
use crate::stance::{Scores, Stance};
use anyhow::{bail, ensure, Context, Result};
use ndarray::{Array2, Axis};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The label descriptions shipped with the crate.
pub const BUILTIN_DESCRIPTIONS: &str = include_str!("../../models/zero-shot.toml");

/// The contents of a label-description file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelDescriptions {
    pub name: String,
    /// The encoders (their `name()`s) the descriptions may be used with.
    pub encoders: Vec<String>,
    pub top_k: usize,
    pub temperature: f32,
    pub labels: BTreeMap<String, LabelDescription>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelDescription {
    pub prior: f32,
    pub hypotheses: Vec<String>,
}

impl LabelDescriptions {
    pub fn parse(toml_text: &str, origin: &str) -> Result<Self> {
        let parsed: LabelDescriptions = toml::from_str(toml_text)
            .with_context(|| format!("{origin}: bad label descriptions"))?;
        parsed
            .validate()
            .with_context(|| format!("{origin}: bad label descriptions"))?;
        Ok(parsed)
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }

    pub fn builtin() -> Self {
        Self::parse(BUILTIN_DESCRIPTIONS, "models/zero-shot.toml")
            .expect("the bundled label descriptions are valid")
    }

    fn validate(&self) -> Result<()> {
        ensure!(!self.encoders.is_empty(), "no encoders listed");
        ensure!(self.top_k >= 1, "top_k must be at least 1");
        ensure!(self.temperature > 0.0, "temperature must be positive");
        for label in Stance::ALL {
            let Some(desc) = self.labels.get(label.as_str()) else {
                bail!("no description for label {label}");
            };
            ensure!(desc.prior > 0.0, "{label}: prior must be positive");
            ensure!(!desc.hypotheses.is_empty(), "{label}: no hypotheses");
        }
        if let Some(extra) = self.labels.keys().find(|k| k.parse::<Stance>().is_err()) {
            bail!("unknown label {extra:?}");
        }
        Ok(())
    }
}

/// Zero-shot classifier: hypothesis embeddings per label, computed once.
pub struct ZeroShot {
    descriptions: LabelDescriptions,
    encoder_name: String,
    /// Hypothesis vectors of each label, in the order of [`Stance::ALL`].
    hypotheses: [Array2<f32>; 3],
}

impl ZeroShot {
    /// Embeds the hypotheses with `encoder`, which must be one of those the
    /// descriptions list.
    pub fn new(descriptions: LabelDescriptions, encoder: &dyn Encoder) -> Result<Self> {
        ensure!(
            descriptions.encoders.iter().any(|e| e == encoder.name()),
            "label descriptions {:?} are for encoders {:?}, not {:?}",
            descriptions.name,
            descriptions.encoders,
            encoder.name()
        );
        let embed = |label: Stance| -> Result<Array2<f32>> {
            let texts: Vec<&str> = descriptions.labels[label.as_str()]
                .hypotheses
                .iter()
                .map(String::as_str)
                .collect();
            encoder.encode(&texts)
        };
        let hypotheses = [
            embed(Stance::Pro)?,
            embed(Stance::Anti)?,
            embed(Stance::Neutral)?,
        ];
        Ok(ZeroShot {
            encoder_name: encoder.name().to_string(),
            descriptions,
            hypotheses,
        })
    }

    /// Similarity of one unit vector to each label (mean of the top-k cosines).
    fn similarities(&self, embedding: ndarray::ArrayView1<f32>) -> [f32; 3] {
        let k = self.descriptions.top_k;
        let mut out = [0.0; 3];
        for (slot, hyps) in out.iter_mut().zip(&self.hypotheses) {
            let mut cos: Vec<f32> = hyps.dot(&embedding).to_vec();
            cos.sort_by(|a, b| b.total_cmp(a));
            let take = k.min(cos.len());
            *slot = cos[..take].iter().sum::<f32>() / take as f32;
        }
        out
    }
}

impl Classifier for ZeroShot {
    fn name(&self) -> &str {
        &self.descriptions.name
    }

    fn encoder(&self) -> Option<&str> {
        Some(&self.encoder_name)
    }

    fn classify(&self, batch: Batch<'_>) -> Result<Vec<Scores>> {
        let t = self.descriptions.temperature;
        let log_prior = Stance::ALL.map(|l| self.descriptions.labels[l.as_str()].prior.ln());
        Ok(batch
            .embeddings
            .axis_iter(Axis(0))
            .map(|row| {
                let sim = self.similarities(row);
                let logits = [0, 1, 2].map(|i| sim[i] / t + log_prior[i]);
                Scores(softmax(logits))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// A toy encoder: each text's vector is a fixed unit axis chosen by a
    /// keyword. It goes by the name of a real encoder, which the
    /// descriptions check.
    struct KeywordAxes(&'static str);
    impl Encoder for KeywordAxes {
        fn name(&self) -> &str {
            self.0
        }
        fn dim(&self) -> usize {
            3
        }
        fn encode(&self, texts: &[&str]) -> Result<Array2<f32>> {
            let mut out = Array2::zeros((texts.len(), 3));
            for (i, t) in texts.iter().enumerate() {
                let t = t.to_lowercase();
                let axis = if t.contains("never")
                    || t.contains("no dialogue")
                    || t.contains("rejected")
                    || t.contains("refused")
                    || t.contains("red line")
                    || t.contains("skeptical")
                    || t.contains("dangerous")
                    || t.contains("reward")
                    || t.contains("pas de")
                {
                    1
                } else if t.contains("negotiat")
                    || t.contains("talks")
                    || t.contains("dialogue")
                    || t.contains("ceasefire")
                    || t.contains("political solution")
                {
                    0
                } else {
                    2
                };
                out[[i, axis]] = 1.0;
            }
            Ok(out)
        }
    }

    #[test]
    fn builtin_descriptions_are_valid() {
        let d = LabelDescriptions::builtin();
        for label in Stance::ALL {
            assert!(d.labels[label.as_str()].hypotheses.len() >= 5, "{label}");
        }
    }

    #[test]
    fn scores_follow_similarity_and_sum_to_one() {
        let toy = KeywordAxes("all-MiniLM-L6-v2");
        let zs = ZeroShot::new(LabelDescriptions::builtin(), &toy).unwrap();
        let texts = ["They want talks.", "We refused.", "It rained."];
        let emb = toy.encode(&texts).unwrap();
        let scores = zs
            .classify(Batch {
                texts: &texts,
                embeddings: emb.view(),
                previous: None,
            })
            .unwrap();
        let labels: Vec<Stance> = scores.iter().map(Scores::argmax).collect();
        assert_eq!(labels, [Stance::Pro, Stance::Anti, Stance::Neutral]);
        for s in scores {
            assert!((s.0.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
    }

    #[test]
    fn serves_every_listed_encoder_and_refuses_others() {
        for name in [
            "all-MiniLM-L6-v2",
            "all-mpnet-base-v2",
            "embeddinggemma-300m",
        ] {
            let zs = ZeroShot::new(LabelDescriptions::builtin(), &KeywordAxes(name)).unwrap();
            assert_eq!(zs.encoder(), Some(name));
        }
        let err = ZeroShot::new(LabelDescriptions::builtin(), &KeywordAxes("other-model"))
            .err()
            .unwrap();
        assert!(err.to_string().contains("other-model"), "{err}");
        let mut d = LabelDescriptions::builtin();
        d.encoders = vec!["all-mpnet-base-v2".into()];
        assert!(ZeroShot::new(d, &KeywordAxes("all-MiniLM-L6-v2")).is_err());
    }

    #[test]
    fn refuses_descriptions_with_missing_labels_or_no_encoder() {
        let broken = BUILTIN_DESCRIPTIONS.replace("[labels.neutral]", "[labels.neutre]");
        let err = LabelDescriptions::parse(&broken, "x.toml").unwrap_err();
        assert!(format!("{err:#}").contains("neutral"), "{err:#}");
        let none = BUILTIN_DESCRIPTIONS.replace(
            "encoders = [\"all-MiniLM-L6-v2\", \"all-mpnet-base-v2\", \"embeddinggemma-300m\"]",
            "encoders = []",
        );
        let err = LabelDescriptions::parse(&none, "x.toml").unwrap_err();
        assert!(format!("{err:#}").contains("no encoders"), "{err:#}");
    }
}
