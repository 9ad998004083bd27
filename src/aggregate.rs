//! Stage 6: claims summed per actor, per article and per year.
//!
//! For each holder: how many sentences give it a pro and an anti claim, how
//! many neutral sentences report its words or acts, its net stance
//! (pro − anti) / (pro + anti), a 95% bootstrap interval over documents
//! (fixed seed), and the evidence sentences. Boilerplate is left out.
//!
//! Each story counts once: articles that are near-copies of one story
//! ([`crate::corpus::dedup`]) are folded into it. The story's claims are those of
//! its first article in input order (the article whose id names the
//! story, so `stance score` records and a run on the articles agree), and
//! each evidence sentence lists the other copies and their outlets.
//! `--keep-duplicates` counts every article instead.
//!
//! Per holder, the speakers behind its claims (the names attribution found:
//! "Emmanuel Macron", "High Islamic Council") with their own counts and net
//! stance; each evidence sentence names its speaker.

pub mod render;

use crate::metrics::{bootstrap_interval_partial, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED};
use crate::stance::{Holder, SpokenClaim, Stance};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A sentence with its claims: from `stance score` records, from the gold
/// set, or from attribution of gold sentences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentenceClaims {
    pub doc: String,
    pub start: usize,
    pub end: usize,
    #[serde(default)]
    pub text: String,
    pub stance: Stance,
    #[serde(default)]
    pub boilerplate: bool,
    #[serde(default)]
    pub claims: Vec<SpokenClaim>,
    /// For a neutral sentence, the actor whose words or act it reports
    /// (the record's `holder`); counted as that actor's neutral sentence.
    #[serde(default, rename = "holder")]
    pub voice: Option<Holder>,
    /// The classifier's probability for each stance (the record's `scores`).
    #[serde(default)]
    pub scores: Option<BTreeMap<Stance, f64>>,
    /// The story the sentence's article belongs to (the record's `story`);
    /// `None`: its own.
    #[serde(default)]
    pub story: Option<String>,
}

impl From<&crate::pipeline::ScoredSentence> for SentenceClaims {
    fn from(s: &crate::pipeline::ScoredSentence) -> Self {
        SentenceClaims {
            doc: s.sentence.doc.clone(),
            start: s.sentence.start,
            end: s.sentence.end,
            text: s.sentence.text.clone(),
            stance: s.stance,
            boilerplate: s.sentence.boilerplate,
            claims: s.claims.clone(),
            voice: s.holder.filter(|_| s.stance == Stance::Neutral),
            scores: Some(
                Stance::ALL
                    .iter()
                    .map(|&l| (l, s.scores.get(l) as f64))
                    .collect(),
            ),
            story: s.story.clone(),
        }
    }
}

/// One claim shown as evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    pub doc: String,
    pub start: usize,
    pub end: usize,
    pub text: String,
    pub stance: Stance,
    pub target: crate::stance::Target,
    /// The classifier's probability for the claim's stance, if known.
    pub score: Option<f64>,
    /// The name behind the holder, when attribution knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speaker: Option<String>,
    /// The other articles of the same story, folded into this one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub copies: Vec<StoryCopy>,
}

/// An article folded into a story, and its outlet when known.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoryCopy {
    pub doc: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outlet: Option<String>,
}

/// One speaker's figures under a holder.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpeakerRow {
    pub pro: usize,
    pub anti: usize,
    /// (pro − anti) / (pro + anti).
    pub net: Option<f64>,
}

/// One actor's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActorRow {
    pub pro: usize,
    pub anti: usize,
    pub neutral: usize,
    /// (pro − anti) / (pro + anti); `null` when the actor takes no side.
    pub net: Option<f64>,
    /// 95% percentile bootstrap interval of `net`; `null` when undefined.
    pub ci: Option<[f64; 2]>,
    /// The speakers behind the claims, by name (claims whose speaker is not
    /// known are counted under the holder only).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub speakers: BTreeMap<String, SpeakerRow>,
    pub evidence: Vec<Evidence>,
}

/// Figures for every actor over a set of documents.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActorTable {
    pub documents: Vec<String>,
    /// What the bootstrap resamples: `documents`, or `sentences` when the
    /// table covers a single document.
    pub ci_unit: &'static str,
    pub actors: BTreeMap<Holder, ActorRow>,
}

