//! Classifiers learnt from labelled sentences.

use super::{Classifier, Majority};
use crate::stance::Stance;
use anyhow::Result;
use ndarray::ArrayView2;

/// Labelled sentences to learn from.
#[derive(Debug, Clone, Copy)]
pub struct Examples<'a> {
    pub texts: &'a [&'a str],
    /// One row per text; zero columns when the trainer needs no embeddings.
    pub embeddings: ArrayView2<'a, f32>,
    pub labels: &'a [Stance],
    /// Which document each example comes from, when known: trainers that
    /// tune themselves hold out whole documents, as the evaluation does.
    pub groups: Option<&'a [&'a str]>,
}

/// Something that learns a classifier from examples.
pub trait Trainer: Send + Sync {
    fn name(&self) -> &str;
    /// The encoder whose vectors training and prediction need; `None` when
    /// the classifier reads only labels or text.
    fn encoder(&self) -> Option<&str>;
    fn train(&self, examples: Examples<'_>) -> Result<Box<dyn Classifier>>;
}

/// Trains the majority floor.
#[derive(Debug, Default, Clone, Copy)]
pub struct MajorityTrainer;

impl Trainer for MajorityTrainer {
    fn name(&self) -> &str {
        "majority"
    }

    fn encoder(&self) -> Option<&str> {
        None
    }

    fn train(&self, examples: Examples<'_>) -> Result<Box<dyn Classifier>> {
        Ok(Box::new(Majority::fit(examples.labels)))
    }
}
