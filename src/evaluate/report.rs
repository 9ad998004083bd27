//! Scoring one classifier's predictions against a gold set, and the report
//! that puts every classifier side by side.

use super::align::{align, boundary_scores, BoundaryScores, Prediction};
use crate::gold::GoldSet;
use crate::metrics::{expected_calibration_error, macro_f1_interval, ClassScores, Confusion};
use crate::report::table::Table;
use crate::stance::Stance;
use serde::Serialize;
use std::collections::BTreeMap;

/// How a classifier's figures were obtained; reports print it beside them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Setting {
    /// No training data: scored on every gold document.
    NoTraining,
    /// Trained on all other documents, tested on each held-out one.
    LeaveOneDocOut,
    /// Trained and tested on the same documents: optimistic.
    TrainingSet,
    /// Predictions read from a file.
    PredictionsFile,
}

impl Setting {
    pub fn describe(self) -> &'static str {
        match self {
            Setting::NoTraining => "no training",
            Setting::LeaveOneDocOut => "leave-one-document-out",
            Setting::TrainingSet => "TRAINING-SET accuracy (optimistic)",
            Setting::PredictionsFile => "predictions file",
        }
    }
}

/// Figures for one document.
#[derive(Debug, Clone, Serialize)]
pub struct DocScores {
    pub doc: String,
    pub sentences: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
}

/// A gold sentence the classifier got wrong.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorItem {
    pub doc: String,
    pub start: usize,
    pub end: usize,
    pub text: String,
    pub gold: Stance,
    pub predicted: Stance,
}

/// Everything measured for one classifier.
#[derive(Debug, Clone, Serialize)]
pub struct ClassifierReport {
    pub classifier: String,
    pub setting: Setting,
    /// The language of the gold set these figures are on (ISO 639-1).
    pub language: String,
    pub sentences: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    /// 95% bootstrap interval of macro-F1 over sentences (fixed seed).
    pub macro_f1_ci: (f64, f64),
    pub kappa: f64,
    /// Expected calibration error of the scores (None when the predictions
    /// carry no scores).
    pub ece: Option<f64>,
    pub per_class: BTreeMap<Stance, ClassScores>,
    pub confusion: Confusion,
    pub per_doc: Vec<DocScores>,
    /// Gold sentences no prediction overlapped (counted as neutral).
    pub uncovered: usize,
    pub boundaries: BoundaryScores,
    pub errors: Vec<ErrorItem>,
}

