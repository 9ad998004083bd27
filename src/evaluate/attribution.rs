//! Attribution measured on its own: the gold sentences, with their gold
//! stances, go through the attribution stage, and the holders and targets it
//! gives are compared with the gold claims. Then the actor comparison
//! (`stance compare`) computed from predictions is set against the one
//! computed from the gold claims.

use crate::aggregate::{ActorTable, SentenceClaims};
use crate::attribute::{Attribution, Attributor, ClauseStance, DocIn, SentenceIn};
use crate::gold::{GoldRecord, GoldSet, Texts};
use crate::report::table::Table;
use crate::stance::{Claim, Holder, Stance};
use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::BTreeMap;

/// Precision and recall of one holder over (sentence, holder) pairs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HolderScores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Gold sentences where this holder holds a claim.
    pub support: usize,
    /// Sentences where attribution gave this holder a claim.
    pub predicted: usize,
}

/// A gold stance-bearing sentence whose holder attribution got wrong.
#[derive(Debug, Clone, Serialize)]
pub struct AttributionError {
    pub doc: String,
    pub start: usize,
    pub end: usize,
    pub text: String,
    pub gold: Vec<Claim>,
    pub predicted_holder: Option<Holder>,
    pub predicted: Vec<Claim>,
    pub rule: Option<crate::attribute::Rule>,
}

impl AttributionError {
    /// The gold claims as `holder/stance/target`, comma-separated.
    pub fn gold_claims(&self) -> String {
        let claims: Vec<String> = self
            .gold
            .iter()
            .map(|c| format!("{}/{}/{}", c.holder, c.stance, c.target))
            .collect();
        claims.join(", ")
    }

    /// The holder attribution gave, or `none`.
    pub fn predicted_holder(&self) -> String {
        self.predicted_holder
            .map_or("none".into(), |h| h.to_string())
    }
}

/// Holder and target agreement with the gold claims, given the gold stances.
#[derive(Debug, Clone, Serialize)]
pub struct AttributionScores {
    /// The classifier that judged clauses of two-holder sentences.
    pub clause_classifier: String,
    /// Gold sentences with at least one claim.
    pub sentences: usize,
    /// Share of those whose predicted holder holds a gold claim with the
    /// sentence's gold stance (any gold claim for a mixed sentence).
    pub holder_accuracy: f64,
    /// Share whose set of predicted claim holders equals the gold set.
    pub holder_set_accuracy: f64,
    /// Share whose predicted target is the target of a gold claim with the
    /// sentence's stance (any claim for a mixed sentence).
    pub target_accuracy: f64,
    /// Per holder, over (sentence, holder) pairs of every gold sentence.
    pub per_holder: BTreeMap<Holder, HolderScores>,
    /// How many holders each rule decided, and how many of those were right.
    pub by_rule: BTreeMap<String, (usize, usize)>,
    pub errors: Vec<AttributionError>,
}

/// The gold sentences of each document, with gold stances, as attribution
/// input; documents in gold order.
pub fn gold_docs<'a>(
    gold: &'a GoldSet,
    texts: &'a Texts,
) -> Result<Vec<(DocIn<'a>, Vec<&'a GoldRecord>)>> {
    gold.by_doc()
        .into_iter()
        .map(|(doc, records)| {
            let text = texts
                .get(doc)
                .with_context(|| format!("no article text for gold document {doc:?}"))?;
            let sentences = records
                .iter()
                .map(|r| SentenceIn {
                    start: r.start,
                    end: r.end,
                    text: &r.text,
                    stance: r.stance,
                    boilerplate: r.note.starts_with("BOILERPLATE"),
                })
                .collect();
            Ok((DocIn { text, sentences }, records))
        })
        .collect()
}

/// Attributes the gold sentences given their gold stances.
pub fn attribute_gold(
    attributor: &Attributor,
    gold: &GoldSet,
    texts: &Texts,
    clauses: &dyn ClauseStance,
) -> Result<Vec<(GoldRecord, Attribution)>> {
    let docs = gold_docs(gold, texts)?;
    let inputs: Vec<DocIn<'_>> = docs.iter().map(|(d, _)| d.clone()).collect();
    let results = attributor.attribute(&inputs, clauses)?;
    Ok(docs
        .iter()
        .zip(results)
        .flat_map(|((_, records), attributions)| {
            records
                .iter()
                .map(|r| (*r).clone())
                .zip(attributions)
                .collect::<Vec<_>>()
        })
        .collect())
}

