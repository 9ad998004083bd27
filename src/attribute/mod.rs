//! Stage 5: who holds each sentence's stance, and toward which armed group.
//!
//! Attribution never decides a stance: the classifier does. It decides the
//! holder (labels/GUIDELINES.md §2.2) and the target (§2.3, §7) of the stance
//! the classifier gave, by rules read off the guidelines and the usual shape
//! of news reports, in this order of precedence:
//!
//! 1. a direct quotation whose speaker is a party (a state, an armed group,
//!    civil society, a foreign power) is the speaker's position (§6.2),
//!    including sentences that continue an open quotation (§5 C1);
//! 2. outside quotations, a question or advice ("should", "could", "would be
//!    wise") with no speaker is the author's (§6.7, §6.16);
//! 3. the actor taking a position or a step: subject of "rejected",
//!    "mandated", "agreed", agent of "was accepted by", owner of "JNIM's
//!    acceptance" (§6.1, §6.3; an allegation goes to the accused, R7);
//! 4. the speaker of reported speech or of an analyst's quotation ("X said",
//!    "X believes", "according to X");
//! 5. the subject at the head of the sentence, pronouns and titles carried
//!    from earlier in the paragraph ("he", "they", "the minister");
//! 6. otherwise the author.
//!
//! Names come from the gazetteer (`labels/actors.toml`); a name next to a
//! listed title is learnt for the rest of the article. A sentence that sets
//! two holders against each other is split into clauses, each clause is
//! classified by the pipeline's own classifier ([`ClauseStance`]), and each
//! holder gets a claim with its clause's stance (§6.10, R4, R5).

pub mod gazetteer;
mod lexicon;
// The actors a sentence names, resolved: what every rule reads.
mod mentions;

// The rules, a file each, in their order of precedence (applied in
// `Attributor::decide_range`); then the clause split and the targets.
mod quotes; // 1

mod author_voice; // 2

mod agents; // 3

mod speech; // 4

mod subjects; // 5

mod clauses;

mod targets;

use crate::stance::{Claim, Holder, Stance, Target};
use agents::agent;
use anyhow::{ensure, Result};
use author_voice::has_advice;
use gazetteer::{Found, MentionKind, TargetCue};
pub use gazetteer::{Gazetteer, GazetteerError};
use lexicon::contains;
use mentions::words;
use quotes::{quote_layout, quoted_share};
use serde::Serialize;
use speech::{clause_start, speech_speaker};
use subjects::{subject, History};
use targets::DocTargets;

/// Stances of clause texts, from the classifier the pipeline uses (so a
/// clause is judged exactly as a sentence would be).
pub trait ClauseStance {
    fn clause_stances(&self, clauses: &[&str]) -> Result<Vec<Stance>>;
}

/// A sentence as attribution sees it: its span, text and classified stance.
#[derive(Debug, Clone, Copy)]
pub struct SentenceIn<'a> {
    /// Code-point span into the article (only its order is used here).
    pub start: usize,
    pub end: usize,
    pub text: &'a str,
    pub stance: Stance,
    pub boilerplate: bool,
}

/// One article: its raw text (for paragraphs) and every sentence in order,
/// neutral ones included, since quotations and pronouns run across them.
#[derive(Debug, Clone)]
pub struct DocIn<'a> {
    pub text: &'a str,
    pub sentences: Vec<SentenceIn<'a>>,
}

/// Which rule decided a holder; reported so every attribution can be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// Speaker of a direct quotation, or of its continuation.
    Quote,
    /// A question or advice in the article's own voice.
    AuthorVoice,
    /// The actor taking a position or a step.
    Agent,
    /// The speaker of reported speech or of an analyst's quotation.
    Speech,
    /// The subject heading the sentence, or a pronoun carried to it.
    Subject,
    /// Opposed clauses, each with its own holder and stance.
    Clauses,
    /// No actor: the article's own voice.
    Fallback,
}

