//! Rule 3: the actor taking a position or a step (subject of "rejected",
//! agent of "was accepted by", owner of "JNIM's acceptance").

use super::*;

/// The actor taking the first position or step in `start..end` (rule 3).
pub(super) fn agent(p: &Prepared, text: &str, start: usize, end: usize) -> Option<Who> {
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
