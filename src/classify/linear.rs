//! A linear head on sentence embeddings: multinomial logistic regression
//! with class weights and L2 regularisation.
//!
//! Training is full-batch, with Nesterov's accelerated gradient and a fixed
//! number of steps (`logistic.rs`), so the same data gives the same
//! bits on every machine (no random initialisation, no data order). The strength of the
//! regularisation is chosen inside the training data by grouped
//! cross-validation (the caller says which document each example comes
//! from), never on the documents a head is evaluated on.

use super::logistic::fit;
use super::train::{Examples, Trainer};
use super::{cues, softmax, Batch, Classifier};
use crate::metrics::Confusion;
use crate::stance::{Scores, Stance};
use anyhow::{bail, ensure, Context, Result};
use ndarray::{s, Array1, Array2, ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Hyper-parameters of a linear head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearConfig {
    /// Which features beside the sentence embedding the head reads.
    #[serde(default)]
    pub features: FeatureConfig,
    /// Candidate L2 strengths (on the mean loss); the best by grouped
    /// cross-validation macro-F1 is kept.
    pub lambdas: Vec<f64>,
    /// Gradient steps.
    pub steps: usize,
    /// Weight each class by n / (3 · count) so rare stances count as much
    /// as the common neutral one.
    pub balanced: bool,
}

impl Default for LinearConfig {
    fn default() -> Self {
        LinearConfig {
            features: FeatureConfig::default(),
            lambdas: vec![1e-4, 1e-3, 1e-2, 1e-1],
            steps: 600,
            balanced: true,
        }
    }
}

/// Features beside the sentence embedding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureConfig {
    /// Append the previous sentence's embedding (quotes continued over
    /// sentences, "This is why ...").
    #[serde(default)]
    pub context: bool,
    /// Append the cue-word flags of [`super::cues`] (negation, rejection,
    /// acceptance, scepticism, necessity, question, quotation).
    #[serde(default)]
    pub cues: bool,
}

impl FeatureConfig {
    /// The number of features for `d`-dimensional embeddings.
    pub fn width(&self, d: usize) -> usize {
        d + if self.context { d } else { 0 } + if self.cues { cues::COUNT } else { 0 }
    }

    /// The extras, for messages: "", " + previous sentence", ...
    fn describe(&self) -> String {
        let mut s = String::new();
        if self.context {
            s.push_str(" + the previous sentence's");
        }
        if self.cues {
            s.push_str(&format!(" + {} cue flags", cues::COUNT));
        }
        s
    }

    /// Feature rows for sentences: embedding, then the enabled extras.
    /// A missing `previous` counts as no context (zeros).
    pub fn rows(
        &self,
        texts: &[&str],
        embeddings: ArrayView2<f32>,
        previous: Option<ArrayView2<f32>>,
    ) -> Array2<f32> {
        let (n, d) = embeddings.dim();
        let width = self.width(d);
        let mut x = Array2::zeros((n, width));
        x.slice_mut(s![.., ..d]).assign(&embeddings);
        let mut at = d;
        if self.context {
            if let Some(prev) = previous {
                x.slice_mut(s![.., at..at + d]).assign(&prev);
            }
            at += d;
        }
        if self.cues {
            for (i, t) in texts.iter().enumerate() {
                for (j, v) in cues::features(t).into_iter().enumerate() {
                    x[[i, at + j]] = v;
                }
            }
        }
        x
    }
}

fn unit_temperature() -> f64 {
    1.0
}

/// A trained head: `softmax((W x + b) / T)`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinearHead {
    pub name: String,
    pub encoder: String,
    /// Label order of the rows of `weights` (always [`Stance::ALL`]).
    pub labels: Vec<Stance>,
    /// One row per label.
    pub weights: Vec<Vec<f32>>,
    pub bias: Vec<f32>,
    /// How it was trained.
    pub meta: HeadMeta,
}

/// What a saved head records about its training.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeadMeta {
    /// sha256 over the training texts and labels, in order.
    pub training_sha256: String,
    pub examples: usize,
    /// Examples per label, in the order of [`Stance::ALL`].
    pub label_counts: Vec<usize>,
    pub config: Option<LinearConfig>,
    /// The L2 strength chosen by cross-validation.
    pub lambda: f64,
    /// Softmax temperature fitted on the held-out predictions of that
    /// cross-validation (calibration; decisions are unchanged).
    #[serde(default = "unit_temperature")]
    pub temperature: f64,
    /// Inner cross-validation macro-F1 for each candidate λ.
    pub cv_macro_f1: Vec<(f64, f64)>,
    /// Training data sources (files), for the record.
    pub sources: Vec<String>,
    /// No randomness is used; kept so the metadata format has a seed field.
    pub seed: u64,
}

