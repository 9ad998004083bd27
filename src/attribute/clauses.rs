//! Sentences that set two holders (or two armed groups) against each other:
//! split into clauses, each classified and attributed on its own.

use super::*;

pub(super) fn names_different_groups(clauses: &[Clause]) -> bool {
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

impl Attributor {
    /// The clauses of a sentence that sets holders against each other, or
    /// `None` when it does not.
    pub(super) fn clause_plan(
        &self,
        doc: &DocIn<'_>,
        prep: &PreparedDoc,
        i: usize,
    ) -> Option<Vec<Clause>> {
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
    pub(super) fn decide_clauses(
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
}
