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
use ndarray::ArrayView2;
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

/// A classifier's scores on one gold set, with the sentences it scored (one
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

/// A gold set in one language with its documents split and embedded: what a
/// classifier is measured on. The English gold and its translations are
/// yardsticks of the same stories.
pub struct Yardstick<'a> {
    /// ISO 639-1 code (`en`, `fr`); reports name each figure's language.
    pub language: &'a str,
    pub gold: &'a GoldSet,
    pub embedded: &'a Embedded,
    /// The story of each embedded document, in order: its own id for an
    /// original, the original's id for a translation. Cross-validation holds
    /// a story out in every language at once.
    pub stories: &'a [String],
}

/// Scores a classifier that needs no training on a yardstick's documents.
pub fn evaluate_untrained(
    yardstick: &Yardstick<'_>,
    classifier: Arc<dyn Classifier>,
) -> Result<Evaluated> {
    let scored = yardstick.embedded.classify(classifier.as_ref())?;
    let report = score_predictions(
        classifier.name(),
        Setting::NoTraining,
        yardstick.gold,
        &predictions(&scored),
    )
    .in_language(yardstick.language);
    let models = vec![classifier; scored.len()];
    Ok(Evaluated {
        report,
        scored,
        models,
    })
}

/// The gold sentences of every language as training examples, and extra
/// labelled sentences (e.g. the training corpus) added to every fold.
pub struct GoldExamples<'a> {
    /// Gold sentences of every yardstick; each one's `group` is its story,
    /// so a fold leaves a story out in every language.
    pub gold: &'a [LabelledSentence],
    /// One row per gold sentence, or zero columns.
    pub embeddings: ArrayView2<'a, f32>,
    /// The embedding of each gold sentence's previous sentence, same shape.
    pub previous: ArrayView2<'a, f32>,
    /// Sentences that are never tested on: in every fold's training data.
    pub extra: &'a [LabelledSentence],
    /// One row per extra sentence, or zero columns.
    pub extra_embeddings: ArrayView2<'a, f32>,
    /// The embedding of each extra sentence's previous sentence, same shape.
    pub extra_previous: ArrayView2<'a, f32>,
}

/// One document's scored sentences and the model that scored them.
type ScoredDoc = (Vec<ScoredSentence>, Arc<dyn Classifier>);

/// For one yardstick: each document's scored sentences, and the model that
/// scored each.
type YardstickResults = (Vec<Vec<ScoredSentence>>, Vec<Arc<dyn Classifier>>);