impl LinearHead {
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::infra::atomic::write(path, self.to_json()?.as_bytes())
    }

    /// The saved form: one line of JSON. Compact, because the weights are
    /// thousands of numbers; `meta` is read with jq.
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string(self)? + "\n")
    }

    /// Loads a head and checks its shape and label set. Every error names
    /// the file and what was expected and found.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The head shipped in `models/heads/` for `encoder` and built into the
    /// binary (`--classifier linear`), checked for use on it.
    pub fn builtin_for(encoder: &dyn crate::embed::Encoder) -> Result<Self> {
        let Some(family) = crate::encoders::by_name(encoder.name()) else {
            let known: Vec<&str> = crate::encoders::ENCODERS.iter().map(|e| e.name).collect();
            bail!(
                "no head is shipped for encoder {:?} (shipped: {}): train one with `stance \
                 train --encoder ...` and pass it as --classifier FILE.json, or use \
                 --classifier zero-shot",
                encoder.name(),
                known.join(", ")
            );
        };
        let shipped = family.head;
        let head = Self::parse(shipped.text, shipped.path)?;
        ensure!(
            head.encoder == family.name,
            "{}: trained on encoder {:?}, shipped as {:?}'s head",
            shipped.path,
            head.encoder,
            family.name
        );
        head.check_width(encoder, shipped.path)?;
        Ok(head)
    }

    /// Reads a head from its JSON `text`; `origin` names it in errors.
    fn parse(text: &str, origin: &str) -> Result<Self> {
        let head: LinearHead = serde_json::from_str(text).map_err(|e| {
            if e.is_eof() {
                anyhow::anyhow!(
                    "{origin}: truncated linear head: the JSON ends after {} bytes, before the \
                     head is complete ({e})",
                    text.len()
                )
            } else {
                anyhow::anyhow!("{origin}: not a linear head: {e}")
            }
        })?;
        head.check()
            .with_context(|| format!("{origin}: bad linear head"))?;
        Ok(head)
    }

    /// Loads a head for use on `encoder`'s vectors: [`LinearHead::load`],
    /// then the encoder it was trained on and the width of its input must
    /// match, so a head never multiplies vectors it was not made for.
    pub fn load_for(path: &Path, encoder: &dyn crate::embed::Encoder) -> Result<Self> {
        let head = Self::load(path)?;
        ensure!(
            head.encoder == encoder.name(),
            "{}: head trained on encoder {:?}, but encoder {:?} is loaded",
            path.display(),
            head.encoder,
            encoder.name()
        );
        head.check_width(encoder, &path.display().to_string())?;
        Ok(head)
    }

    /// The head's input width must be what `encoder`'s vectors (and the
    /// features it reads) make.
    fn check_width(&self, encoder: &dyn crate::embed::Encoder, origin: &str) -> Result<()> {
        let expected = self.features().width(encoder.dim());
        ensure!(
            self.dim() == expected,
            "{origin}: head has {} weights per label, expected {expected} for {:?} \
             ({}-dimensional embeddings{})",
            self.dim(),
            encoder.name(),
            encoder.dim(),
            self.features().describe()
        );
        Ok(())
    }

    fn check(&self) -> Result<()> {
        let names = |labels: &[Stance]| labels.iter().map(|l| l.as_str()).collect::<Vec<_>>();
        ensure!(
            self.labels == Stance::ALL,
            "label set {:?}, expected {:?}",
            names(&self.labels),
            names(&Stance::ALL)
        );
        ensure!(
            self.weights.len() == 3 && self.bias.len() == 3,
            "expected 3 rows of weights and 3 biases, found {} and {}",
            self.weights.len(),
            self.bias.len()
        );
        let dim = self.weights[0].len();
        ensure!(dim > 0, "empty weight rows");
        ensure!(
            self.weights.iter().all(|r| r.len() == dim),
            "weight rows differ in length"
        );
        ensure!(
            self.weights
                .iter()
                .flatten()
                .chain(&self.bias)
                .all(|v| v.is_finite()),
            "non-finite weights"
        );
        Ok(())
    }

    pub fn dim(&self) -> usize {
        self.weights[0].len()
    }

    fn features(&self) -> FeatureConfig {
        self.meta
            .config
            .as_ref()
            .map(|c| c.features)
            .unwrap_or_default()
    }

    fn logits(&self, x: ndarray::ArrayView1<f32>) -> [f32; 3] {
        [0, 1, 2].map(|c| {
            self.weights[c]
                .iter()
                .zip(x.iter())
                .map(|(w, v)| w * v)
                .sum::<f32>()
                + self.bias[c]
        })
    }
}