/// ECE over the aligned sentences whose predictions carry scores.
fn calibration(aligned: &[super::align::Aligned<'_>]) -> Option<f64> {
    let pairs: Vec<(f32, bool)> = aligned
        .iter()
        .filter_map(|a| {
            let p = a.prediction?;
            let scores = p.scores?;
            Some((scores.get(p.stance), p.stance == a.gold.stance))
        })
        .collect();
    (!pairs.is_empty()).then(|| expected_calibration_error(&pairs))
}

/// Scores `predictions` against `gold`.
pub fn score_predictions(
    classifier: &str,
    setting: Setting,
    gold: &GoldSet,
    predictions: &[Prediction],
) -> ClassifierReport {
    let aligned = align(gold, predictions);
    let pairs: Vec<(Stance, Stance)> = aligned
        .iter()
        .map(|a| (a.gold.stance, a.predicted()))
        .collect();
    let confusion = Confusion::from_pairs(&pairs);
    let mut per_doc_pairs: BTreeMap<&str, Vec<(Stance, Stance)>> = BTreeMap::new();
    for (a, pair) in aligned.iter().zip(&pairs) {
        per_doc_pairs
            .entry(a.gold.doc.as_str())
            .or_default()
            .push(*pair);
    }
    let per_doc = per_doc_pairs
        .into_iter()
        .map(|(doc, pairs)| {
            let c = Confusion::from_pairs(&pairs);
            DocScores {
                doc: doc.to_string(),
                sentences: pairs.len(),
                accuracy: c.accuracy(),
                macro_f1: c.macro_f1(),
            }
        })
        .collect();
    let errors = aligned
        .iter()
        .filter(|a| a.gold.stance != a.predicted())
        .map(|a| ErrorItem {
            doc: a.gold.doc.clone(),
            start: a.gold.start,
            end: a.gold.end,
            text: a.gold.text.clone(),
            gold: a.gold.stance,
            predicted: a.predicted(),
        })
        .collect();
    ClassifierReport {
        classifier: classifier.to_string(),
        setting,
        language: "en".to_string(),
        sentences: pairs.len(),
        accuracy: confusion.accuracy(),
        macro_f1: confusion.macro_f1(),
        macro_f1_ci: macro_f1_interval(&pairs),
        kappa: confusion.kappa(),
        ece: calibration(&aligned),
        per_class: Stance::ALL
            .into_iter()
            .map(|l| (l, confusion.class(l)))
            .collect(),
        confusion,
        per_doc,
        uncovered: aligned.iter().filter(|a| a.prediction.is_none()).count(),
        boundaries: boundary_scores(gold, predictions),
        errors,
    }
}

impl ClassifierReport {
    /// The same figures, marked as measured on a gold set in `language`.
    pub fn in_language(mut self, language: &str) -> Self {
        self.language = language.to_string();
        self
    }

    /// The classifier's name, with the language when it is not English, as
    /// the report's rows name it.
    pub fn label(&self) -> String {
        if self.language == "en" {
            self.classifier.clone()
        } else {
            format!("{} [{}]", self.classifier, self.language)
        }
    }
}

/// A gold set's size and label counts, as the report's header gives them.
#[derive(Debug, Clone, Serialize)]
pub struct GoldSummary {
    pub language: String,
    pub gold: String,
    pub sentences: usize,
    pub docs: usize,
    /// Label counts, in the order of [`Stance::ALL`].
    pub counts: BTreeMap<Stance, usize>,
}

impl GoldSummary {
    pub fn new(language: &str, gold_path: &str, gold: &GoldSet) -> Self {
        let mut counts: BTreeMap<Stance, usize> = Stance::ALL.into_iter().map(|l| (l, 0)).collect();
        for r in &gold.records {
            *counts.entry(r.stance).or_default() += 1;
        }
        GoldSummary {
            language: language.to_string(),
            gold: gold_path.to_string(),
            sentences: gold.records.len(),
            docs: gold.docs().len(),
            counts,
        }
    }

    fn describe(&self) -> String {
        let counts: Vec<String> = self
            .counts
            .iter()
            .map(|(l, n)| format!("{l} {n}"))
            .collect();
        format!(
            "`{}` ({}): {} sentences in {} documents ({})",
            self.gold,
            self.language,
            self.sentences,
            self.docs,
            counts.join(", ")
        )
    }
}

/// The evaluation of several classifiers on one gold set and its
/// translations.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub gold: String,
    pub gold_sentences: usize,
    pub gold_docs: usize,
    /// Gold label counts, in the order of [`Stance::ALL`].
    pub gold_counts: BTreeMap<Stance, usize>,
    /// Gold sets of the same documents in other languages; classifiers
    /// are reported on each (their `language` says which).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub translations: Vec<GoldSummary>,
    pub classifiers: Vec<ClassifierReport>,
    /// Holders, targets and the actor comparison against the gold claims.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribution: Option<super::attribution::AttributionSection>,
}

impl EvalReport {
    pub fn new(gold_path: &str, gold: &GoldSet, classifiers: Vec<ClassifierReport>) -> Self {
        let summary = GoldSummary::new("en", gold_path, gold);
        EvalReport {
            gold: summary.gold,
            gold_sentences: summary.sentences,
            gold_docs: summary.docs,
            gold_counts: summary.counts,
            translations: Vec::new(),
            classifiers,
            attribution: None,
        }
    }