/// Net stance of counts; `None` when there is no pro and no anti.
pub fn net(pro: usize, anti: usize) -> Option<f64> {
    (pro + anti > 0).then(|| (pro as f64 - anti as f64) / (pro + anti) as f64)
}

/// Pro and anti counts per holder in `sentences` (one count per sentence
/// and holder: a holder with two pro claims in one sentence counts once).
fn counts<'a>(
    sentences: impl IntoIterator<Item = &'a SentenceClaims>,
) -> BTreeMap<Holder, (usize, usize)> {
    let mut out: BTreeMap<Holder, (usize, usize)> = BTreeMap::new();
    for s in sentences.into_iter().filter(|s| !s.boilerplate) {
        let mut seen: BTreeSet<(Holder, Stance)> = BTreeSet::new();
        for c in &s.claims {
            if seen.insert((c.holder, c.stance)) {
                let e = out.entry(c.holder).or_default();
                match c.stance {
                    Stance::Pro => e.0 += 1,
                    Stance::Anti => e.1 += 1,
                    Stance::Neutral => {}
                }
            }
        }
    }
    out
}

/// The actor table of `sentences` over `documents` (documents with no
/// sentence still count in the bootstrap: they weigh as empty).
pub fn actor_table(sentences: &[SentenceClaims], documents: &[String]) -> ActorTable {
    let kept: Vec<&SentenceClaims> = sentences
        .iter()
        .filter(|s| !s.boilerplate && documents.contains(&s.doc))
        .collect();
    let total = counts(kept.iter().copied());
    let mut by_doc: BTreeMap<&str, Vec<&SentenceClaims>> = BTreeMap::new();
    for s in &kept {
        by_doc.entry(s.doc.as_str()).or_default().push(s);
    }
    let doc_counts: Vec<BTreeMap<Holder, (usize, usize)>> = documents
        .iter()
        .map(|d| counts(by_doc.get(d.as_str()).into_iter().flatten().copied()))
        .collect();
    let by_documents = documents.len() >= 2;
    let mut actors = BTreeMap::new();
    for &holder in Holder::ALL {
        let (pro, anti) = total.get(&holder).copied().unwrap_or((0, 0));
        let neutral = kept
            .iter()
            .filter(|s| {
                s.stance == Stance::Neutral && s.claims.is_empty() && s.voice == Some(holder)
            })
            .count();
        let ci = if by_documents {
            bootstrap_interval_partial(&doc_counts, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, |sample| {
                let (p, a) = sample.iter().fold((0, 0), |(p, a), c| {
                    let (cp, ca) = c.get(&holder).copied().unwrap_or((0, 0));
                    (p + cp, a + ca)
                });
                net(p, a)
            })
        } else {
            // One document: resample its claims (each +1 or −1).
            let signs: Vec<i8> = std::iter::repeat_n(1i8, pro)
                .chain(std::iter::repeat_n(-1i8, anti))
                .collect();
            bootstrap_interval_partial(&signs, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, |sample| {
                let p = sample.iter().filter(|&&&s| s > 0).count();
                net(p, sample.len() - p)
            })
        };
        let mut speakers: BTreeMap<String, SpeakerRow> = BTreeMap::new();
        for s in &kept {
            let mut seen: BTreeSet<(&str, Stance)> = BTreeSet::new();
            for c in s.claims.iter().filter(|c| c.holder == holder) {
                let Some(name) = c.speaker.as_deref() else {
                    continue;
                };
                if c.stance == Stance::Neutral || !seen.insert((name, c.stance)) {
                    continue;
                }
                let row = speakers.entry(name.to_string()).or_insert(SpeakerRow {
                    pro: 0,
                    anti: 0,
                    net: None,
                });
                if c.stance == Stance::Pro {
                    row.pro += 1;
                } else {
                    row.anti += 1;
                }
            }
        }
        for row in speakers.values_mut() {
            row.net = net(row.pro, row.anti);
        }
        let mut evidence: Vec<Evidence> = kept
            .iter()
            .flat_map(|s| {
                s.claims
                    .iter()
                    .filter(move |c| c.holder == holder)
                    .map(move |c| Evidence {
                        doc: s.doc.clone(),
                        start: s.start,
                        end: s.end,
                        text: s.text.clone(),
                        stance: c.stance,
                        target: c.target,
                        score: s.scores.as_ref().and_then(|p| p.get(&c.stance).copied()),
                        speaker: c.speaker.clone(),
                        copies: vec![],
                    })
            })
            .collect();
        evidence.sort_by(|a, b| (&a.doc, a.start, a.stance).cmp(&(&b.doc, b.start, b.stance)));
        evidence.dedup_by(|a, b| a.doc == b.doc && a.start == b.start && a.stance == b.stance);
        actors.insert(
            holder,
            ActorRow {
                pro,
                anti,
                neutral,
                net: net(pro, anti),
                ci: ci.map(|(lo, hi)| [lo, hi]),
                speakers,
                evidence,
            },
        );
    }
    ActorTable {
        documents: documents.to_vec(),
        ci_unit: if by_documents {
            "documents"
        } else {
            "sentences"
        },
        actors,
    }
}