/// Scores a trained classifier on every yardstick (one [`Evaluated`] each,
/// in order). With `LooDoc` there is one model per story, trained on the
/// other stories in every language, and each document's predictions come
/// from the model of its story: no version of a test article is trained on.
pub fn evaluate_trained(
    examples: &GoldExamples<'_>,
    yardsticks: &[Yardstick<'_>],
    trainer: &dyn Trainer,
    cv: CrossValidation,
) -> Result<Vec<Evaluated>> {
    let train_on = |keep: &dyn Fn(&str) -> bool| -> Result<Box<dyn Classifier>> {
        let rows: Vec<usize> = (0..examples.gold.len())
            .filter(|&i| keep(&examples.gold[i].group))
            .collect();
        if rows.is_empty() {
            bail!("no training sentences left for {}", trainer.name());
        }
        let training: Vec<&LabelledSentence> = rows
            .iter()
            .map(|&i| &examples.gold[i])
            .chain(examples.extra)
            .collect();
        let texts: Vec<&str> = training.iter().map(|s| s.text.as_str()).collect();
        let labels: Vec<Stance> = training.iter().map(|s| s.stance).collect();
        let groups: Vec<&str> = training.iter().map(|s| s.group.as_str()).collect();
        let embeddings = ndarray::concatenate(
            ndarray::Axis(0),
            &[
                examples.embeddings.select(ndarray::Axis(0), &rows).view(),
                examples.extra_embeddings,
            ],
        )?;
        let previous = ndarray::concatenate(
            ndarray::Axis(0),
            &[
                examples.previous.select(ndarray::Axis(0), &rows).view(),
                examples.extra_previous,
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
    for y in yardsticks {
        ensure!(
            y.stories.len() == y.embedded.docs.len(),
            "one story per embedded document"
        );
    }
    let mut results: Vec<YardstickResults> = yardsticks
        .iter()
        .map(|y| {
            let n = y.embedded.docs.len();
            (Vec::with_capacity(n), Vec::with_capacity(n))
        })
        .collect();
    match cv {
        CrossValidation::None => {
            let model: Arc<dyn Classifier> = train_on(&|_| true)?.into();
            for (y, (scored, models)) in yardsticks.iter().zip(&mut results) {
                *scored = y.embedded.classify(model.as_ref())?;
                *models = vec![model.clone(); scored.len()];
            }
        }
        CrossValidation::LooDoc => {
            let mut stories: Vec<&str> = yardsticks
                .iter()
                .flat_map(|y| y.stories.iter().map(String::as_str))
                .collect();
            stories.sort_unstable();
            stories.dedup();
            let mut by_doc: Vec<Vec<Option<ScoredDoc>>> = yardsticks
                .iter()
                .map(|y| (0..y.stories.len()).map(|_| None).collect())
                .collect();
            for held_out in stories {
                let model: Arc<dyn Classifier> = train_on(&|story| story != held_out)?.into();
                for (y, slots) in yardsticks.iter().zip(&mut by_doc) {
                    if !y.stories.iter().any(|s| s == held_out) {
                        continue;
                    }
                    // Classifying every document costs little next to
                    // training; only the held-out story's are kept.
                    let all = y.embedded.classify(model.as_ref())?;
                    for (i, doc) in all.into_iter().enumerate() {
                        if y.stories[i] == held_out {
                            slots[i] = Some((doc, model.clone()));
                        }
                    }
                }
            }
            for (slots, (scored, models)) in by_doc.into_iter().zip(&mut results) {
                for slot in slots {
                    let (doc, model) = slot.expect("every story is held out once");
                    scored.push(doc);
                    models.push(model);
                }
            }
        }
    }
    let setting = match cv {
        CrossValidation::LooDoc => Setting::LeaveOneDocOut,
        CrossValidation::None => Setting::TrainingSet,
    };
    Ok(yardsticks
        .iter()
        .zip(results)
        .map(|(y, (scored, models))| Evaluated {
            report: score_predictions(trainer.name(), setting, y.gold, &predictions(&scored))
                .in_language(y.language),
            scored,
            models,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Majority;
    use crate::corpus::{Article, Metadata, Origin};
    use crate::gold::GoldRecord;
    use crate::segment::RuleSegmenter;
    use ndarray::Array2;
    use std::sync::Mutex;

    /// A trainer that records the stories it was trained on.
    struct Recording(Mutex<Vec<Vec<String>>>);

    impl Trainer for Recording {
        fn name(&self) -> &str {
            "recording"
        }
        fn encoder(&self) -> Option<&str> {
            None
        }
        fn train(&self, examples: Examples<'_>) -> Result<Box<dyn Classifier>> {
            let mut groups: Vec<String> = examples
                .groups
                .unwrap()
                .iter()
                .map(|g| g.to_string())
                .collect();
            groups.sort();
            groups.dedup();
            self.0.lock().unwrap().push(groups);
            Ok(Box::new(Majority::fit(examples.labels)))
        }
    }

    fn article(id: &str, text: &str) -> Article {
        Article {
            id: id.into(),
            text: text.into(),
            meta: Metadata::default(),
            origin: Origin {
                path: id.into(),
                line: None,
            },
        }
    }

    fn gold_of(articles: &[Article]) -> GoldSet {
        GoldSet {
            records: articles
                .iter()
                .map(|a| GoldRecord {
                    doc: a.id.clone(),
                    start: 0,
                    end: a.text.chars().count(),
                    text: a.text.clone(),
                    stance: Stance::Neutral,
                    mixed: false,
                    claims: vec![],
                    note: String::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_fold_holds_a_story_out_in_every_language() {
        let en = vec![
            article("a", "One."),
            article("b", "Two."),
            article("c", "Three."),
        ];
        let fr = vec![article("a-fr", "Un."), article("c-fr", "Trois.")];
        let (en_gold, fr_gold) = (gold_of(&en), gold_of(&fr));
        let segmenter = RuleSegmenter::default();
        let en_embedded = Embedded::new(&segmenter, None, &en).unwrap();
        let fr_embedded = Embedded::new(&segmenter, None, &fr).unwrap();
        let en_stories: Vec<String> = vec!["a".into(), "b".into(), "c".into()];
        let fr_stories: Vec<String> = vec!["a".into(), "c".into()];
        let yardsticks = [
            Yardstick {
                language: "en",
                gold: &en_gold,
                embedded: &en_embedded,
                stories: &en_stories,
            },
            Yardstick {
                language: "fr",
                gold: &fr_gold,
                embedded: &fr_embedded,
                stories: &fr_stories,
            },
        ];
        let mut gold: Vec<LabelledSentence> = LabelledSentence::from_gold(&en_gold);
        for mut s in LabelledSentence::from_gold(&fr_gold) {
            s.group = s.group.trim_end_matches("-fr").to_string();
            gold.push(s);
        }
        let (gold_vectors, no_vectors) = (Array2::zeros((gold.len(), 0)), Array2::zeros((0, 0)));
        let examples = GoldExamples {
            gold: &gold,
            embeddings: gold_vectors.view(),
            previous: gold_vectors.view(),
            extra: &[],
            extra_embeddings: no_vectors.view(),
            extra_previous: no_vectors.view(),
        };
        let trainer = Recording(Mutex::new(Vec::new()));
        let evaluated =
            evaluate_trained(&examples, &yardsticks, &trainer, CrossValidation::LooDoc).unwrap();
        // One model per story, each trained on the others in both languages.
        let trained = trainer.0.into_inner().unwrap();
        assert_eq!(
            trained,
            vec![
                vec!["b".to_string(), "c".into()],
                vec!["a".to_string(), "c".into()],
                vec!["a".to_string(), "b".into()],
            ]
        );
        assert_eq!(evaluated.len(), 2);
        assert_eq!(evaluated[0].report.language, "en");
        assert_eq!(evaluated[1].report.language, "fr");
        assert_eq!(evaluated[1].scored.len(), 2);
        assert_eq!(evaluated[1].report.sentences, 2);
        assert_eq!(evaluated[1].report.label(), "recording [fr]");
    }
}
