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

use crate::stance::{Claim, Holder, Stance, Target};
use anyhow::{ensure, Result};
use gazetteer::{Found, MentionKind, TargetCue};
pub use gazetteer::{Gazetteer, GazetteerError};
use lexicon::contains;
use serde::Serialize;

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

fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (k, &(i, c)) in chars.iter().enumerate() {
        let next_alnum = chars.get(k + 1).is_some_and(|&(_, n)| n.is_alphanumeric());
        let wordy = c.is_alphanumeric() || (c == '-' && start.is_some() && next_alnum);
        match (wordy, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(Word {
                    start: s,
                    end: i,
                    lower: gazetteer::lower_same_len(&text[s..i]),
                });
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(Word {
            start: s,
            end: text.len(),
            lower: gazetteer::lower_same_len(&text[s..]),
        });
    }
    out
}

/// Quotation layout of `text`, given whether a quotation is open before it.
fn quote_layout(text: &str, open_before: bool) -> QuoteLayout {
    let mut layout = QuoteLayout {
        starts_inside: open_before,
        ..QuoteLayout::default()
    };
    let mut open_at: Option<usize> = open_before.then_some(0);
    let first = text.char_indices().find(|(_, c)| !c.is_whitespace());
    layout.opens_at_start = matches!(first, Some((_, '“' | '"' | '«' | '„')));
    for (i, c) in text.char_indices() {
        let closes = |layout: &mut QuoteLayout, open_at: &mut Option<usize>| match open_at.take() {
            Some(s) => layout.inside.push((s, i)),
            // A closing mark with none open: the quotation began before
            // this sentence (the splitter cuts inside quotations).
            None => {
                layout.starts_inside = true;
                layout.inside.push((0, i));
            }
        };
        match c {
            '“' | '«' | '„' if open_at.is_none() => open_at = Some(i + c.len_utf8()),
            '”' | '»' => closes(&mut layout, &mut open_at),
            '"' => {
                if open_at.is_some() {
                    closes(&mut layout, &mut open_at);
                } else {
                    open_at = Some(i + 1);
                }
            }
            _ => {}
        }
    }
    if let Some(s) = open_at {
        layout.inside.push((s, text.len()));
        layout.ends_inside = true;
    }
    layout.inside.sort();
    layout
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

    /// Everything about a document that attribution reads before deciding.
    fn prepare(&self, doc: &DocIn<'_>) -> PreparedDoc {
        // Paragraphs are lines: the splitter never lets a sentence span one.
        // Its line breaks, so a file with `\r` line ends has paragraphs too.
        let newline_chars: Vec<usize> = doc
            .text
            .chars()
            .enumerate()
            .filter(|(_, c)| crate::segment::is_line_break(*c))
            .map(|(i, _)| i)
            .collect();
        let mut sentences: Vec<Prepared> = Vec::with_capacity(doc.sentences.len());
        let mut history = History::default();
        let mut learnt: Vec<(String, Holder)> = Vec::new();
        let mut open_quote = false;
        let mut last_line = usize::MAX;
        let mut paragraph = 0;
        for (k, s) in doc.sentences.iter().enumerate() {
            // Paragraphs numbered densely over the lines that hold sentences,
            // so "the paragraph before" skips blank lines.
            let line = newline_chars.partition_point(|&n| n < s.start);
            if line != last_line {
                if k > 0 {
                    paragraph += 1;
                }
                last_line = line;
                // A quotation never runs past its paragraph.
                open_quote = false;
            }
            let quotes = quote_layout(s.text, open_quote);
            open_quote = quotes.ends_inside;
            let words = words(s.text);
            let mentions = self.mentions(
                s.text,
                &words,
                &quotes,
                paragraph,
                &mut history,
                &mut learnt,
            );
            let question = s
                .text
                .trim_end_matches(['”', '"', '»', '’', ')', ' '])
                .ends_with('?');
            sentences.push(Prepared {
                paragraph,
                words,
                mentions,
                quotes,
                run: None,
                question,
            });
        }
        // Quotation runs: from the sentence that opens a quotation to the one
        // that closes it; the speaker is named in one of them.
        let mut runs: Vec<Option<Who>> = Vec::new();
        let mut current: Option<usize> = None;
        for (i, p) in sentences.iter_mut().enumerate() {
            let continues = p.quotes.starts_inside && current.is_some();
            if !continues {
                current = None;
            }
            let quoted = p.quotes.opens_at_start || p.quotes.starts_inside;
            let has_frame_speech =
                speech_speaker(p, &doc.sentences[i], 0, doc.sentences[i].text.len()).is_some();
            // Scare quotes ("proto-state") are no quotation: a run needs a
            // quotation heading the sentence, or a third of it quoted.
            let substantial = quoted_share(p, 0, doc.sentences[i].text.len()) >= 0.3;
            if current.is_none() && (quoted || (substantial && has_frame_speech)) {
                runs.push(None);
                current = Some(runs.len() - 1);
            }
            if let Some(r) = current {
                p.run = Some(r);
                if runs[r].is_none() {
                    runs[r] = speech_speaker(p, &doc.sentences[i], 0, doc.sentences[i].text.len())
                        .map(|(w, _)| w);
                }
            }
            if !p.quotes.ends_inside {
                current = None;
            }
        }
        // A quotation with no speaker of its own continues the last one
        // quoted in its paragraph or the paragraph before (§5 C1).
        let mut last_speaker: Option<(usize, Who)> = None;
        let mut run_speakers = runs.clone();
        for p in &sentences {
            let Some(r) = p.run else { continue };
            match &runs[r] {
                Some(w) => last_speaker = Some((p.paragraph, w.clone())),
                None => {
                    if let Some((para, w)) = &last_speaker {
                        if p.paragraph <= para + 1 && run_speakers[r].is_none() {
                            run_speakers[r] = Some(w.clone());
                        }
                    }
                }
            }
        }
        // "we" and "I" inside a quotation are its speaker.
        for p in sentences.iter_mut() {
            let speaker = p.run.and_then(|r| run_speakers[r].as_ref());
            for m in p.mentions.iter_mut().filter(|m| m.speaker_anaphor) {
                let w = speaker.filter(|_| m.in_quote);
                m.holder = w.map(|w| w.holder);
                m.speaker = w.and_then(|w| w.speaker.clone());
            }
        }
        let targets = DocTargets::new(&self.gazetteer, doc, &sentences);
        PreparedDoc {
            sentences,
            run_speakers,
            targets,
        }
    }

    /// Actor mentions of one sentence, resolved against what came before.
    fn mentions(
        &self,
        text: &str,
        words: &[Word],
        quotes: &QuoteLayout,
        paragraph: usize,
        history: &mut History,
        learnt: &mut Vec<(String, Holder)>,
    ) -> Vec<Mention> {
        let mut found = self.gazetteer.mentions(text);
        // Names learnt earlier in the article.
        for (name, holder) in learnt.iter() {
            for (start, _) in text.match_indices(name.as_str()) {
                let end = start + name.len();
                let free = found.iter().all(|f| f.end <= start || f.start >= end);
                let bounded = !text[end..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_alphanumeric())
                    && !text[..start]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c.is_alphanumeric());
                if free && bounded {
                    found.push(Found {
                        start,
                        end,
                        kind: MentionKind::Person(*holder),
                    });
                }
            }
        }
        found.sort_by_key(|f| f.start);
        let mandated = self.gazetteer.says_mandated(text);
        let mut out: Vec<Mention> = Vec::new();
        for f in &found {
            let lower = gazetteer::lower_same_len(&text[f.start..f.end]);
            // An expletive "it" ("it is time", "it would be") names nobody.
            if lower == "it" {
                let next = words
                    .iter()
                    .find(|w| w.start >= f.end)
                    .map(|w| w.lower.as_str());
                let prev = words
                    .iter()
                    .rev()
                    .find(|w| w.end <= f.start)
                    .map(|w| w.lower.as_str());
                // "make it harder", "find it useful".
                if matches!(
                    prev,
                    Some("make" | "makes" | "made" | "making" | "find" | "found" | "keep")
                ) {
                    continue;
                }
                if matches!(
                    next,
                    Some(
                        "is" | "was"
                            | "would"
                            | "seems"
                            | "seemed"
                            | "appears"
                            | "will"
                            | "could"
                            | "may"
                            | "might"
                            | "remains"
                            | "must"
                            | "should"
                            | "can"
                            | "s"
                    )
                ) {
                    continue;
                }
            }
            let in_quote = quotes.is_inside(f.start);
            let surface = &text[f.start..f.end];
            let (holder, person, speaker_anaphor, speaker) = match f.kind {
                MentionKind::Person(h) => {
                    // A title with a name beside it stands for the name.
                    let name = adjacent_names(text, words, f.start, f.end)
                        .into_iter()
                        .max_by_key(|n| n.len())
                        .unwrap_or_else(|| surface.to_string());
                    (Some(h), true, false, Some(self.full_name(&name, h, learnt)))
                }
                MentionKind::Body(h) => (Some(h), false, false, Some(body_name(surface))),
                MentionKind::Mandatable => (
                    Some(if mandated {
                        self.gazetteer.mandated_holder
                    } else {
                        self.gazetteer.unmandated_holder
                    }),
                    false,
                    false,
                    Some(body_name(surface)),
                ),
                MentionKind::PersonAnaphor => {
                    let w = history.resolve(paragraph, true);
                    (
                        w.map(|w| w.holder),
                        true,
                        false,
                        w.and_then(|w| w.speaker.clone()),
                    )
                }
                MentionKind::BodyAnaphor => {
                    let w = history.resolve(paragraph, false);
                    (
                        w.map(|w| w.holder),
                        false,
                        false,
                        w.and_then(|w| w.speaker.clone()),
                    )
                }
                MentionKind::ArmedAnaphor => (history.armed, false, false, None),
                MentionKind::SpeakerAnaphor => (None, true, true, None),
            };
            let possessive = is_possessive(text, f.end)
                || matches!(
                    lower.as_str(),
                    "his" | "her" | "its" | "their" | "our" | "my" | "notre"
                );
            let oblique = is_oblique(text, words, f.start, &out);
            if let (Some(h), false) = (holder, speaker_anaphor) {
                history.push(
                    paragraph,
                    Who {
                        holder: h,
                        speaker: speaker.clone(),
                    },
                    person,
                );
            }
            // A title followed by a capitalised name, or a name followed by
            // ", a <title>": the name is that holder's for the article.
            if let MentionKind::Person(h) = f.kind {
                for name in adjacent_names(text, words, f.start, f.end) {
                    if learnt.len() < MAX_LEARNT_NAMES && !learnt.iter().any(|(n, _)| *n == name) {
                        learnt.push((name, h));
                    }
                }
            }
            out.push(Mention {
                start: f.start,
                end: f.end,
                holder,
                oblique,
                possessive,
                in_quote,
                speaker_anaphor,
                speaker,
            });
        }
        out
    }

    /// A person's name as the article knows it best: a surname or a shorter
    /// form completed from the longest name of the same holder learnt in the
    /// article or listed in the gazetteer that ends with it ("Macron" →
    /// "Emmanuel Macron"); titles and unknown names as written.
    fn full_name(&self, name: &str, holder: Holder, learnt: &[(String, Holder)]) -> String {
        let ends_with = |long: &str| {
            long.len() > name.len()
                && long.ends_with(name)
                && long[..long.len() - name.len()].ends_with(' ')
        };
        learnt
            .iter()
            .filter(|(n, h)| *h == holder && ends_with(n))
            .map(|(n, _)| n.as_str())
            .max_by_key(|n| n.len())
            .or_else(|| self.gazetteer.full_name(name, holder))
            .unwrap_or(name)
            .to_string()
    }

    /// The clauses of a sentence that sets holders against each other, or
    /// `None` when it does not.
    fn clause_plan(&self, doc: &DocIn<'_>, prep: &PreparedDoc, i: usize) -> Option<Vec<Clause>> {
        let s = &doc.sentences[i];
        let p = &prep.sentences[i];
        let lower = gazetteer::lower_same_len(s.text);
        let mut cuts: Vec<(usize, usize, String)> = Vec::new();
        for pat in lexicon::CLAUSE_SPLITS {
            for (at, _) in lower.match_indices(pat) {
                if cuts.iter().all(|&(a, b, _)| at >= b || at + pat.len() <= a) {
                    let connective = pat
                        .trim_matches(|c: char| !c.is_alphanumeric())
                        .split_whitespace()
                        .last()
                        .unwrap_or("")
                        .to_string();
                    cuts.push((at, at + pat.len(), connective));
                }
            }
        }
        if cuts.is_empty() {
            return None;
        }
        cuts.sort();
        let mut clauses: Vec<Clause> = Vec::new();
        let mut from = 0;
        let mut connective = String::new();
        for (a, b, c) in
            cuts.iter()
                .cloned()
                .chain(std::iter::once((s.text.len(), s.text.len(), String::new())))
        {
            let (start, end) = (from, a);
            let n_words = p
                .words
                .iter()
                .filter(|w| w.start >= start && w.end <= end)
                .count();
            if n_words >= 3 {
                let first_word = p
                    .words
                    .iter()
                    .find(|w| w.start >= start)
                    .map(|w| w.lower.clone());
                let explicit = self.decide_range(doc, prep, i, start, end).map(|(w, _)| w);
                let inherited = first_word
                    .filter(|w| contains(lexicon::ELLIPTIC_STARTS, w))
                    .and(clauses.last().map(|c: &Clause| Who {
                        holder: c.holder,
                        speaker: c.speaker.clone(),
                    }));
                if let Some(Who { holder, speaker }) = explicit.or(inherited) {
                    // Cue offsets are relative to the clause (found by fuzzing:
                    // slicing the sentence with them named the wrong words, or
                    // panicked inside a multi-byte character).
                    let clause = &s.text[start..end];
                    let groups = self
                        .gazetteer
                        .target_cues(clause)
                        .into_iter()
                        .map(|f| gazetteer::lower_same_len(&clause[f.start..f.end]))
                        .collect();
                    clauses.push(Clause {
                        start,
                        end,
                        holder,
                        speaker,
                        connective: connective.clone(),
                        groups,
                    });
                }
            }
            from = b;
            connective = c;
        }
        if clauses.len() < 2 {
            return None;
        }
        let distinct_holders = clauses.iter().any(|c| c.holder != clauses[0].holder);
        let distinct_groups = names_different_groups(&clauses);
        (distinct_holders || distinct_groups).then_some(clauses)
    }

    /// Claims from classified clauses; `None` to fall back to the sentence.
    fn decide_clauses(
        &self,
        doc: &DocIn<'_>,
        prep: &PreparedDoc,
        i: usize,
        clauses: &[Clause],
        stances: &[Stance],
    ) -> Option<Attribution> {
        let s = &doc.sentences[i];
        let taking: Vec<(&Clause, Stance)> = clauses
            .iter()
            .zip(stances)
            .filter(|(_, st)| **st != Stance::Neutral)
            .map(|(c, st)| (c, *st))
            .collect();
        let claim = |c: &Clause, stance: Stance| {
            (
                Claim {
                    holder: c.holder,
                    stance,
                    target: prep.targets.of(&self.gazetteer, s.text, c.start, c.end, i),
                },
                c.speaker.clone(),
            )
        };
        let opposed = taking.iter().any(|(_, st)| *st != taking[0].1);
        if taking.len() >= 2 && opposed {
            let one_voice = prep.sentences[i]
                .run
                .and_then(|r| prep.run_speakers[r].as_ref())
                .is_some_and(|w| is_party(w.holder));
            let same_holder = taking.iter().all(|(c, _)| c.holder == taking[0].0.holder);
            let asserted = taking.last().expect("two clauses");
            let concession = same_holder
                && !names_different_groups(clauses)
                && contains(lexicon::CONCESSIVE, &asserted.0.connective);
            if concession {
                // One voice concedes, then asserts: the assertion is its position (R5).
                let stance = asserted.1;
                return Some(attribution(
                    stance,
                    false,
                    vec![claim(asserted.0, stance)],
                    Rule::Clauses,
                ));
            }
            let claims = dedup(taking.iter().map(|(c, st)| claim(c, *st)).collect());
            if one_voice {
                // A speaker sets out both sides and takes the last (R5): the
                // sentence keeps the classifier's stance, or the assertion's.
                let stance = if s.stance != Stance::Neutral {
                    s.stance
                } else {
                    asserted.1
                };
                return Some(attribution(stance, false, claims, Rule::Clauses));
            }
            // Opposed positions side by side: neutral, mixed (R4, §6.10).
            return Some(attribution(Stance::Neutral, true, claims, Rule::Clauses));
        }
        if s.stance == Stance::Neutral {
            return None;
        }
        // Clauses that agree with the sentence's stance hold it.
        let holding: Vec<(Claim, Option<String>)> = taking
            .iter()
            .filter(|(_, st)| *st == s.stance)
            .map(|(c, st)| claim(c, *st))
            .collect();
        if holding.is_empty() {
            return None;
        }
        Some(attribution(s.stance, false, dedup(holding), Rule::Clauses))
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

/// Share of `start..end` inside quotation marks.
fn quoted_share(p: &Prepared, start: usize, end: usize) -> f64 {
    let inside: usize = p
        .quotes
        .inside
        .iter()
        .map(|&(s, e)| e.min(end).saturating_sub(s.max(start)))
        .sum();
    inside as f64 / (end - start).max(1) as f64
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

fn names_different_groups(clauses: &[Clause]) -> bool {
    let named: Vec<&Vec<String>> = clauses
        .iter()
        .map(|c| &c.groups)
        .filter(|g| !g.is_empty())
        .collect();
    named.len() >= 2
        && named
            .iter()
            .any(|g| named[0].iter().all(|n| !g.contains(n)))
}

/// Names learnt from titles ("Minister Abdoulaye Diop") kept per article:
/// each sentence is searched for every one, so an article of thousands of
/// titled names would make that search quadratic. Real articles learn a
/// handful (the bundled ones at most a dozen); later names beyond the bound
/// are not learnt.
const MAX_LEARNT_NAMES: usize = 64;

/// The actors met so far in an article, as pronouns need them: the last one
/// (in its paragraph), the last person, the last body, the last armed group.
/// Constant time per mention, however long the article.
#[derive(Debug, Default)]
struct History {
    last: Option<(usize, Who)>,
    person: Option<(usize, Who)>,
    body: Option<(usize, Who)>,
    armed: Option<Holder>,
}

impl History {
    fn push(&mut self, paragraph: usize, who: Who, person: bool) {
        if matches!(who.holder, Holder::Jihadists | Holder::Tuareg) {
            self.armed = Some(who.holder);
        }
        if person {
            self.person = Some((paragraph, who.clone()));
        } else {
            self.body = Some((paragraph, who.clone()));
        }
        self.last = Some((paragraph, who));
    }

    /// The last actor of the wanted kind in this paragraph or the one
    /// before, else the last actor there of either kind.
    fn resolve(&self, paragraph: usize, person: bool) -> Option<&Who> {
        fn near(k: &Option<(usize, Who)>, paragraph: usize) -> Option<&Who> {
            k.as_ref()
                .and_then(|(para, w)| (para + 1 >= paragraph).then_some(w))
        }
        let kind = if person { &self.person } else { &self.body };
        near(kind, paragraph).or_else(|| near(&self.last, paragraph))
    }
}

/// "X's" or "Xs'": the mention owns the noun after it.
fn is_possessive(text: &str, end: usize) -> bool {
    let rest = &text[end..];
    let mut chars = rest.chars();
    let (first, second) = (chars.next(), chars.next());
    match (first, second) {
        (Some('\'' | '’'), Some('s')) => !chars.next().is_some_and(char::is_alphanumeric),
        (Some('\'' | '’'), Some(' ')) => text[..end].ends_with('s'),
        _ => false,
    }
}

/// Whether the mention at `start` follows a preposition ("with X", "in Mali"),
/// directly or through a coordination with an oblique mention.
fn is_oblique(text: &str, words: &[Word], start: usize, earlier: &[Mention]) -> bool {
    let before: Vec<&Word> = words.iter().filter(|w| w.end <= start).collect();
    let mut k = before.len();
    while k > 0 && contains(lexicon::DETERMINERS, &before[k - 1].lower) {
        k -= 1;
    }
    let Some(prev) = k.checked_sub(1).map(|k| before[k]) else {
        return false;
    };
    // Punctuation between the word and the name breaks the tie ("at France, Paris").
    let gap = &text[prev.end..start];
    if gap.contains([',', '(', ')', ':', ';', '—', '“', '"']) {
        return false;
    }
    // After a preposition, or right after a verb of position or saying
    // (its object: "commit the Malian government").
    if contains(lexicon::PREPOSITIONS, &prev.lower)
        || contains(lexicon::POSITION_VERBS, &prev.lower)
        || contains(lexicon::SPEECH, &prev.lower)
    {
        return true;
    }
    if matches!(prev.lower.as_str(), "and" | "or" | "nor") {
        // Coordinated with an oblique name: "with X and Y", "X, or Y"; but
        // ", and" after a name starts a new clause.
        return earlier.last().is_some_and(|m| {
            let link = &text[m.end..prev.start];
            m.oblique
                && prev.start.saturating_sub(m.end) < 12
                && (!link.contains(',') || prev.lower != "and")
        });
    }
    false
}

/// Capitalised names next to a person title: "Minister Abdoulaye Diop",
/// "Wassim Nasr, a specialist". Returns the full name and its last word.
fn adjacent_names(text: &str, words: &[Word], start: usize, end: usize) -> Vec<String> {
    let capital = |w: &Word| {
        text[w.start..]
            .chars()
            .next()
            .is_some_and(char::is_uppercase)
    };
    let particle =
        |w: &Word| matches!(w.lower.as_str(), "ag" | "al" | "le" | "de" | "ben" | "ould");
    let mut names = Vec::new();
    // Title, then the name.
    let after: Vec<&Word> = words.iter().filter(|w| w.start >= end).take(4).collect();
    let mut run: Vec<&Word> = Vec::new();
    for w in &after {
        let gap = &text[run.last().map_or(end, |l| l.end)..w.start];
        if !gap.chars().all(|c| c == ' ') || !(capital(w) || (particle(w) && !run.is_empty())) {
            break;
        }
        run.push(w);
    }
    // Name, then ", a <title>" / ", the <title>".
    let before: Vec<&Word> = words.iter().filter(|w| w.end <= start).collect();
    if run.is_empty() && before.len() >= 2 {
        let det = before[before.len() - 1];
        let gap = &text[det.end..start];
        if matches!(det.lower.as_str(), "a" | "an" | "the") && gap.trim().is_empty() {
            let mut k = before.len() - 1;
            if text[..det.start].trim_end().ends_with(',') {
                let mut name: Vec<&Word> = Vec::new();
                while k > 0 && name.len() < 4 {
                    let w = before[k - 1];
                    let gap = &text[w.end..name.last().map_or(det.start, |n| n.start)];
                    let ok_gap = if name.is_empty() {
                        gap.trim() == ","
                    } else {
                        gap == " "
                    };
                    if !ok_gap || !(capital(w) || particle(w)) {
                        break;
                    }
                    name.push(w);
                    k -= 1;
                }
                name.reverse();
                run = name;
            }
        }
    }
    // A single capitalised word could be a place or the next sentence's
    // first word; a name has two or more.
    if run.len() >= 2 {
        let full = text[run[0].start..run[run.len() - 1].end].to_string();
        let last = text[run[run.len() - 1].start..run[run.len() - 1].end].to_string();
        names.push(full);
        if last.chars().count() > 2 {
            names.push(last);
        }
    }
    names
}

/// The speaker named by a verb of saying outside quotation marks in
/// `start..end`: the nearest actor before the verb in its clause, else the
/// first after it ("says a French official"), else "according to X".
fn speech_speaker(
    p: &Prepared,
    s: &SentenceIn<'_>,
    start: usize,
    end: usize,
) -> Option<(Who, usize)> {
    let frame = |at: usize| at >= start && at < end && !p.quotes.is_inside(at);
    let text = s.text;
    for (k, w) in p.words.iter().enumerate() {
        if !frame(w.start) {
            continue;
        }
        let according =
            w.lower == "according" && p.words.get(k + 1).is_some_and(|n| n.lower == "to");
        let selon = w.lower == "selon";
        if according || selon {
            let after = p
                .mentions
                .iter()
                .find(|m| m.start > w.end && frame(m.start) && m.holder.is_some());
            if let Some(m) = after {
                return who(m).map(|found| (found, w.start));
            }
            continue;
        }
        if !contains(lexicon::SPEECH, &w.lower) {
            continue;
        }
        let clause_start = clause_start(text, w.start).max(start);
        let left = p
            .mentions
            .iter()
            .rev()
            .filter(|m| m.end <= w.start && m.start >= clause_start && frame(m.start))
            .find(|m| !m.oblique && !m.possessive && m.holder.is_some());
        if let Some(m) = left {
            return who(m).map(|found| (found, w.start));
        }
        let right = p
            .mentions
            .iter()
            .find(|m| m.start >= w.end && m.start < end && frame(m.start) && m.holder.is_some());
        // Inversion ("says a French official"): verb, then its subject with
        // nothing between but an article; "told France 24" names the listener.
        let listener = matches!(w.lower.as_str(), "tell" | "tells" | "told" | "telling");
        if let Some(m) = right.filter(|_| !listener) {
            let between = &text[w.end..m.start];
            if between.split_whitespace().count() <= 2 {
                return who(m).map(|found| (found, w.start));
            }
        }
    }
    None
}

/// Byte offset where the clause holding `at` starts: after the last `;` or
/// `:` before it, or the sentence start.
fn clause_start(text: &str, at: usize) -> usize {
    text[..at].rfind([';', ':']).map_or(0, |i| i + 1)
}

/// Whether the article's own voice advises in `start..end` (outside quotes).
fn has_advice(p: &Prepared, start: usize, end: usize) -> bool {
    let frame: Vec<&str> = p
        .words
        .iter()
        .filter(|w| w.start >= start && w.end <= end && !p.quotes.is_inside(w.start))
        .map(|w| w.lower.as_str())
        .collect();
    lexicon::ADVICE
        .iter()
        .any(|pat| frame.windows(pat.len()).any(|win| win == *pat))
}

/// The actor taking the first position or step in `start..end` (rule 3).
fn agent(p: &Prepared, text: &str, start: usize, end: usize) -> Option<Who> {
    let ws: Vec<&Word> = p
        .words
        .iter()
        .filter(|w| w.start >= start && w.end <= end)
        .collect();
    for (k, w) in ws.iter().enumerate() {
        let next = ws.get(k + 1).map(|n| n.lower.as_str());
        let verb = contains(lexicon::POSITION_VERBS, &w.lower)
            || lexicon::POSITION_PHRASES
                .iter()
                .any(|(a, b)| *a == w.lower && next == Some(*b));
        let noun = contains(lexicon::POSITION_NOUNS, &w.lower);
        if !verb && !noun {
            continue;
        }
        let in_quote = p.quotes.is_inside(w.start);
        let same_side = |m: &Mention| m.in_quote == in_quote;
        // "X's acceptance", "X’ offer".
        if noun {
            if let Some(m) = p
                .mentions
                .iter()
                .rev()
                .find(|m| m.end <= w.start && same_side(m))
            {
                let between = k.saturating_sub(ws.iter().filter(|v| v.end <= m.end).count());
                if m.possessive && between <= 2 && m.holder.is_some() && !m.speaker_anaphor {
                    return who(m);
                }
            }
        }
        // "the approval of X".
        if contains(lexicon::AGENT_OF_NOUNS, &w.lower) && next == Some("of") {
            let of_end = ws[k + 1].end;
            let named = p
                .mentions
                .iter()
                .find(|m| m.start >= of_end && m.start < end && same_side(m) && m.holder.is_some());
            if let Some(m) = named.filter(|m| m.start - of_end < 40) {
                return who(m);
            }
        }
        // The passive: "was accepted by X", "X-ed by Y".
        let passive_before = ws[k.saturating_sub(3)..k]
            .iter()
            .any(|v| contains(lexicon::PASSIVE_AUX, &v.lower));
        let by_at = ws[k + 1..ws.len().min(k + 9)]
            .iter()
            .position(|v| contains(lexicon::AGENT_BY, &v.lower))
            .map(|j| k + 1 + j);
        let participle = w.lower.ends_with("ed") || matches!(w.lower.as_str(), "sent" | "sought");
        if verb && participle && (passive_before || by_at.is_some_and(|j| j <= k + 3)) {
            if let Some(j) = by_at {
                let by_end = ws[j].end;
                let agent = p
                    .mentions
                    .iter()
                    .find(|m| m.start >= by_end && m.start < end && same_side(m))
                    .filter(|m| {
                        // Only determiners between "by" and the name.
                        ws.iter()
                            .filter(|v| v.start >= by_end && v.end <= m.start)
                            .all(|v| contains(lexicon::DETERMINERS, &v.lower))
                    });
                if let Some(w) = agent.and_then(who) {
                    return Some(w);
                }
            }
            // A passive without its agent names only the recipient.
            continue;
        }
        // The active subject: the nearest actor before, in the same clause.
        let from = clause_start(text, w.start).max(start);
        let subject = p
            .mentions
            .iter()
            .rev()
            .filter(|m| m.end <= w.start && m.start >= from && same_side(m))
            .find(|m| !m.oblique && !m.possessive && m.holder.is_some());
        if let Some(m) = subject {
            return who(m);
        }
    }
    None
}

/// The actor heading the sentence (rule 5): the first mention, outside
/// quotation marks, with nothing before it in its clause but determiners and
/// linking words.
fn subject(p: &Prepared, text: &str, start: usize, end: usize) -> Option<Who> {
    let m = p
        .mentions
        .iter()
        .find(|m| m.start >= start && m.start < end && !m.in_quote)?;
    if m.oblique || m.possessive || m.holder.is_none() {
        return None;
    }
    // What follows the last clause mark (found by fuzzing: cutting one byte
    // past an em dash, which is three, panicked on "—Algiers").
    let head = &text[start..m.start];
    let head = head.rsplit([',', ';', ':', '—']).next().unwrap_or(head);
    let linking = [
        "unless",
        "and",
        "but",
        "so",
        "yet",
        "then",
        "now",
        "also",
        "even",
        "still",
        "meanwhile",
        "however",
        "specifically",
        "thus",
        "mais",
        "et",
        "donc",
        "pourtant",
    ];
    let ok = words(head)
        .iter()
        .all(|w| contains(lexicon::DETERMINERS, &w.lower) || linking.contains(&w.lower.as_str()));
    ok.then(|| who(m)).flatten()
}

/// A document's sentences, prepared, with its quotation speakers and targets.
struct PreparedDoc {
    sentences: Vec<Prepared>,
    run_speakers: Vec<Option<Who>>,
    targets: DocTargets,
}

/// The armed group named in a span, its paragraph and its article (§7).
struct DocTargets {
    paragraph: Vec<Option<Target>>,
    article: Option<Target>,
    /// Whether the article names the Tuareg movements at all.
    tuareg_article: bool,
    paragraph_of: Vec<usize>,
}

impl DocTargets {
    fn new(gaz: &Gazetteer, doc: &DocIn<'_>, sentences: &[Prepared]) -> Self {
        let all_cues: Vec<Vec<(TargetCue, bool)>> = doc
            .sentences
            .iter()
            .map(|s| cues_with_context(gaz, s.text))
            .collect();
        let tuareg_article = all_cues
            .iter()
            .flatten()
            .any(|(c, _)| *c == TargetCue::Tuareg);
        let paragraph_of: Vec<usize> = sentences.iter().map(|p| p.paragraph).collect();
        let max_para = paragraph_of.iter().copied().max().unwrap_or(0);
        // Each paragraph's cues, gathered in one pass over the sentences.
        let mut by_paragraph: Vec<Vec<(TargetCue, bool)>> = vec![Vec::new(); max_para + 1];
        for (cues, &para) in all_cues.iter().zip(&paragraph_of) {
            by_paragraph[para].extend(cues.iter().copied());
        }
        let paragraph = by_paragraph
            .iter()
            .map(|cues| majority(cues, tuareg_article))
            .collect();
        let article = majority(&all_cues.concat(), tuareg_article);
        DocTargets {
            paragraph,
            article,
            tuareg_article,
            paragraph_of,
        }
    }

    /// The target for `start..end` of sentence `i`'s `text`.
    fn of(&self, gaz: &Gazetteer, text: &str, start: usize, end: usize, i: usize) -> Target {
        span_target(gaz, &text[start..end], self.tuareg_article)
            .or(self.paragraph[self.paragraph_of[i]])
            .or(self.article)
            .unwrap_or(Target::Unspecified)
    }
}

/// Target cues in `text`, each with whether a talks word comes just before it.
fn cues_with_context(gaz: &Gazetteer, text: &str) -> Vec<(TargetCue, bool)> {
    let ws = words(text);
    gaz.target_cues(text)
        .into_iter()
        .map(|f| {
            let before: Vec<&Word> = ws.iter().filter(|w| w.end <= f.start).collect();
            let talks = before
                .iter()
                .rev()
                .take(5)
                .any(|w| contains(lexicon::DIALOGUE_WORDS, &w.lower));
            (f.kind, talks)
        })
        .collect()
}

/// The group most named, talks contexts first; `None` on a tie or no cue.
fn majority(cues: &[(TargetCue, bool)], tuareg_article: bool) -> Option<Target> {
    let resolve = |c: TargetCue| match c {
        TargetCue::Jihadists => Some(Target::Jihadists),
        TargetCue::Tuareg => Some(Target::Tuareg),
        TargetCue::TuaregInContext => tuareg_article.then_some(Target::Tuareg),
    };
    for talks_only in [true, false] {
        let (mut j, mut t) = (0, 0);
        for (c, talks) in cues {
            if talks_only && !talks {
                continue;
            }
            match resolve(*c) {
                Some(Target::Jihadists) => j += 1,
                Some(Target::Tuareg) => t += 1,
                _ => {}
            }
        }
        if j != t {
            return Some(if j > t {
                Target::Jihadists
            } else {
                Target::Tuareg
            });
        }
        if j > 0 {
            return None;
        }
    }
    None
}

/// The target a span names itself (§7 rules 2, 3, 5).
fn span_target(gaz: &Gazetteer, text: &str, tuareg_article: bool) -> Option<Target> {
    let found = gaz.target_cues(text);
    let has_jihadist = found.iter().any(|f| f.kind == TargetCue::Jihadists);
    let kind = |c: TargetCue| match c {
        TargetCue::Jihadists => Some(Target::Jihadists),
        TargetCue::Tuareg => Some(Target::Tuareg),
        TargetCue::TuaregInContext => (!has_jihadist && tuareg_article).then_some(Target::Tuareg),
    };
    let typed: Vec<(&Found<TargetCue>, Target)> = found
        .iter()
        .filter_map(|f| kind(f.kind).map(|t| (f, t)))
        .collect();
    let first = typed.first()?;
    if typed.iter().all(|(_, t)| *t == first.1) {
        return Some(first.1);
    }
    // Both kinds in one list ("Tuareg, Islamic, or otherwise"): unspecified.
    for pair in typed.windows(2) {
        let ((a, ta), (b, tb)) = (&pair[0], &pair[1]);
        let between = &text[a.end..b.start];
        let linking = words(between)
            .iter()
            .all(|w| matches!(w.lower.as_str(), "and" | "or" | "nor" | "the" | "ou" | "et"));
        if ta != tb && between.len() <= 12 && linking {
            return Some(Target::Unspecified);
        }
    }
    // Otherwise the group right after a talks word, else the first named.
    let ws = words(text);
    typed
        .iter()
        .find(|(f, _)| {
            ws.iter()
                .filter(|w| w.end <= f.start)
                .rev()
                .take(5)
                .any(|w| contains(lexicon::DIALOGUE_WORDS, &w.lower))
        })
        .map(|(_, t)| *t)
        .or(Some(first.1))
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