/// How documents are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GroupBy {
    Doc,
    Year,
}

/// Documents grouped by id or by year (`unknown` when a document has no
/// date), groups in order.
pub fn groups(
    documents: &[String],
    years: &BTreeMap<String, i32>,
    by: GroupBy,
) -> Vec<(String, Vec<String>)> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in documents {
        let key = match by {
            GroupBy::Doc => d.clone(),
            GroupBy::Year => years
                .get(d)
                .map_or_else(|| "unknown".to_string(), i32::to_string),
        };
        out.entry(key).or_default().push(d.clone());
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stance::Target;

    fn sentence(doc: &str, start: usize, claims: &[(Holder, Stance)]) -> SentenceClaims {
        SentenceClaims {
            doc: doc.into(),
            start,
            end: start + 5,
            text: format!("s{start}"),
            stance: claims.first().map_or(Stance::Neutral, |c| c.1),
            boilerplate: false,
            claims: claims
                .iter()
                .map(|&(holder, stance)| {
                    crate::stance::Claim {
                        holder,
                        stance,
                        target: Target::Jihadists,
                    }
                    .into()
                })
                .collect(),
            voice: None,
            scores: None,
            story: None,
        }
    }

    #[test]
    fn counts_net_and_interval_by_hand() {
        use Holder::{France, Mali};
        use Stance::{Anti, Pro};
        // Doc a: France anti twice, Mali pro. Doc b: France pro, Mali pro and
        // a mixed sentence (Mali pro, France anti). Doc c: nothing.
        let mut mixed = sentence("b", 20, &[(Mali, Pro), (France, Anti)]);
        mixed.stance = Stance::Neutral;
        let mut boiler = sentence("b", 30, &[(France, Pro)]);
        boiler.boilerplate = true;
        let mut voiced = sentence("c", 0, &[]);
        voiced.voice = Some(France);
        let sentences = vec![
            sentence("a", 0, &[(France, Anti)]),
            sentence("a", 10, &[(France, Anti)]),
            sentence("a", 20, &[(Mali, Pro)]),
            sentence("b", 0, &[(France, Pro)]),
            sentence("b", 10, &[(Mali, Pro)]),
            mixed,
            boiler,
            voiced,
        ];
        let docs: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let t = actor_table(&sentences, &docs);
        let france = &t.actors[&France];
        // France: pro 1, anti 3 (boilerplate left out): net (1 − 3) / 4 = −0.5.
        assert_eq!((france.pro, france.anti, france.neutral), (1, 3, 1));
        assert_eq!(france.net, Some(-0.5));
        let mali = &t.actors[&Mali];
        assert_eq!((mali.pro, mali.anti), (3, 0));
        assert_eq!(mali.net, Some(1.0));
        // Mali is pro in every document that names it: every resample gives +1.
        assert_eq!(mali.ci, Some([1.0, 1.0]));
        // France per document: a (0 pro, 2 anti), b (1, 1), c (0, 0). A
        // resample's net runs from −1 (only a) to 0 (only b); only-c
        // resamples have no net and are left out.
        let [lo, hi] = france.ci.unwrap();
        assert!(lo == -1.0 && (-0.5..=0.0).contains(&hi), "{lo} {hi}");
        assert_eq!(t.ci_unit, "documents");
        assert_eq!(t.actors[&Holder::Analyst].net, None);
        assert_eq!(t.actors[&Holder::Analyst].ci, None);
        assert_eq!(france.evidence.len(), 4);
        // Same input, same interval.
        assert_eq!(actor_table(&sentences, &docs), t);
    }

    #[test]
    fn one_document_resamples_its_sentences() {
        use Holder::France;
        let sentences = vec![
            sentence("a", 0, &[(France, Stance::Pro)]),
            sentence("a", 10, &[(France, Stance::Anti)]),
        ];
        let t = actor_table(&sentences, &["a".to_string()]);
        assert_eq!(t.ci_unit, "sentences");
        assert_eq!(t.actors[&France].net, Some(0.0));
        assert_eq!(t.actors[&France].ci, Some([-1.0, 1.0]));
    }

    #[test]
    fn groups_by_year_with_unknown_last_by_name() {
        let docs: Vec<String> = ["x", "y", "z"].map(String::from).to_vec();
        let years: BTreeMap<String, i32> =
            [("x".to_string(), 2020), ("y".to_string(), 2013)].into();
        let g = groups(&docs, &years, GroupBy::Year);
        let keys: Vec<&str> = g.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["2013", "2020", "unknown"]);
        assert_eq!(groups(&docs, &years, GroupBy::Doc).len(), 3);
    }
}