/// What attribution says about one sentence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attribution {
    /// The classifier's stance, or `neutral` for a mixed sentence (§4 step 8).
    pub stance: Stance,
    pub mixed: bool,
    pub claims: Vec<Claim>,
    /// Who holds the sentence's stance; for a neutral sentence, the actor
    /// whose words or act it reports, if one is named (no author fallback).
    pub holder: Option<Holder>,
    /// The armed group of the sentence's claim; `None` for neutral sentences.
    pub target: Option<Target>,
    /// The rule that decided `holder`.
    pub rule: Option<Rule>,
    /// The name behind each claim's holder, in the order of `claims`, where
    /// attribution knows it: a person or body named in the gazetteer or
    /// learnt in the article ("Emmanuel Macron", "High Islamic Council").
    pub speakers: Vec<Option<String>>,
    /// The name behind `holder`, where known.
    pub speaker: Option<String>,
}

impl Attribution {
    fn none() -> Self {
        Attribution {
            stance: Stance::Neutral,
            mixed: false,
            claims: vec![],
            holder: None,
            target: None,
            rule: None,
            speakers: vec![],
            speaker: None,
        }
    }
}

impl Attribution {
    /// The claims with the names behind their holders.
    pub fn spoken_claims(&self) -> Vec<crate::stance::SpokenClaim> {
        self.claims
            .iter()
            .enumerate()
            .map(|(k, &c)| {
                crate::stance::SpokenClaim::new(c, self.speakers.get(k).cloned().flatten())
            })
            .collect()
    }
}

/// An actor as a rule finds it: the holder, and the name behind it when
/// the mention that decided it names one.
#[derive(Debug, Clone, PartialEq)]
struct Who {
    holder: Holder,
    speaker: Option<String>,
}

/// The actor a mention stands for, if resolved.
fn who(m: &Mention) -> Option<Who> {
    m.holder.map(|holder| Who {
        holder,
        speaker: m.speaker.clone(),
    })
}

/// The attribution stage: a gazetteer and the rules above.
#[derive(Debug, Clone)]
pub struct Attributor {
    gazetteer: Gazetteer,
}

/// A resolved actor mention in a sentence (byte offsets into the sentence).
#[derive(Debug, Clone)]
struct Mention {
    start: usize,
    end: usize,
    holder: Option<Holder>,
    oblique: bool,
    possessive: bool,
    in_quote: bool,
    /// "we"/"I": resolved once the quotation's speaker is known.
    speaker_anaphor: bool,
    /// The name behind the mention: the person's full name (a surname
    /// completed from the gazetteer or the article, a title replaced by the
    /// name next to it), a body as written, or what a pronoun points back to.
    speaker: Option<String>,
}

/// Where quotation marks put a sentence.
#[derive(Debug, Clone, Default)]
struct QuoteLayout {
    /// Byte ranges of the sentence inside quotation marks.
    inside: Vec<(usize, usize)>,
    starts_inside: bool,
    ends_inside: bool,
    /// The sentence begins with an opening mark (a quotation standing as the sentence).
    opens_at_start: bool,
}

impl QuoteLayout {
    fn is_inside(&self, at: usize) -> bool {
        self.inside.iter().any(|&(s, e)| at >= s && at < e)
    }
}

/// A word of a sentence: byte span and lower-case form.
#[derive(Debug, Clone)]
struct Word {
    start: usize,
    end: usize,
    lower: String,
}

/// Per-sentence facts gathered before deciding.
#[derive(Debug, Clone, Default)]
struct Prepared {
    paragraph: usize,
    words: Vec<Word>,
    mentions: Vec<Mention>,
    quotes: QuoteLayout,
    /// The quotation run this sentence belongs to, if any.
    run: Option<usize>,
    question: bool,
}

/// A holder found by a rule, with the rule.
type Found2 = (Who, Rule);

/// A sentence's clauses and where their texts start in the clause batch.
type ClausePlan = (Vec<Clause>, usize);

/// A clause of a sentence considered for a split.
#[derive(Debug, Clone)]
struct Clause {
    start: usize,
    end: usize,
    holder: Holder,
    /// The name behind `holder`, where known.
    speaker: Option<String>,
    /// The connective before this clause, lower case ("" for the first).
    connective: String,
    /// Armed-group names in the clause, lower case.
    groups: Vec<String>,
}