impl Classifier for LinearHead {
    fn name(&self) -> &str {
        &self.name
    }

    fn encoder(&self) -> Option<&str> {
        Some(&self.encoder)
    }

    fn classify(&self, batch: Batch<'_>) -> Result<Vec<Scores>> {
        let features = self
            .features()
            .rows(batch.texts, batch.embeddings, batch.previous);
        if features.ncols() != self.dim() {
            bail!(
                "head {:?} expects {} features, got {} from {}-dimensional embeddings",
                self.name,
                self.dim(),
                features.ncols(),
                batch.embeddings.ncols()
            );
        }
        Ok(features
            .axis_iter(Axis(0))
            .map(|row| {
                let t = self.meta.temperature as f32;
                Scores(softmax(self.logits(row).map(|z| z / t)))
            })
            .collect())
    }
}

fn logits(x: ArrayView2<f32>, w: &Array2<f64>, b: &Array1<f64>) -> Array2<f64> {
    let mut logits = x.mapv(f64::from).dot(&w.t());
    logits += b;
    logits
}

fn argmax(row: ndarray::ArrayView1<f64>) -> Stance {
    let mut best = 0;
    for c in 1..3 {
        if row[c] > row[best] {
            best = c;
        }
    }
    Stance::ALL[best]
}

/// Temperatures tried when calibrating; 1 leaves the scores as trained.
const TEMPERATURES: [f64; 12] = [0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0];

/// The temperature that minimises the mean negative log-likelihood of
/// held-out logits: class weighting and a small training set make the raw
/// head over-confident, and one scalar fixes most of that without changing
/// any decision.
fn fit_temperature(held_out: &[([f64; 3], Stance)]) -> f64 {
    let nll = |t: f64| -> f64 {
        held_out
            .iter()
            .map(|(z, label)| {
                let scaled = z.map(|v| v / t);
                let max = scaled.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let log_sum = scaled.iter().map(|v| (v - max).exp()).sum::<f64>().ln() + max;
                log_sum - scaled[label.index()]
            })
            .sum::<f64>()
    };
    TEMPERATURES
        .iter()
        .copied()
        .map(|t| (t, nll(t)))
        .fold(
            (1.0, f64::INFINITY),
            |best, (t, v)| if v < best.1 { (t, v) } else { best },
        )
        .0
}

/// sha256 over texts and labels, so a head records exactly what it learnt from.
pub fn training_hash(texts: &[&str], labels: &[Stance]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for (t, l) in texts.iter().zip(labels) {
        h.update(t.as_bytes());
        h.update([0]);
        h.update(l.as_str().as_bytes());
        h.update([b'\n']);
    }
    hex::encode(h.finalize())
}

/// Trains linear heads; see the module documentation.
#[derive(Debug, Clone)]
pub struct LinearTrainer {
    pub name: String,
    pub encoder: String,
    pub config: LinearConfig,
    /// Training data sources recorded in the head's metadata.
    pub sources: Vec<String>,
}

/// At most this many folds in the cross-validation that chooses λ: with
/// more groups (a training corpus of many articles), groups share folds.
pub const MAX_CV_FOLDS: usize = 10;

/// The cross-validation fold of each example: one fold per group when there
/// are at most [`MAX_CV_FOLDS`] groups, else the groups in sorted order
/// dealt round-robin into that many folds. Examples of a group share a fold.
fn group_folds(groups: &[&str]) -> Vec<usize> {
    let mut distinct: Vec<&str> = groups.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    let folds = distinct.len().clamp(1, MAX_CV_FOLDS);
    groups
        .iter()
        .map(|g| distinct.binary_search(g).expect("a listed group") % folds)
        .collect()
}