/// Where a table's stances and claims came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// Classifier stances and attribution's claims.
    Predicted,
    /// The gold set's claims.
    Gold,
}

/// The actor comparison across documents: the command-line contract's
/// `{"actors": {...}}`, the gold table beside it when asked, and groups.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// What `actors` is computed from.
    pub source: Source,
    /// The classifier behind predicted stances, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classifier: Option<String>,
    pub documents: Vec<String>,
    pub ci_unit: &'static str,
    pub actors: BTreeMap<Holder, ActorRow>,
    /// The table from gold claims, beside the predicted one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gold: Option<ActorTable>,
    /// Predicted net − gold net, per actor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<BTreeMap<Holder, Option<f64>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<GroupBy>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupTable>,
    /// Articles left out because another article of their story is counted
    /// (0 with `--keep-duplicates`).
    pub folded: usize,
    /// The stories told by more than one article, with every copy.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stories: Vec<StoryGroup>,
    pub bootstrap: BootstrapNote,
}

/// A story told by several articles: the one counted and every copy.
#[derive(Debug, Clone, Serialize)]
pub struct StoryGroup {
    /// The story's id: its first article in input order.
    pub story: String,
    /// The article whose claims count (the story's first article, or the
    /// first copy present when that one is not among the sentences).
    pub counted: String,
    /// Every article of the story, the counted one first, with outlets.
    pub documents: Vec<StoryCopy>,
}

/// Which articles tell which story, read from the sentences' `story`.
struct Stories {
    /// Story → its articles, in order of appearance, the counted one first.
    members: BTreeMap<String, Vec<String>>,
    story_of: BTreeMap<String, String>,
}

impl Stories {
    fn of(sentences: &[SentenceClaims]) -> Self {
        let mut members: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut story_of: BTreeMap<String, String> = BTreeMap::new();
        for s in sentences {
            if story_of.contains_key(&s.doc) {
                continue;
            }
            let story = s.story.clone().unwrap_or_else(|| s.doc.clone());
            story_of.insert(s.doc.clone(), story.clone());
            members.entry(story).or_default().push(s.doc.clone());
        }
        for (story, docs) in members.iter_mut() {
            // The story's first article is counted when present.
            if let Some(at) = docs.iter().position(|d| d == story) {
                let first = docs.remove(at);
                docs.insert(0, first);
            }
        }
        Stories { members, story_of }
    }

    fn counted(&self, doc: &str) -> bool {
        self.story_of
            .get(doc)
            .and_then(|story| self.members.get(story))
            .is_none_or(|docs| docs[0] == doc)
    }

    /// The other articles of `doc`'s story.
    fn copies_of(&self, doc: &str, outlets: &BTreeMap<String, String>) -> Vec<StoryCopy> {
        let Some(docs) = self.story_of.get(doc).and_then(|s| self.members.get(s)) else {
            return vec![];
        };
        docs.iter()
            .filter(|d| *d != doc)
            .map(|d| StoryCopy {
                doc: d.clone(),
                outlet: outlets.get(d).cloned(),
            })
            .collect()
    }
}

/// One group of documents (an article or a year).
#[derive(Debug, Clone, Serialize)]
pub struct GroupTable {
    pub key: String,
    pub documents: Vec<String>,
    pub ci_unit: &'static str,
    /// Figures without evidence (the evidence is listed once, at the top).
    pub actors: BTreeMap<Holder, ActorRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gold: Option<BTreeMap<Holder, ActorRow>>,
}

