//! The keyword floor: a sentence that names an opposition cue is
//! anti-dialogue, one that names dialogue is pro-dialogue, the rest neutral.
//! It needs no model and no training; any real classifier must beat it.

use super::{cues, Batch, Classifier};
use crate::stance::{Scores, Stance};
use anyhow::Result;

/// How sure the floor says it is: fixed, since it has no notion of confidence.
const CONFIDENCE: f32 = 0.8;

#[derive(Debug, Default, Clone, Copy)]
pub struct Keyword;

impl Keyword {
    pub fn label(text: &str) -> Stance {
        let lower = text.to_lowercase();
        if cues::any(&lower, cues::DIALOGUE) {
            if cues::any(&lower, cues::REJECTION) || cues::any(&lower, cues::SCEPTICISM) {
                Stance::Anti
            } else {
                Stance::Pro
            }
        } else {
            Stance::Neutral
        }
    }
}

/// Scores that put `CONFIDENCE` on `label` and share the rest.
pub fn confident(label: Stance) -> Scores {
    let rest = (1.0 - CONFIDENCE) / 2.0;
    let mut p = [rest; 3];
    p[label.index()] = CONFIDENCE;
    Scores(p)
}

impl Classifier for Keyword {
    fn name(&self) -> &str {
        "keyword"
    }

    fn encoder(&self) -> Option<&str> {
        None
    }

    fn classify(&self, batch: Batch<'_>) -> Result<Vec<Scores>> {
        Ok(batch
            .texts
            .iter()
            .map(|t| confident(Self::label(t)))
            .collect())
    }
}

/// The majority floor: always the label most frequent in its training data.
#[derive(Debug, Clone, Copy)]
pub struct Majority {
    label: Stance,
}

impl Majority {
    /// The most frequent of `labels` (ties go to the earlier label in
    /// [`Stance::ALL`]); neutral when there are none.
    pub fn fit(labels: &[Stance]) -> Self {
        let mut counts = [0usize; 3];
        for l in labels {
            counts[l.index()] += 1;
        }
        let mut best = Stance::Neutral;
        for l in Stance::ALL {
            if counts[l.index()] > counts[best.index()] {
                best = l;
            }
        }
        Majority { label: best }
    }

    pub fn label(&self) -> Stance {
        self.label
    }
}

impl Classifier for Majority {
    fn name(&self) -> &str {
        "majority"
    }

    fn encoder(&self) -> Option<&str> {
        None
    }

    fn classify(&self, batch: Batch<'_>) -> Result<Vec<Scores>> {
        let mut p = [0.0; 3];
        p[self.label.index()] = 1.0;
        Ok(vec![Scores(p); batch.texts.len()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyword_rules() {
        assert_eq!(Keyword::label("Mali wants talks with JNIM."), Stance::Pro);
        assert_eq!(
            Keyword::label("Paris rejected any negotiation."),
            Stance::Anti
        );
        assert_eq!(Keyword::label("He rejected the budget."), Stance::Neutral);
        assert_eq!(Keyword::label("Soldiers were killed."), Stance::Neutral);
    }

    #[test]
    fn majority_takes_the_most_frequent_label() {
        let m = Majority::fit(&[Stance::Neutral, Stance::Pro, Stance::Neutral]);
        assert_eq!(m.label(), Stance::Neutral);
        assert_eq!(
            Majority::fit(&[Stance::Anti, Stance::Pro]).label(),
            Stance::Pro
        );
        assert_eq!(Majority::fit(&[]).label(), Stance::Neutral);
    }
}