impl LinearTrainer {
    /// Chooses λ by grouped cross-validation over `groups` (one id per
    /// example; examples of a group are held out together), then fits on all.
    pub fn train_grouped(&self, examples: Examples<'_>, groups: &[&str]) -> Result<LinearHead> {
        let n = examples.labels.len();
        ensure!(n > 0, "no training examples");
        ensure!(
            examples.embeddings.nrows() == n && groups.len() == n,
            "one embedding and group per example"
        );
        let x: Array2<f32> =
            self.config
                .features
                .rows(examples.texts, examples.embeddings, examples.previous);
        let cfg = &self.config;
        let folds = group_folds(groups);
        let fold_count = folds.iter().max().map_or(0, |&f| f + 1);
        let mut cv_scores = Vec::new();
        let mut held_out_logits = Vec::new();
        if fold_count > 1 {
            // Every (λ, held-out fold) fit is independent: run them side by
            // side, then gather them in order, so the result is the same
            // bits as one after the other.
            let fits: Vec<(usize, usize)> = (0..cfg.lambdas.len())
                .flat_map(|l| (0..fold_count).map(move |held| (l, held)))
                .collect();
            let predicted: Vec<Vec<(usize, [f64; 3])>> = fits
                .par_iter()
                .map(|&(l, held)| {
                    let train: Vec<usize> = (0..n).filter(|&i| folds[i] != held).collect();
                    let test: Vec<usize> = (0..n).filter(|&i| folds[i] == held).collect();
                    let labels: Vec<Stance> = train.iter().map(|&i| examples.labels[i]).collect();
                    if labels.is_empty() {
                        return Vec::new();
                    }
                    let (w, b) = fit(
                        x.select(Axis(0), &train).view(),
                        &labels,
                        cfg.lambdas[l],
                        cfg.steps,
                        cfg.balanced,
                    );
                    let z = logits(x.select(Axis(0), &test).view(), &w, &b);
                    test.iter()
                        .zip(z.axis_iter(Axis(0)))
                        .map(|(&i, row)| (i, [row[0], row[1], row[2]]))
                        .collect()
                })
                .collect();
            for (l, per_fold) in predicted.chunks(fold_count).enumerate() {
                let mut pairs = Vec::with_capacity(n);
                let mut held_out = Vec::with_capacity(n);
                for &(i, z) in per_fold.iter().flatten() {
                    pairs.push((examples.labels[i], argmax(ndarray::ArrayView1::from(&z))));
                    held_out.push((z, examples.labels[i]));
                }
                cv_scores.push((cfg.lambdas[l], Confusion::from_pairs(&pairs).macro_f1()));
                held_out_logits.push(held_out);
            }
        }
        // Best macro-F1; ties go to the stronger regularisation.
        let chosen = (0..cv_scores.len()).fold(None::<usize>, |best, k| match best {
            Some(b)
                if cv_scores[b].1 > cv_scores[k].1
                    || (cv_scores[b].1 == cv_scores[k].1 && cv_scores[b].0 > cv_scores[k].0) =>
            {
                Some(b)
            }
            _ => Some(k),
        });
        let lambda = chosen.map_or(cfg.lambdas[0], |k| cv_scores[k].0);
        let temperature = chosen.map_or(1.0, |k| fit_temperature(&held_out_logits[k]));
        let (w, b) = fit(x.view(), examples.labels, lambda, cfg.steps, cfg.balanced);
        let mut label_counts = vec![0; 3];
        for l in examples.labels {
            label_counts[l.index()] += 1;
        }
        Ok(LinearHead {
            name: self.name.clone(),
            encoder: self.encoder.clone(),
            labels: Stance::ALL.to_vec(),
            weights: w
                .outer_iter()
                .map(|r| r.iter().map(|&v| v as f32).collect())
                .collect(),
            bias: b.iter().map(|&v| v as f32).collect(),
            meta: HeadMeta {
                training_sha256: training_hash(examples.texts, examples.labels),
                examples: n,
                label_counts,
                config: Some(cfg.clone()),
                lambda,
                temperature,
                cv_macro_f1: cv_scores,
                sources: self.sources.clone(),
                seed: 0,
            },
        })
    }
}

impl Trainer for LinearTrainer {
    fn name(&self) -> &str {
        &self.name
    }

    fn encoder(&self) -> Option<&str> {
        Some(&self.encoder)
    }

