//! Attribution measured on its own: the gold sentences, with their gold
//! stances, go through the attribution stage, and the holders and targets it
//! gives are compared with the gold claims. Then the actor comparison
//! (`stance compare`) computed from predictions is set against the one
//! computed from the gold claims.

use crate::aggregate::{ActorTable, SentenceClaims};
use crate::attribute::{Attribution, Attributor, ClauseStance, DocIn, SentenceIn};
use crate::gold::{GoldRecord, GoldSet, Texts};
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
            claims: r.claims.clone(),
            voice: None,
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
            claims: a.claims.clone(),
            voice: if a.stance == Stance::Neutral {
                a.holder
            } else {
                None
            },
            scores: None,
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
        let _ = writeln!(
            md,
            "| holder accuracy | holder-set accuracy | target accuracy |"
        );
        let _ = writeln!(md, "|---:|---:|---:|");
        let _ = writeln!(
            md,
            "| {:.3} | {:.3} | {:.3} |\n",
            s.holder_accuracy, s.holder_set_accuracy, s.target_accuracy
        );
        let _ = writeln!(
            md,
            "| holder | precision | recall | F1 | gold | predicted |"
        );
        let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|");
        for (h, p) in &s.per_holder {
            let _ = writeln!(
                md,
                "| {h} | {:.3} | {:.3} | {:.3} | {} | {} |",
                p.precision, p.recall, p.f1, p.support, p.predicted
            );
        }
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
        let mut header = "| stances from |".to_string();
        let mut rule = "|---|".to_string();
        for h in self.gold_net.keys() {
            let _ = write!(header, " {h} |");
            rule.push_str("---:|");
        }
        let _ = writeln!(md, "{header}\n{rule}");
        let mut row = "| gold claims |".to_string();
        for g in self.gold_net.values() {
            let _ = write!(row, " {} |", signed(*g));
        }
        let _ = writeln!(md, "{row}");
        for c in &self.comparisons {
            let mut row = format!("| {} |", c.stances);
            for h in self.gold_net.keys() {
                let _ = write!(row, " {} |", c.actors[h].cell());
            }
            let _ = writeln!(md, "{row}");
        }
        let _ = writeln!(md, "\n### Attribution errors ({})\n", s.errors.len());
        for e in &s.errors {
            let gold: Vec<String> = e
                .gold
                .iter()
                .map(|c| format!("{}/{}/{}", c.holder, c.stance, c.target))
                .collect();
            let _ = writeln!(
                md,
                "- `{}` [{}..{}] gold {} · predicted {} ({}): {}",
                e.doc,
                e.start,
                e.end,
                gold.join(", "),
                e.predicted_holder.map_or("none".into(), |h| h.to_string()),
                e.rule
                    .and_then(|r| serde_json::to_value(r).ok())
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| "none".into()),
                crate::output::shorten(&e.text, 140)
            );
        }
        md
    }
}