impl Attributor {
    pub fn new(gazetteer: Gazetteer) -> Self {
        Attributor { gazetteer }
    }

    pub fn builtin() -> Self {
        Attributor::new(Gazetteer::builtin())
    }

    pub fn gazetteer(&self) -> &Gazetteer {
        &self.gazetteer
    }

    /// Attributes every sentence of `docs`: one [`Attribution`] per
    /// sentence, in order. Clauses of two-holder sentences from all
    /// documents go to `clauses` in one batch.
    pub fn attribute(
        &self,
        docs: &[DocIn<'_>],
        clauses: &dyn ClauseStance,
    ) -> Result<Vec<Vec<Attribution>>> {
        let prepared: Vec<PreparedDoc> = docs.iter().map(|d| self.prepare(d)).collect();
        let mut requests: Vec<&str> = Vec::new();
        let mut plans: Vec<Vec<Option<ClausePlan>>> = Vec::new();
        for (doc, prep) in docs.iter().zip(&prepared) {
            let mut doc_plans = Vec::with_capacity(doc.sentences.len());
            for (i, s) in doc.sentences.iter().enumerate() {
                let plan = if s.boilerplate {
                    None
                } else {
                    self.clause_plan(doc, prep, i)
                };
                doc_plans.push(plan.map(|cl| {
                    let first = requests.len();
                    for c in &cl {
                        requests.push(&s.text[c.start..c.end]);
                    }
                    (cl, first)
                }));
            }
            plans.push(doc_plans);
        }
        let stances = if requests.is_empty() {
            vec![]
        } else {
            clauses.clause_stances(&requests)?
        };
        ensure!(
            stances.len() == requests.len(),
            "clause classifier returned {} stances for {} clauses",
            stances.len(),
            requests.len()
        );
        Ok(docs
            .iter()
            .zip(&prepared)
            .zip(&plans)
            .map(|((doc, prep), doc_plans)| {
                doc.sentences
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        if s.boilerplate {
                            return Attribution::none();
                        }
                        let split = doc_plans[i].as_ref().and_then(|(cl, first)| {
                            self.decide_clauses(
                                doc,
                                prep,
                                i,
                                cl,
                                &stances[*first..*first + cl.len()],
                            )
                        });
                        split.unwrap_or_else(|| self.decide_sentence(doc, prep, i))
                    })
                    .collect()
            })
            .collect())
    }

    /// The whole-sentence decision.
    fn decide_sentence(&self, doc: &DocIn<'_>, prep: &PreparedDoc, i: usize) -> Attribution {
        let s = &doc.sentences[i];
        let found = self.decide_range(doc, prep, i, 0, s.text.len());
        if s.stance == Stance::Neutral {
            return Attribution {
                rule: found.as_ref().map(|(_, r)| *r),
                speaker: found.as_ref().and_then(|(w, _)| w.speaker.clone()),
                holder: found.map(|(w, _)| w.holder),
                ..Attribution::none()
            };
        }
        let (who, rule) = found.unwrap_or((
            Who {
                holder: Holder::Author,
                speaker: None,
            },
            Rule::Fallback,
        ));
        let target = prep.targets.of(&self.gazetteer, s.text, 0, s.text.len(), i);
        attribution(
            s.stance,
            false,
            vec![(
                Claim {
                    holder: who.holder,
                    stance: s.stance,
                    target,
                },
                who.speaker,
            )],
            rule,
        )
    }

    /// The holder of the byte range `start..end` of sentence `i` by rules
    /// 1–5, or `None` (the caller falls back to the author).
    fn decide_range(
        &self,
        doc: &DocIn<'_>,
        prep: &PreparedDoc,
        i: usize,
        start: usize,
        end: usize,
    ) -> Option<Found2> {
        let p = &prep.sentences[i];
        let s = &doc.sentences[i];
        let run_speaker = p.run.and_then(|r| prep.run_speakers[r].clone());
        // 1. A party's own quotation: a direct quotation (opening the
        // sentence or continuing), or a sentence mostly of its words; not a
        // phrase quoted inside reported speech.
        if let Some(w) = run_speaker.as_ref().filter(|w| is_party(w.holder)) {
            if p.quotes.opens_at_start
                || p.quotes.starts_inside
                || quoted_share(p, start, end) >= 0.5
            {
                return Some((w.clone(), Rule::Quote));
            }
        }
        let speech = speech_speaker(p, s, start, end);
        // 2. The article's own voice: questions and advice.
        if run_speaker.is_none() && speech.is_none() && (p.question || has_advice(p, start, end)) {
            return Some((
                Who {
                    holder: Holder::Author,
                    speaker: None,
                },
                Rule::AuthorVoice,
            ));
        }
        // 3. The actor taking a position or step.
        if let Some(w) = agent(p, s.text, start, end) {
            return Some((w, Rule::Agent));
        }
        // 4. The speaker: an analyst's quotation, reported speech.
        if let Some(w) = run_speaker.or(speech.map(|(w, _)| w)) {
            return Some((w, Rule::Speech));
        }
        // 5. The subject heading the sentence, or a pronoun carried to it.
        subject(p, s.text, start, end).map(|h| (h, Rule::Subject))
    }
}

