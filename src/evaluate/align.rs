//! Aligning predictions to gold sentences by character-span overlap, so a
//! splitter that cuts differently can still be scored, and measuring how
//! its sentence boundaries agree with the gold ones.

use crate::gold::{GoldRecord, GoldSet};
use crate::stance::{Scores, Stance};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A predicted sentence: the fields of a `stance score` record that
/// evaluation needs (other fields are ignored when reading).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub doc: String,
    pub start: usize,
    pub end: usize,
    pub stance: Stance,
    #[serde(default)]
    pub text: String,
    /// The classifier's probabilities, when it gave them (for calibration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scores: Option<Scores>,
    /// Claims of the attribution stage, when the records carry them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<Vec<crate::stance::SpokenClaim>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<crate::stance::Holder>,
    #[serde(default)]
    pub boilerplate: bool,
}

/// A gold sentence and the prediction that covers most of it.
#[derive(Debug, Clone)]
pub struct Aligned<'a> {
    pub gold: &'a GoldRecord,
    /// The overlapping prediction with the largest overlap (the earliest on
    /// ties); `None` when no prediction touches the gold span.
    pub prediction: Option<&'a Prediction>,
}

impl Aligned<'_> {
    /// The predicted label; a gold sentence no prediction covers counts as
    /// neutral (the tool said nothing about it).
    pub fn predicted(&self) -> Stance {
        self.prediction.map_or(Stance::Neutral, |p| p.stance)
    }
}

fn overlap(a: (usize, usize), b: (usize, usize)) -> usize {
    a.1.min(b.1).saturating_sub(a.0.max(b.0))
}

/// Aligns every gold record with the prediction that overlaps it most.
pub fn align<'a>(gold: &'a GoldSet, predictions: &'a [Prediction]) -> Vec<Aligned<'a>> {
    let mut by_doc: BTreeMap<&str, Vec<&Prediction>> = BTreeMap::new();
    for p in predictions {
        by_doc.entry(p.doc.as_str()).or_default().push(p);
    }
    for list in by_doc.values_mut() {
        list.sort_by_key(|p| (p.start, p.end));
    }
    gold.records
        .iter()
        .map(|g| {
            let candidates = by_doc.get(g.doc.as_str()).map(Vec::as_slice).unwrap_or(&[]);
            // Predictions are sorted by start: skip those that end before the
            // gold span and stop at the first that starts after it.
            let mut best: Option<(&Prediction, usize)> = None;
            for p in candidates.iter().take_while(|p| p.start < g.end) {
                let o = overlap((g.start, g.end), (p.start, p.end));
                if o > 0 && best.is_none_or(|(_, b)| o > b) {
                    best = Some((p, o));
                }
            }
            Aligned {
                gold: g,
                prediction: best.map(|(p, _)| p),
            }
        })
        .collect()
}

/// How well predicted sentence boundaries match the gold ones.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BoundaryScores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Gold sentences whose span the prediction reproduces exactly.
    pub exact_spans: usize,
    pub gold_sentences: usize,
    pub predicted_sentences: usize,
}

/// Boundary precision, recall and F1: a boundary is the end offset of a
/// sentence; a predicted boundary is right when a gold sentence ends there.
/// Only documents present in the gold set are counted.
pub fn boundary_scores(gold: &GoldSet, predictions: &[Prediction]) -> BoundaryScores {
    let docs: BTreeSet<&str> = gold.records.iter().map(|r| r.doc.as_str()).collect();
    let gold_ends: BTreeSet<(&str, usize)> = gold
        .records
        .iter()
        .map(|r| (r.doc.as_str(), r.end))
        .collect();
    let gold_spans: BTreeSet<(&str, usize, usize)> = gold
        .records
        .iter()
        .map(|r| (r.doc.as_str(), r.start, r.end))
        .collect();
    let predicted: Vec<&Prediction> = predictions
        .iter()
        .filter(|p| docs.contains(p.doc.as_str()))
        .collect();
    let pred_ends: BTreeSet<(&str, usize)> =
        predicted.iter().map(|p| (p.doc.as_str(), p.end)).collect();
    let hits = pred_ends.intersection(&gold_ends).count();
    let precision = if pred_ends.is_empty() {
        0.0
    } else {
        hits as f64 / pred_ends.len() as f64
    };
    let recall = if gold_ends.is_empty() {
        0.0
    } else {
        hits as f64 / gold_ends.len() as f64
    };
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    BoundaryScores {
        precision,
        recall,
        f1,
        exact_spans: predicted
            .iter()
            .filter(|p| gold_spans.contains(&(p.doc.as_str(), p.start, p.end)))
            .count(),
        gold_sentences: gold.records.len(),
        predicted_sentences: predicted.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gold(spans: &[(usize, usize, Stance)]) -> GoldSet {
        GoldSet {
            records: spans
                .iter()
                .map(|&(start, end, stance)| GoldRecord {
                    doc: "d".into(),
                    start,
                    end,
                    text: String::new(),
                    stance,
                    mixed: false,
                    claims: vec![],
                    note: String::new(),
                })
                .collect(),
        }
    }

    fn pred(start: usize, end: usize, stance: Stance) -> Prediction {
        Prediction {
            doc: "d".into(),
            start,
            end,
            stance,
            text: String::new(),
            scores: None,
            claims: None,
            holder: None,
            boilerplate: false,
        }
    }

    #[test]
    fn a_splitter_that_cuts_differently_is_aligned_by_largest_overlap() {
        // Gold: [0,10) pro, [11,20) anti, [21,30) neutral.
        let g = gold(&[
            (0, 10, Stance::Pro),
            (11, 20, Stance::Anti),
            (21, 30, Stance::Neutral),
        ]);
        // The prediction merges the first two sentences and splits the third
        // in two unequal parts.
        let p = vec![
            pred(0, 20, Stance::Anti),
            pred(21, 24, Stance::Pro),
            pred(25, 30, Stance::Neutral),
        ];
        let aligned = align(&g, &p);
        let labels: Vec<Stance> = aligned.iter().map(Aligned::predicted).collect();
        assert_eq!(labels, [Stance::Anti, Stance::Anti, Stance::Neutral]);
        let b = boundary_scores(&g, &p);
        // Gold ends {10, 20, 30}; predicted ends {20, 24, 30}: 2 hits.
        assert!((b.precision - 2.0 / 3.0).abs() < 1e-9);
        assert!((b.recall - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(b.exact_spans, 0, "no predicted span is a gold span");
    }

    #[test]
    fn uncovered_gold_counts_as_neutral_and_ties_go_to_the_earlier_prediction() {
        let g = gold(&[(0, 10, Stance::Pro), (20, 30, Stance::Anti)]);
        let p = vec![pred(0, 5, Stance::Anti), pred(5, 10, Stance::Pro)];
        let aligned = align(&g, &p);
        assert_eq!(aligned[0].predicted(), Stance::Anti);
        assert!(aligned[1].prediction.is_none());
        assert_eq!(aligned[1].predicted(), Stance::Neutral);
    }

    #[test]
    fn identical_spans_score_perfectly() {
        let g = gold(&[(0, 10, Stance::Pro), (11, 20, Stance::Anti)]);
        let p = vec![pred(0, 10, Stance::Pro), pred(11, 20, Stance::Anti)];
        let b = boundary_scores(&g, &p);
        assert_eq!(
            (b.precision, b.recall, b.f1, b.exact_spans),
            (1.0, 1.0, 1.0, 2)
        );
    }
}
