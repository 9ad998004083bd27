//! Stage 4: stance scores for each sentence.
//!
//! A [`Classifier`] sees a batch of sentences (their texts and their
//! embeddings) and returns one probability vector per sentence. Classifiers
//! never see who is speaking: stance must not be read off the actor.

pub mod cues;
pub mod finetune;
pub mod keyword;
pub mod linear;
mod logistic;
pub mod setfit;
pub mod train;
pub mod zero_shot;

use crate::stance::Scores;
use anyhow::Result;
use ndarray::ArrayView2;

pub use keyword::{Keyword, Majority};
pub use zero_shot::ZeroShot;

/// The sentences to classify: texts, and their unit-length embeddings (one
/// row per text, same order).
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    pub texts: &'a [&'a str],
    pub embeddings: ArrayView2<'a, f32>,
    /// The embedding of each sentence's predecessor in its document (a zero
    /// row for the first sentence), for classifiers that read context;
    /// `None` where sentences have no document order.
    pub previous: Option<ArrayView2<'a, f32>>,
}

/// A stance classifier.
pub trait Classifier: Send + Sync {
    /// The name used on the command line and in reports.
    fn name(&self) -> &str;
    /// The encoder whose vectors this classifier expects (its `name()`);
    /// `None` for classifiers that read only the text, including those that
    /// carry an encoder of their own (SetFit).
    fn encoder(&self) -> Option<&str>;
    /// One probability vector per sentence of `batch`, in order.
    fn classify(&self, batch: Batch<'_>) -> Result<Vec<Scores>>;
}

/// Softmax of `logits`, stable for large values.
pub fn softmax(logits: [f32; 3]) -> [f32; 3] {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp = logits.map(|l| (l - max).exp());
    let sum: f32 = exp.iter().sum();
    exp.map(|e| e / sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let p = softmax([1000.0, 999.0, 0.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[0] > p[1] && p[1] > p[2]);
        assert_eq!(softmax([0.0; 3]), [1.0 / 3.0; 3]);
    }
}