fn attribution(
    stance: Stance,
    mixed: bool,
    claims: Vec<(Claim, Option<String>)>,
    rule: Rule,
) -> Attribution {
    let lead = claims
        .iter()
        .find(|(c, _)| c.stance == stance)
        .or(claims.first())
        .cloned();
    let (claims, speakers) = claims.into_iter().unzip();
    Attribution {
        stance,
        mixed,
        holder: lead.as_ref().map(|(c, _)| c.holder),
        target: lead.as_ref().map(|(c, _)| c.target),
        speaker: lead.and_then(|(_, s)| s),
        claims,
        speakers,
        rule: Some(rule),
    }
}

/// Claims without repeats (the first speaker of a repeated claim kept).
fn dedup(claims: Vec<(Claim, Option<String>)>) -> Vec<(Claim, Option<String>)> {
    let mut out: Vec<(Claim, Option<String>)> = Vec::new();
    for c in claims {
        if !out.iter().any(|(o, _)| *o == c.0) {
            out.push(c);
        }
    }
    out
}

/// A body's name as a speaker: without a leading article, so "The junta"
/// and "the junta" are one.
fn body_name(surface: &str) -> String {
    for article in ["the ", "The ", "THE "] {
        if let Some(rest) = surface.strip_prefix(article) {
            return rest.to_string();
        }
    }
    surface.to_string()
}

/// Holders whose quoted words are their own position; an analyst quoted on
/// another actor's step reports it (§2.2 `analyst`).
fn is_party(h: Holder) -> bool {
    !matches!(h, Holder::Analyst | Holder::Author)
}

/// A document's sentences, prepared, with its quotation speakers and targets.
struct PreparedDoc {
    sentences: Vec<Prepared>,
    run_speakers: Vec<Option<Who>>,
    targets: DocTargets,
}

#[cfg(test)]
mod tests {
    use super::*;
    use Holder::*;

    /// Clause stances from a keyword rule, so tests need no model.
    struct KeywordClauses;
    impl ClauseStance for KeywordClauses {
        fn clause_stances(&self, clauses: &[&str]) -> Result<Vec<Stance>> {
            Ok(clauses
                .iter()
                .map(|c| crate::classify::Keyword::label(c))
                .collect())
        }
    }

