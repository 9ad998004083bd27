//! Running classifiers over the gold documents: directly for those that need
//! no training, and with leave-one-document-out cross-validation for those
//! that learn from the gold set.

use super::report::{score_predictions, ClassifierReport, Setting};
use super::Prediction;
use crate::classify::train::{Examples, LabelledSentence, Trainer};
use crate::classify::Classifier;
use crate::gold::GoldSet;
use crate::pipeline::{Embedded, ScoredSentence};
use crate::stance::Stance;
use anyhow::{bail, ensure, Result};
use ndarray::Array2;
use std::sync::Arc;

/// How trained classifiers are scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CrossValidation {
    /// Train on all documents but one, test on that one, for each document.
    LooDoc,
    /// Train and test on every document: training-set accuracy, marked so.
    None,
}

/// Predictions from scored sentences.
pub fn predictions(scored: &[Vec<ScoredSentence>]) -> Vec<Prediction> {
    scored
        .iter()
        .flatten()
        .map(|s| Prediction {
            doc: s.sentence.doc.clone(),
            start: s.sentence.start,
            end: s.sentence.end,
            stance: s.stance,
            text: s.sentence.text.clone(),
            scores: Some(s.scores),
            claims: None,
            holder: None,
            boilerplate: s.sentence.boilerplate,
        })
        .collect()
}

/// A classifier's scores on the gold set, with the sentences it scored (one
/// list per document), so later stages (attribution, the actor comparison)
/// use the very predictions the scores were computed from.
pub struct Evaluated {
    pub report: ClassifierReport,
    pub scored: Vec<Vec<ScoredSentence>>,
    /// The model that scored each document (same order as `scored`): the
    /// fold's model under leave-one-document-out, so that attribution judges
    /// a held-out document's clauses with a model that never saw it, as the
    /// pipeline judges clauses with its own classifier.
    pub models: Vec<Arc<dyn Classifier>>,
}

/// Scores a classifier that needs no training on the gold documents.
pub fn evaluate_untrained(
    gold: &GoldSet,
    embedded: &Embedded,
    classifier: Arc<dyn Classifier>,
) -> Result<Evaluated> {
    let scored = embedded.classify(classifier.as_ref())?;
    let report = score_predictions(
        classifier.name(),
        Setting::NoTraining,
        gold,
        &predictions(&scored),
    );
    let models = vec![classifier; scored.len()];
    Ok(Evaluated {
        report,
        scored,
        models,
    })
}

/// The gold set's sentences as training examples, and extra labelled
/// sentences (e.g. the synthetic training set) added to every fold.
pub struct GoldExamples<'a> {
    pub gold: &'a GoldSet,
    /// One row per gold record (in `gold.records` order), or zero columns.
    pub embeddings: Array2<f32>,
    /// The embedding of each gold record's previous sentence, same shape.
    pub previous: Array2<f32>,
    /// Sentences that are never tested on: in every fold's training data.
    pub extra: &'a [LabelledSentence],
    /// One row per extra sentence, or zero columns.
    pub extra_embeddings: Array2<f32>,
    /// The embedding of each extra sentence's previous sentence, same shape.
    pub extra_previous: Array2<f32>,
}

/// Scores a trained classifier: with `LooDoc`, each document's predictions
/// come from a model that never saw it (and so do the returned sentences).
pub fn evaluate_trained(
    examples: &GoldExamples<'_>,
    embedded: &Embedded,
    doc_ids: &[String],
    trainer: &dyn Trainer,
    cv: CrossValidation,
) -> Result<Evaluated> {
    let gold = examples.gold;
    let train_on = |keep: &dyn Fn(&str) -> bool| -> Result<Box<dyn Classifier>> {
        let rows: Vec<usize> = (0..gold.records.len())
            .filter(|&i| keep(&gold.records[i].doc))
            .collect();
        if rows.is_empty() {
            bail!("no training sentences left for {}", trainer.name());
        }
        let extra = examples.extra;
        let texts: Vec<&str> = rows
            .iter()
            .map(|&i| gold.records[i].text.as_str())
            .chain(extra.iter().map(|e| e.text.as_str()))
            .collect();
        let labels: Vec<Stance> = rows
            .iter()
            .map(|&i| gold.records[i].stance)
            .chain(extra.iter().map(|e| e.stance))
            .collect();
        let groups: Vec<&str> = rows
            .iter()
            .map(|&i| gold.records[i].doc.as_str())
            .chain(extra.iter().map(|e| e.group.as_str()))
            .collect();
        let embeddings = ndarray::concatenate(
            ndarray::Axis(0),
            &[
                examples.embeddings.select(ndarray::Axis(0), &rows).view(),
                examples.extra_embeddings.view(),
            ],
        )?;
        let previous = ndarray::concatenate(
            ndarray::Axis(0),
            &[
                examples.previous.select(ndarray::Axis(0), &rows).view(),
                examples.extra_previous.view(),
            ],
        )?;
        trainer.train(Examples {
            texts: &texts,
            embeddings: embeddings.view(),
            labels: &labels,
            previous: Some(previous.view()),
            groups: Some(&groups),
        })
    };
    let (scored, models): (Vec<Vec<ScoredSentence>>, Vec<Arc<dyn Classifier>>) = match cv {
        CrossValidation::None => {
            let model: Arc<dyn Classifier> = train_on(&|_| true)?.into();
            let scored = embedded.classify(model.as_ref())?;
            (scored, vec![model; embedded.docs.len()])
        }
        CrossValidation::LooDoc => {
            ensure!(
                doc_ids.len() == embedded.docs.len(),
                "one document id per embedded document"
            );
            let mut scored = Vec::with_capacity(doc_ids.len());
            let mut models = Vec::with_capacity(doc_ids.len());
            for (i, held_out) in doc_ids.iter().enumerate() {
                let model: Arc<dyn Classifier> = train_on(&|doc| doc != held_out)?.into();
                // Classifying every document costs little next to training;
                // only the held-out one is kept.
                scored.push(embedded.classify(model.as_ref())?.swap_remove(i));
                models.push(model);
            }
            (scored, models)
        }
    };
    let setting = match cv {
        CrossValidation::LooDoc => Setting::LeaveOneDocOut,
        CrossValidation::None => Setting::TrainingSet,
    };
    let report = score_predictions(trainer.name(), setting, gold, &predictions(&scored));
    Ok(Evaluated {
        report,
        scored,
        models,
    })
}