/// How intervals were computed.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct BootstrapNote {
    pub level: f64,
    pub resamples: usize,
    pub seed: u64,
}

fn documents_of(sentences: &[SentenceClaims]) -> Vec<String> {
    let set: BTreeSet<&str> = sentences.iter().map(|s| s.doc.as_str()).collect();
    set.into_iter().map(str::to_string).collect()
}

fn without_evidence(mut rows: BTreeMap<Holder, ActorRow>) -> BTreeMap<Holder, ActorRow> {
    for r in rows.values_mut() {
        r.evidence.clear();
        r.speakers.clear();
    }
    rows
}

/// How a comparison treats near-duplicate articles.
#[derive(Debug, Clone, Default)]
pub struct Folding {
    /// Count each article, copies included (`--keep-duplicates`).
    pub keep_duplicates: bool,
    /// Outlet of each article, where known, to list with its story.
    pub outlets: BTreeMap<String, String>,
}

/// Builds the comparison: from predicted sentences, from gold ones, or
/// both side by side (at least one must be given). Predicted sentences of
/// one story count once unless `folding` keeps duplicates (the gold set's
/// articles are distinct and never folded).
pub fn compare(
    predicted: Option<&[SentenceClaims]>,
    classifier: Option<&str>,
    gold: Option<&[SentenceClaims]>,
    years: &BTreeMap<String, i32>,
    by: Option<GroupBy>,
    folding: &Folding,
) -> Comparison {
    let stories = Stories::of(predicted.unwrap_or_default());
    let story_groups: Vec<StoryGroup> = stories
        .members
        .iter()
        .filter(|(_, docs)| docs.len() >= 2)
        .map(|(story, docs)| StoryGroup {
            story: story.clone(),
            counted: docs[0].clone(),
            documents: docs
                .iter()
                .map(|d| StoryCopy {
                    doc: d.clone(),
                    outlet: folding.outlets.get(d).cloned(),
                })
                .collect(),
        })
        .collect();
    let folded_sentences: Option<Vec<SentenceClaims>> =
        predicted.filter(|_| !folding.keep_duplicates).map(|p| {
            p.iter()
                .filter(|s| stories.counted(&s.doc))
                .cloned()
                .collect()
        });
    let folded = if folding.keep_duplicates {
        0
    } else {
        story_groups.iter().map(|g| g.documents.len() - 1).sum()
    };
    let predicted = folded_sentences.as_deref().or(predicted);
    let gold_table = gold.map(|g| actor_table(g, &documents_of(g)));
    let (source, mut main, main_sentences) = match predicted {
        Some(p) => (Source::Predicted, actor_table(p, &documents_of(p)), p),
        None => (
            Source::Gold,
            gold_table.clone().expect("predicted or gold sentences"),
            gold.expect("predicted or gold sentences"),
        ),
    };
    if !folding.keep_duplicates && predicted.is_some() {
        for row in main.actors.values_mut() {
            for e in &mut row.evidence {
                e.copies = stories.copies_of(&e.doc, &folding.outlets);
            }
        }
    }
    let side = if predicted.is_some() { gold } else { None };
    let error = side.and(gold_table.as_ref()).map(|g| {
        main.actors
            .iter()
            .map(|(h, r)| {
                let gold_net = g.actors.get(h).and_then(|r| r.net);
                (*h, r.net.zip(gold_net).map(|(p, g)| p - g))
            })
            .collect()
    });
    let groups = by
        .map(|by| {
            groups(&main.documents, years, by)
                .into_iter()
                .map(|(key, docs)| {
                    let t = actor_table(main_sentences, &docs);
                    let g = side.map(|g| without_evidence(actor_table(g, &docs).actors));
                    GroupTable {
                        key,
                        documents: docs,
                        ci_unit: t.ci_unit,
                        actors: without_evidence(t.actors),
                        gold: g,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    Comparison {
        source,
        classifier: predicted.and(classifier).map(str::to_string),
        documents: main.documents,
        ci_unit: main.ci_unit,
        actors: main.actors,
        gold: side.and(gold_table),
        error,
        by,
        groups,
        folded,
        stories: story_groups,
        bootstrap: BootstrapNote {
            level: 0.95,
            resamples: BOOTSTRAP_RESAMPLES,
            seed: BOOTSTRAP_SEED,
        },
    }
}