/// Scores attributions of gold sentences against their gold claims.
pub fn score_attribution(
    clause_classifier: &str,
    pairs: &[(GoldRecord, Attribution)],
) -> AttributionScores {
    let mut sentences = 0;
    let (mut holder_ok, mut set_ok, mut target_ok) = (0, 0, 0);
    let mut tp: BTreeMap<Holder, usize> = BTreeMap::new();
    let mut support: BTreeMap<Holder, usize> = BTreeMap::new();
    let mut predicted: BTreeMap<Holder, usize> = BTreeMap::new();
    let mut by_rule: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut errors = Vec::new();
    for (g, a) in pairs {
        let gold_holders = holder_set(&g.claims);
        let predicted_holders = holder_set(&a.claims);
        for h in &gold_holders {
            *support.entry(*h).or_default() += 1;
            if predicted_holders.contains(h) {
                *tp.entry(*h).or_default() += 1;
            }
        }
        for h in &predicted_holders {
            *predicted.entry(*h).or_default() += 1;
        }
        if g.claims.is_empty() {
            continue;
        }
        sentences += 1;
        let carrying: Vec<&Claim> = g
            .claims
            .iter()
            .filter(|c| g.mixed || c.stance == g.stance)
            .collect();
        let right = a
            .holder
            .is_some_and(|h| carrying.iter().any(|c| c.holder == h));
        holder_ok += usize::from(right);
        set_ok += usize::from(gold_holders == predicted_holders);
        target_ok += usize::from(
            a.target
                .is_some_and(|t| carrying.iter().any(|c| c.target == t)),
        );
        let rule = a
            .rule
            .map(|r| serde_json::to_value(r).expect("rules serialise"))
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "none".into());
        let entry = by_rule.entry(rule).or_default();
        entry.0 += 1;
        entry.1 += usize::from(right);
        if !right {
            errors.push(AttributionError {
                doc: g.doc.clone(),
                start: g.start,
                end: g.end,
                text: g.text.clone(),
                gold: g.claims.clone(),
                predicted_holder: a.holder,
                predicted: a.claims.clone(),
                rule: a.rule,
            });
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let per_holder = Holder::ALL
        .iter()
        .map(|&h| {
            let (t, s, p) = (
                tp.get(&h).copied().unwrap_or(0),
                support.get(&h).copied().unwrap_or(0),
                predicted.get(&h).copied().unwrap_or(0),
            );
            let (precision, recall) = (ratio(t, p), ratio(t, s));
            let f1 = if precision + recall == 0.0 {
                0.0
            } else {
                2.0 * precision * recall / (precision + recall)
            };
            (
                h,
                HolderScores {
                    precision,
                    recall,
                    f1,
                    support: s,
                    predicted: p,
                },
            )
        })
        .collect();
    AttributionScores {
        clause_classifier: clause_classifier.to_string(),
        sentences,
        holder_accuracy: ratio(holder_ok, sentences),
        holder_set_accuracy: ratio(set_ok, sentences),
        target_accuracy: ratio(target_ok, sentences),
        per_holder,
        by_rule,
        errors,
    }
}

fn holder_set(claims: &[Claim]) -> std::collections::BTreeSet<Holder> {
    claims.iter().map(|c| c.holder).collect()
}

/// Gold records as sentences with claims, for the actor comparison.
pub fn gold_sentence_claims(gold: &GoldSet) -> Vec<SentenceClaims> {
    gold.records
        .iter()
        .map(|r| SentenceClaims {
            doc: r.doc.clone(),
            start: r.start,
            end: r.end,
            text: r.text.clone(),
            stance: r.stance,
            boilerplate: r.note.starts_with("BOILERPLATE"),
            claims: r.claims.iter().map(|&c| c.into()).collect(),
            voice: None,
            story: None,
            scores: None,
        })
        .collect()
}

/// Gold sentences with the claims attribution gave them.
pub fn attributed_sentence_claims(pairs: &[(GoldRecord, Attribution)]) -> Vec<SentenceClaims> {
    pairs
        .iter()
        .map(|(r, a)| SentenceClaims {
            doc: r.doc.clone(),
            start: r.start,
            end: r.end,
            text: r.text.clone(),
            stance: a.stance,
            boilerplate: r.note.starts_with("BOILERPLATE"),
            claims: a.spoken_claims(),
            voice: if a.stance == Stance::Neutral {
                a.holder
            } else {
                None
            },
            scores: None,
            story: None,
        })
        .collect()
}

/// Net stance per actor, predicted against gold.
#[derive(Debug, Clone, Serialize)]
pub struct ComparisonError {
    /// Where the predicted stances came from.
    pub stances: String,
    /// Per actor: predicted net, gold net, predicted − gold.
    pub actors: BTreeMap<Holder, NetPair>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct NetPair {
    pub predicted: Option<f64>,
    pub gold: Option<f64>,
    pub difference: Option<f64>,
    /// Same sign (both positive, both negative, or both zero).
    pub same_sign: Option<bool>,
}

/// A net stance with its sign, or a dash when the actor holds no pro or
/// anti claim.
pub(crate) fn signed(v: Option<f64>) -> String {
    v.map_or("–".to_string(), |v| format!("{v:+.3}"))
}

impl NetPair {
    /// `+0.308 (+0.525) ✗`: the predicted net, its difference from gold,
    /// and a mark when the signs differ.
    pub fn cell(&self) -> String {
        match self.difference {
            Some(d) => format!(
                "{} ({d:+.3}){}",
                signed(self.predicted),
                if self.same_sign == Some(false) {
                    " ✗"
                } else {
                    ""
                }
            ),
            None => signed(self.predicted),
        }
    }
}

/// The comparison computed from `predicted` set against `gold`.
pub fn comparison_error(
    stances: &str,
    predicted: &ActorTable,
    gold: &ActorTable,
) -> ComparisonError {
    let actors = Holder::ALL
        .iter()
        .map(|&h| {
            let p = predicted.actors.get(&h).and_then(|r| r.net);
            let g = gold.actors.get(&h).and_then(|r| r.net);
            let difference = p.zip(g).map(|(p, g)| p - g);
            let same_sign = p
                .zip(g)
                .map(|(p, g)| p.signum() == g.signum() || (p == 0.0 && g == 0.0));
            (
                h,
                NetPair {
                    predicted: p,
                    gold: g,
                    difference,
                    same_sign,
                },
            )
        })
        .collect();
    ComparisonError {
        stances: stances.to_string(),
        actors,
    }
}

/// The attribution part of an evaluation report.
#[derive(Debug, Clone, Serialize)]
pub struct AttributionSection {
    /// Holders and targets given the gold stances.
    pub scores: AttributionScores,
    /// Net stance per actor from the gold claims.
    pub gold_net: BTreeMap<Holder, Option<f64>>,
    /// The comparison from predictions against the one from gold claims:
    /// with gold stances (attribution error only) and with predicted stances.
    pub comparisons: Vec<ComparisonError>,
}

impl AttributionSection {
    /// Holder, holder-set and target accuracy.
    pub fn accuracy_table(&self) -> Table {
        let s = &self.scores;
        let mut table = Table::new(
            &["holder accuracy", "holder-set accuracy", "target accuracy"],
            0,
        );
        table.row(vec![
            format!("{:.3}", s.holder_accuracy),
            format!("{:.3}", s.holder_set_accuracy),
            format!("{:.3}", s.target_accuracy),
        ]);
        table
    }

    /// Precision and recall of each holder.
    pub fn per_holder_table(&self) -> Table {
        let mut table = Table::new(
            &["holder", "precision", "recall", "F1", "gold", "predicted"],
            1,
        );
        for (h, p) in &self.scores.per_holder {
            table.row(vec![
                h.to_string(),
                format!("{:.3}", p.precision),
                format!("{:.3}", p.recall),
                format!("{:.3}", p.f1),
                p.support.to_string(),
                p.predicted.to_string(),
            ]);
        }
        table
    }

    /// Net stance per actor: from the gold claims, then from each source of
    /// stances with its difference from gold.
    pub fn comparison_table(&self) -> Table {
        let mut header = vec!["stances from".to_string()];
        header.extend(self.gold_net.keys().map(|h| h.to_string()));
        let mut table = Table::new(&header, 1);
        let mut gold = vec!["gold claims".to_string()];
        gold.extend(self.gold_net.values().map(|g| signed(*g)));
        table.row(gold);
        for c in &self.comparisons {
            let mut row = vec![c.stances.clone()];
            row.extend(self.gold_net.keys().map(|h| c.actors[h].cell()));
            table.row(row);
        }
        table
    }

    /// The section as Markdown.
    pub fn to_markdown(&self) -> String {
        use std::fmt::Write;
        let s = &self.scores;
        let mut md = String::new();
        let _ = writeln!(
            md,
            "\n## Attribution (holders and targets, given the gold stances)\n"
        );
        let _ = writeln!(
            md,
            "{} gold sentences with claims; clauses of two-holder sentences judged by `{}`.\n",
            s.sentences, s.clause_classifier
        );
        let _ = writeln!(md, "{}", self.accuracy_table().to_markdown());
        md.push_str(&self.per_holder_table().to_markdown());
        let _ = writeln!(md, "\nHolders decided per rule (right / decided):\n");
        for (rule, (n, ok)) in &s.by_rule {
            let _ = writeln!(md, "- {rule}: {ok} / {n}");
        }
        let _ = writeln!(
            md,
            "\n### Actor comparison against gold (net stance)\n\n\
             Net stance (pro − anti) / (pro + anti) per actor over the gold documents, from the gold \
             claims and from each source of stances (holders attributed by the pipeline); in brackets \
             the difference from gold, `✗` where the sign differs.\n"
        );
        md.push_str(&self.comparison_table().to_markdown());
        let _ = writeln!(md, "\n### Attribution errors ({})\n", s.errors.len());
        for e in &s.errors {
            let _ = writeln!(
                md,
                "- `{}` [{}..{}] gold {} · predicted {} ({}): {}",
                e.doc,
                e.start,
                e.end,
                e.gold_claims(),
                e.predicted_holder(),
                e.rule
                    .and_then(|r| serde_json::to_value(r).ok())
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| "none".into()),
                crate::report::output::shorten(&e.text, 140)
            );
        }
        md
    }
}
