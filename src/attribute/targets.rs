//! Targets: the armed group a claim is about, from the span, its paragraph
//! or its article (§7).

use super::*;

/// The armed group named in a span, its paragraph and its article (§7).
pub(super) struct DocTargets {
    paragraph: Vec<Option<Target>>,
    article: Option<Target>,
    /// Whether the article names the Tuareg movements at all.
    tuareg_article: bool,
    paragraph_of: Vec<usize>,
}

impl DocTargets {
    pub(super) fn new(gaz: &Gazetteer, doc: &DocIn<'_>, sentences: &[Prepared]) -> Self {
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
    pub(super) fn of(
        &self,
        gaz: &Gazetteer,
        text: &str,
        start: usize,
        end: usize,
        i: usize,
    ) -> Target {
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
