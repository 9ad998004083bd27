//! Agreement between two annotators' labels files of the same articles
//! (`stance agree A B`): Cohen's kappa on the stance, specific agreement per
//! label, `mixed` and claims, and every disagreement side by side.
//!
//! Sentences are matched by document and span; a sentence only one side
//! labelled is counted, not compared.

use crate::gold::{GoldRecord, GoldSet};
use crate::metrics::Confusion;
use crate::report::table::Table;
use crate::stance::{Claim, Stance};
use serde::Serialize;
use std::collections::BTreeMap;

/// One label's counts on the shared sentences.
#[derive(Debug, Clone, Serialize)]
pub struct LabelAgreement {
    pub label: Stance,
    pub a: usize,
    pub b: usize,
    pub both: usize,
    /// 2·both / (a + b): the chance that, one annotator having given this
    /// label, the other gave it too.
    pub specific: f64,
}

/// A sentence the two annotators labelled differently.
#[derive(Debug, Clone, Serialize)]
pub struct Disagreement {
    pub doc: String,
    pub start: usize,
    pub end: usize,
    pub text: String,
    /// What differs: `stance`, `mixed`, `claims`, or several.
    pub on: Vec<&'static str>,
    pub a: Decision,
    pub b: Decision,
}

/// One annotator's decision, as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub stance: Stance,
    pub mixed: bool,
    pub claims: Vec<Claim>,
    pub note: String,
}

impl Decision {
    fn of(r: &GoldRecord) -> Self {
        Decision {
            stance: r.stance,
            mixed: r.mixed,
            claims: sorted_claims(&r.claims),
            note: r.note.clone(),
        }
    }

    fn summary(&self) -> String {
        let stance = if self.mixed {
            "mixed".to_string()
        } else {
            self.stance.to_string()
        };
        if self.claims.is_empty() {
            return stance;
        }
        let claims: Vec<String> = self
            .claims
            .iter()
            .map(|c| format!("{} {} {}", c.holder, c.stance, c.target))
            .collect();
        format!("{stance} ({})", claims.join("; "))
    }
}

fn sorted_claims(claims: &[Claim]) -> Vec<Claim> {
    let mut c = claims.to_vec();
    c.sort_by_key(|c| (c.holder, c.stance, c.target));
    c
}

/// The agreement report.
#[derive(Debug, Clone, Serialize)]
pub struct Agreement {
    pub a: String,
    pub b: String,
    /// Sentences both labelled.
    pub shared: usize,
    pub only_a: usize,
    pub only_b: usize,
    /// Same stance, over the shared sentences.
    pub observed: f64,
    pub kappa: f64,
    pub labels: Vec<LabelAgreement>,
    pub mixed_agree: usize,
    /// Same claims (holder, stance, target), order aside.
    pub claims_agree: usize,
    pub disagreements: Vec<Disagreement>,
}

impl Agreement {
    /// Compares two gold sets; `a` and `b` name them in the report.
    pub fn new(a: &str, set_a: &GoldSet, b: &str, set_b: &GoldSet) -> Self {
        let by_span = |set: &GoldSet| -> BTreeMap<(String, usize, usize), GoldRecord> {
            set.records
                .iter()
                .map(|r| ((r.doc.clone(), r.start, r.end), r.clone()))
                .collect()
        };
        let (map_a, map_b) = (by_span(set_a), by_span(set_b));
        let mut pairs: Vec<(Stance, Stance)> = Vec::new();
        let (mut mixed_agree, mut claims_agree) = (0, 0);
        let mut disagreements = Vec::new();
        for (key, ra) in &map_a {
            let Some(rb) = map_b.get(key) else { continue };
            pairs.push((ra.stance, rb.stance));
            let (da, db) = (Decision::of(ra), Decision::of(rb));
            let mut on = Vec::new();
            if da.stance != db.stance {
                on.push("stance");
            }
            if da.mixed == db.mixed {
                mixed_agree += 1;
            } else {
                on.push("mixed");
            }
            if da.claims == db.claims {
                claims_agree += 1;
            } else {
                on.push("claims");
            }
            if !on.is_empty() {
                disagreements.push(Disagreement {
                    doc: ra.doc.clone(),
                    start: ra.start,
                    end: ra.end,
                    text: ra.text.clone(),
                    on,
                    a: da,
                    b: db,
                });
            }
        }
        let shared = pairs.len();
        let confusion = Confusion::from_pairs(&pairs);
        let labels = Stance::ALL
            .into_iter()
            .map(|label| {
                let i = label.index();
                let a: usize = confusion.counts[i].iter().sum();
                let b: usize = (0..3).map(|r| confusion.counts[r][i]).sum();
                let both = confusion.counts[i][i];
                LabelAgreement {
                    label,
                    a,
                    b,
                    both,
                    specific: if a + b == 0 {
                        0.0
                    } else {
                        2.0 * both as f64 / (a + b) as f64
                    },
                }
            })
            .collect();
        Agreement {
            a: a.to_string(),
            b: b.to_string(),
            shared,
            only_a: map_a.keys().filter(|k| !map_b.contains_key(*k)).count(),
            only_b: map_b.keys().filter(|k| !map_a.contains_key(*k)).count(),
            observed: confusion.accuracy(),
            kappa: confusion.kappa(),
            labels,
            mixed_agree,
            claims_agree,
            disagreements,
        }
    }

    /// The report in Markdown: figures, per-label table, disagreements.
    pub fn to_markdown(&self) -> String {
        let mut md = format!(
            "# Agreement: {} against {}\n\n\
             - Sentences both labelled: {} (only in A: {}, only in B: {})\n\
             - Stance: observed agreement {:.3}, **Cohen's kappa {:.3}**\n\
             - `mixed` identical on {} / {}; claims identical on {} / {}\n\n",
            self.a,
            self.b,
            self.shared,
            self.only_a,
            self.only_b,
            self.observed,
            self.kappa,
            self.mixed_agree,
            self.shared,
            self.claims_agree,
            self.shared
        );
        let mut table = Table::new(&["", "A", "B", "both", "specific agreement"], 1);
        for l in &self.labels {
            table.row(vec![
                l.label.to_string(),
                l.a.to_string(),
                l.b.to_string(),
                l.both.to_string(),
                format!("{:.3}", l.specific),
            ]);
        }
        md.push_str(&table.to_markdown());
        md.push_str(&format!(
            "\n## Disagreements ({})\n\n",
            self.disagreements.len()
        ));
        if !self.disagreements.is_empty() {
            let mut table = Table::new(&["doc", "span", "on", "text", "A", "B"], 6);
            for d in &self.disagreements {
                table.row(vec![
                    d.doc.clone(),
                    format!("{}..{}", d.start, d.end),
                    d.on.join(", "),
                    markdown_cell(&d.text),
                    markdown_cell(&d.a.summary()),
                    markdown_cell(&d.b.summary()),
                ]);
            }
            md.push_str(&table.to_markdown());
        }
        md
    }
}

/// Text safe inside a Markdown table cell.
fn markdown_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