    /// Pretty JSON with every figure (machines read this one).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("reports serialise") + "\n"
    }

    /// A Markdown summary: the side-by-side table, per-class F1, per-document
    /// macro-F1 and the confusion matrices.
    /// The classifiers side by side: one row each, its main figures.
    pub fn summary_table(&self) -> Table {
        let mut table = Table::new(
            &[
                "classifier",
                "setting",
                "accuracy",
                "macro-F1",
                "95% CI",
                "kappa",
                "F1 pro",
                "F1 anti",
                "F1 neutral",
                "ECE",
                "boundary F1",
            ],
            2,
        );
        for c in &self.classifiers {
            let f1 = |l: Stance| format!("{:.3}", c.per_class[&l].f1);
            table.row(vec![
                c.label(),
                c.setting.describe().to_string(),
                format!("{:.3}", c.accuracy),
                format!("{:.3}", c.macro_f1),
                format!("[{:.3}, {:.3}]", c.macro_f1_ci.0, c.macro_f1_ci.1),
                format!("{:.3}", c.kappa),
                f1(Stance::Pro),
                f1(Stance::Anti),
                f1(Stance::Neutral),
                c.ece.map_or("n/a".to_string(), |e| format!("{e:.3}")),
                format!("{:.3}", c.boundaries.f1),
            ]);
        }
        table
    }

    /// Macro-F1 per language side by side, with the mean over languages
    /// (the figure the default classifier is chosen by); `None` for a
    /// report on one language.
    pub fn languages_table(&self) -> Option<Table> {
        let mut languages: Vec<&str> = vec!["en"];
        languages.extend(self.translations.iter().map(|t| t.language.as_str()));
        if languages.len() < 2 {
            return None;
        }
        let mut header = vec!["classifier", "setting"];
        let names: Vec<String> = languages.iter().map(|l| format!("macro-F1 {l}")).collect();
        header.extend(names.iter().map(String::as_str));
        header.push("mean");
        let mut table = Table::new(&header, 2);
        let mut seen: Vec<(&str, Setting)> = Vec::new();
        for c in &self.classifiers {
            let key = (c.classifier.as_str(), c.setting);
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let f1: Vec<Option<f64>> = languages
                .iter()
                .map(|l| {
                    self.classifiers
                        .iter()
                        .find(|o| (o.classifier.as_str(), o.setting) == key && o.language == *l)
                        .map(|o| o.macro_f1)
                })
                .collect();
            let mut row = vec![c.classifier.clone(), c.setting.describe().to_string()];
            row.extend(
                f1.iter()
                    .map(|f| f.map_or("n/a".to_string(), |f| format!("{f:.3}"))),
            );
            let known: Vec<f64> = f1.iter().flatten().copied().collect();
            row.push(if known.len() == languages.len() {
                format!("{:.3}", known.iter().sum::<f64>() / known.len() as f64)
            } else {
                "n/a".to_string()
            });
            table.row(row);
        }
        Some(table)
    }

    pub fn to_markdown(&self) -> String {
        use std::fmt::Write;
        let mut md = String::new();
        let counts: Vec<String> = self
            .gold_counts
            .iter()
            .map(|(l, n)| format!("{l} {n}"))
            .collect();
        let _ = writeln!(md, "# Stance evaluation\n");
        let _ = writeln!(
            md,
            "Gold: `{}`: {} sentences in {} documents ({}).\n",
            self.gold,
            self.gold_sentences,
            self.gold_docs,
            counts.join(", ")
        );
        for t in &self.translations {
            let _ = writeln!(md, "Translated gold: {}.\n", t.describe());
        }
        if let Some(table) = self.languages_table() {
            let _ = writeln!(md, "## Macro-F1 by language\n");
            md.push_str(&table.to_markdown());
            let _ = writeln!(
                md,
                "\nA trained classifier's fold leaves a story out in every language.\n\n## All figures\n"
            );
        }
        md.push_str(&self.summary_table().to_markdown());
        let _ = writeln!(md, "\n## Per class (precision / recall / F1, support)\n");
        let _ = writeln!(
            md,
            "| classifier | pro-dialogue | anti-dialogue | neutral |"
        );
        let _ = writeln!(md, "|---|---|---|---|");
        for c in &self.classifiers {
            let cell = |l: Stance| {
                let s = c.per_class[&l];
                format!(
                    "{:.2} / {:.2} / {:.2} ({})",
                    s.precision, s.recall, s.f1, s.support
                )
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                c.label(),
                cell(Stance::Pro),
                cell(Stance::Anti),
                cell(Stance::Neutral)
            );
        }
        let mut languages: Vec<&str> = Vec::new();
        for c in &self.classifiers {
            if !languages.contains(&c.language.as_str()) {
                languages.push(&c.language);
            }
        }
        if !languages.is_empty() {
            let _ = writeln!(md, "\n## Macro-F1 per document\n");
        }
        // One table per language: a translation's documents have ids of
        // their own.
        for language in languages {
            let rows: Vec<&ClassifierReport> = self
                .classifiers
                .iter()
                .filter(|c| c.language == language)
                .collect();
            let docs: Vec<&str> = rows[0].per_doc.iter().map(|d| d.doc.as_str()).collect();
            let _ = writeln!(md, "| classifier | {} |", docs.join(" | "));
            let _ = writeln!(md, "|---|{}", "---:|".repeat(docs.len()));
            for c in rows {
                let cells: Vec<String> = c
                    .per_doc
                    .iter()
                    .map(|d| format!("{:.3}", d.macro_f1))
                    .collect();
                let _ = writeln!(md, "| {} | {} |", c.label(), cells.join(" | "));
            }
            let _ = writeln!(md);
        }
        let _ = writeln!(
            md,
            "\n## Confusion matrices (rows: gold, columns: predicted)\n"
        );
        for c in &self.classifiers {
            let _ = writeln!(md, "**{}** ({})\n", c.label(), c.setting.describe());
            let _ = writeln!(md, "| gold \\ predicted | pro | anti | neutral |");
            let _ = writeln!(md, "|---|---:|---:|---:|");
            for l in Stance::ALL {
                let row = c.confusion.counts[l.index()];
                let _ = writeln!(md, "| {} | {} | {} | {} |", l, row[0], row[1], row[2]);
            }
            let _ = writeln!(md);
        }
        let _ = writeln!(
            md,
            "Macro-F1 intervals: 95% percentile bootstrap over sentences, 1000 resamples, fixed seed. \
             Gold sentences that no prediction overlaps count as neutral. \
             ECE: expected calibration error of the predicted label's probability, 10 bins."
        );
        if let Some(a) = &self.attribution {
            md.push_str(&a.to_markdown());
        }
        md
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gold::GoldRecord;

    #[test]
    fn report_counts_errors_and_renders_every_format() {
        let record = |start, end, stance| GoldRecord {
            doc: "d".into(),
            start,
            end,
            text: "t".into(),
            stance,
            mixed: false,
            claims: vec![],
            note: String::new(),
        };
        let gold = GoldSet {
            records: vec![record(0, 5, Stance::Pro), record(6, 9, Stance::Neutral)],
        };
        let predictions = vec![Prediction {
            doc: "d".into(),
            start: 0,
            end: 5,
            stance: Stance::Anti,
            text: "t".into(),
            scores: None,
            claims: None,
            holder: None,
            boilerplate: false,
        }];
        let r = score_predictions("x", Setting::NoTraining, &gold, &predictions);
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.uncovered, 1);
        assert_eq!(r.accuracy, 0.5);
        let report = EvalReport::new("gold.jsonl", &gold, vec![r]);
        let md = report.to_markdown();
        assert!(md.contains("| x | no training | 0.500 |"), "{md}");
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(json["classifiers"][0]["errors"][0]["gold"], "pro-dialogue");
    }
}