    fn train(&self, examples: Examples<'_>) -> Result<Box<dyn Classifier>> {
        let groups = examples.groups.unwrap_or(&[]);
        let fallback: Vec<&str>;
        let groups = if groups.len() == examples.labels.len() {
            groups
        } else {
            // Without groups, five interleaved folds.
            const FOLDS: [&str; 5] = ["0", "1", "2", "3", "4"];
            fallback = (0..examples.labels.len()).map(|i| FOLDS[i % 5]).collect();
            &fallback
        };
        Ok(Box::new(self.train_grouped(examples, groups)?))
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn groups_share_cross_validation_folds_only_beyond_the_cap() {
        let few = ["b", "a", "c", "a"];
        assert_eq!(group_folds(&few), vec![1, 0, 2, 0]);
        let names: Vec<String> = (0..25).map(|i| format!("g{i:02}")).collect();
        let many: Vec<&str> = names.iter().map(String::as_str).collect();
        let folds = group_folds(&many);
        assert_eq!(folds.iter().max(), Some(&(MAX_CV_FOLDS - 1)));
        assert_eq!(folds[0], folds[MAX_CV_FOLDS]);
    }
    use super::*;

    /// Three separable clusters on the axes of a 4-d space, with a shared
    /// "topic" component that carries no label information.
    fn clusters() -> (Array2<f32>, Vec<Stance>, Vec<String>) {
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        let mut groups = Vec::new();
        for i in 0..60 {
            let label = Stance::ALL[i % 3];
            let mut v = [0.5f32, 0.0, 0.0, 0.0];
            v[1 + label.index()] = 0.8 + (i as f32 * 0.37).sin() * 0.1;
            rows.extend(v);
            labels.push(label);
            groups.push(format!("g{}", i % 4));
        }
        (
            Array2::from_shape_vec((60, 4), rows).unwrap(),
            labels,
            groups,
        )
    }

    fn trainer() -> LinearTrainer {
        LinearTrainer {
            name: "linear".into(),
            encoder: "toy".into(),
            config: LinearConfig::default(),
            sources: vec![],
        }
    }

    #[test]
    fn learns_separable_clusters_and_is_reproducible_bit_for_bit() {
        let (x, labels, groups) = clusters();
        let texts: Vec<String> = (0..60).map(|i| format!("t{i}")).collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
        let ex = Examples {
            texts: &texts,
            embeddings: x.view(),
            labels: &labels,
            previous: None,
            groups: None,
        };
        let head = trainer().train_grouped(ex, &groups).unwrap();
        let again = trainer().train_grouped(ex, &groups).unwrap();
        assert_eq!(head.weights, again.weights);
        assert_eq!(head.bias, again.bias);
        assert_eq!(head.meta.cv_macro_f1.len(), 4);
        let scores = head
            .classify(Batch {
                texts: &texts,
                embeddings: x.view(),
                previous: None,
            })
            .unwrap();
        let predicted: Vec<Stance> = scores.iter().map(Scores::argmax).collect();
        assert_eq!(predicted, labels);
    }

    #[test]
    fn class_weights_balance_a_rare_label() {
        // 40 neutral, 4 anti: unweighted, the boundary favours neutral.
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for i in 0..44 {
            let anti = i < 4;
            rows.extend([1.0f32, if anti { 0.3 } else { -0.1 }]);
            labels.push(if anti { Stance::Anti } else { Stance::Neutral });
        }
        let x: Array2<f32> = Array2::from_shape_vec((44, 2), rows).unwrap();
        let (w, b) = fit(x.view(), &labels, 1e-3, 600, true);
        let predicted: Vec<Stance> = logits(x.view(), &w, &b)
            .axis_iter(Axis(0))
            .map(argmax)
            .collect();
        assert!(
            predicted[..4].iter().all(|&l| l == Stance::Anti),
            "{predicted:?}"
        );
    }

    #[test]
    fn saved_heads_round_trip_and_bad_ones_are_refused() {
        let (x, labels, groups) = clusters();
        let texts: Vec<&str> = vec!["t"; 60];
        let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
        let ex = Examples {
            texts: &texts,
            embeddings: x.view(),
            labels: &labels,
            previous: None,
            groups: None,
        };
        let head = trainer().train_grouped(ex, &groups).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("head.json");
        head.save(&path).unwrap();
        let loaded = LinearHead::load(&path).unwrap();
        assert_eq!(loaded.weights, head.weights);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replacen("\"neutral\"", "\"neutre\"", 1)).unwrap();
        let err = format!("{:#}", LinearHead::load(&path).unwrap_err());
        assert!(err.contains("head.json"), "{err}");
        let wrong_dim = Array2::<f32>::zeros((1, 3));
        assert!(loaded
            .classify(Batch {
                texts: &["x"],
                embeddings: wrong_dim.view(),
                previous: None,
            })
            .is_err());
    }
}