    /// Attributes an article given as lines (paragraphs) of sentences, each
    /// with its stance.
    fn run(paragraphs: &[&[(&str, Stance)]]) -> Vec<Attribution> {
        let text: String = paragraphs
            .iter()
            .map(|p| p.iter().map(|(t, _)| *t).collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("\n\n");
        let mut sentences = Vec::new();
        let mut at = 0;
        for (k, p) in paragraphs.iter().enumerate() {
            for (t, stance) in p.iter() {
                let n = t.chars().count();
                sentences.push(SentenceIn {
                    start: at,
                    end: at + n,
                    text: t,
                    stance: *stance,
                    boilerplate: false,
                });
                at += n + 1;
            }
            if k + 1 < paragraphs.len() {
                at += 1;
            }
        }
        let doc = DocIn {
            text: &text,
            sentences,
        };
        Attributor::builtin()
            .attribute(std::slice::from_ref(&doc), &KeywordClauses)
            .unwrap()
            .concat()
    }

    fn holders(a: &[Attribution]) -> Vec<Option<Holder>> {
        a.iter().map(|a| a.holder).collect()
    }

    const PRO: Stance = Stance::Pro;
    const ANTI: Stance = Stance::Anti;
    const NEUTRAL: Stance = Stance::Neutral;

    #[test]
    fn quote_before_and_after_its_speaker() {
        let a = run(&[
            &[(
                "“Talks are the only way out,” the Malian prime minister said.",
                PRO,
            )],
            &[(
                "“There will be no negotiation with terrorists,” says a French official.",
                ANTI,
            )],
        ]);
        assert_eq!(holders(&a), [Some(Mali), Some(France)]);
        assert_eq!(a[0].rule, Some(Rule::Quote));
        assert_eq!(a[1].target, Some(Target::Jihadists));
    }

    #[test]
    fn colon_quote_running_over_several_sentences() {
        let a = run(&[&[
            (
                "Hollande said: “We will not negotiate with the jihadists.",
                ANTI,
            ),
            ("Never.", ANTI),
            ("Not now.”", ANTI),
            ("Bamako wants talks.", PRO),
        ]]);
        assert_eq!(
            holders(&a),
            [Some(France), Some(France), Some(France), Some(Mali)]
        );
        assert_eq!(
            a[2].target,
            Some(Target::Jihadists),
            "target from the paragraph"
        );
    }

    #[test]
    fn quotation_named_by_its_last_sentence_and_the_next_paragraph() {
        let a = run(&[
            &[
                ("“Let us be clear: there are peace accords.", ANTI),
                (
                    "Those who did not sign them are terrorists,” Le Drian told the press.",
                    ANTI,
                ),
            ],
            &[("“Things are simple.”", ANTI)],
        ]);
        assert_eq!(holders(&a), [Some(France); 3]);
    }

    #[test]
    fn reported_speech_and_allegation() {
        let a = run(&[&[
            (
                "Moctar Ouane stressed that an offer of dialogue to the jihadists is needed.",
                PRO,
            ),
            ("JNIM complained that France opposed dialogue.", ANTI),
            ("According to the ICG, negotiations are inevitable.", PRO),
        ]]);
        assert_eq!(holders(&a), [Some(Mali), Some(France), Some(Analyst)]);
        assert_eq!(a[1].rule, Some(Rule::Agent));
    }

    #[test]
    fn steps_active_passive_and_possessive() {
        let a = run(&[&[
            ("The transitional government mandated the High Islamic Council to open talks with Katiba Macina.", PRO),
            ("Emissaries were sent by the Malian authorities to Iyad Ag Ghaly.", PRO),
            ("JNIM’s acceptance of the offer surprised observers.", PRO),
            ("The High Islamic Council obtained a ceasefire with the jihadists.", PRO),
            ("The High Islamic Council, mandated by Bamako, obtained a ceasefire.", PRO),
        ]]);
        assert_eq!(
            holders(&a),
            [
                Some(Mali),
                Some(Mali),
                Some(Jihadists),
                Some(MalianSociety),
                Some(Mali)
            ]
        );
    }

    #[test]
    fn speakers_are_named_completed_and_carried() {
        let a = run(&[
            &[
                ("Macron rejected any negotiation with the jihadists.", ANTI),
                ("He said talks with terrorists would never happen.", ANTI),
            ],
            &[
                (
                    "The High Islamic Council, mandated by the authorities, said it was prepared to act as a go-between for dialogue.",
                    PRO,
                ),
                (
                    "Wassim Nasr, a specialist, said that dialogue was possible.",
                    PRO,
                ),
                ("Nasr believes negotiations would help.", PRO),
            ],
            &[("Talks are the only way, the article argues?", PRO)],
        ]);
        let speaker = |i: usize| a[i].speakers.first().cloned().flatten();
        // A surname completed from the gazetteer; the pronoun carries it.
        assert_eq!(speaker(0).as_deref(), Some("Emmanuel Macron"));
        assert_eq!(speaker(1).as_deref(), Some("Emmanuel Macron"));
        assert_eq!(a[0].speaker, speaker(0));
        // A body as written, without its article.
        assert_eq!(a[2].holder, Some(Mali));
        assert_eq!(speaker(2).as_deref(), Some("High Islamic Council"));
        // A name learnt beside a title, and its surname later.
        assert_eq!(a[3].holder, Some(Analyst));
        assert_eq!(speaker(3).as_deref(), Some("Wassim Nasr"));
        assert_eq!(speaker(4).as_deref(), Some("Wassim Nasr"));
        // The author has no name.
        assert_eq!(a[5].holder, Some(Author));
        assert_eq!(speaker(5), None);
        assert_eq!(a[5].speakers.len(), a[5].claims.len());
    }

    #[test]
    fn pronouns_and_titles_carry_within_the_paragraph() {
        let a = run(&[
            &[
                ("Prime Minister Choguel Maïga spoke on Monday.", NEUTRAL),
                ("Later he said the door to talks was open.", PRO),
                ("Maïga also rejected any role for France.", NEUTRAL),
            ],
            &[
                ("The MNLA held a meeting in Kidal.", NEUTRAL),
                ("They are ready to negotiate.", PRO),
            ],
        ]);
        assert_eq!(a[1].holder, Some(Mali));
        assert_eq!(a[2].holder, Some(Mali), "a learnt name");
        assert_eq!(a[4].holder, Some(Tuareg));
        assert_eq!(a[4].target, Some(Target::Tuareg));
    }

    #[test]
    fn author_fallback_questions_and_advice() {
        let a = run(&[&[
            ("Talks offer the best chance for peace.", PRO),
            ("France should give Mali space to negotiate.", PRO),
            ("What if jihadists use a pause to regroup?", ANTI),
        ]]);
        assert_eq!(holders(&a), [Some(Author); 3]);
        assert_eq!(a[0].rule, Some(Rule::Fallback));
        assert_eq!(a[1].rule, Some(Rule::AuthorVoice));
    }

    #[test]
    fn two_holders_in_opposed_clauses_make_a_mixed_sentence() {
        let a = run(&[&[(
            "Bamako supports the opening of talks, while Paris believes that negotiations with the jihadists are a red line.",
            ANTI,
        )]]);
        let a = &a[0];
        assert!(a.mixed);
        assert_eq!(a.stance, NEUTRAL);
        let claims: Vec<(Holder, Stance, Target)> = a
            .claims
            .iter()
            .map(|c| (c.holder, c.stance, c.target))
            .collect();
        assert_eq!(
            claims,
            [
                (Mali, PRO, Target::Jihadists),
                (France, ANTI, Target::Jihadists)
            ]
        );
    }

    #[test]
    fn one_holder_split_between_groups_and_one_voice_conceding() {
        let a = run(&[
            &[(
                "Traoré says he may accept talks with the MNLA, but has ruled out any negotiation with the IMA.",
                NEUTRAL,
            )],
            &[(
                "“We understand that Bamako rejects talks with the Tuareg rebels, but negotiations are needed,” says a French official.",
                PRO,
            )],
        ]);
        assert!(a[0].mixed, "{:?}", a[0]);
        assert!(a[0].claims.iter().all(|c| c.holder == Mali));
        assert!(!a[1].mixed, "one voice concedes and asserts: {:?}", a[1]);
        assert_eq!(a[1].stance, PRO);
        assert_eq!(a[1].holder, Some(France));
    }

    #[test]
    fn neutral_sentences_get_a_voice_but_no_claim_and_boilerplate_nothing() {
        let a = run(&[&[(
            "The French foreign minister said on Monday that troops would stay in Mali.",
            NEUTRAL,
        )]]);
        assert!(a[0].claims.is_empty());
        assert_eq!(a[0].target, None);
        assert_eq!(a[0].holder, Some(France));
    }
}
