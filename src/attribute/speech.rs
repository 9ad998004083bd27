//! Rule 4: the speaker of reported speech ("X said", "according to X").

use super::*;

/// The speaker named by a verb of saying outside quotation marks in
/// `start..end`: the nearest actor before the verb in its clause, else the
/// first after it ("says a French official"), else "according to X".
pub(super) fn speech_speaker(
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
pub(super) fn clause_start(text: &str, at: usize) -> usize {
    text[..at].rfind([';', ':']).map_or(0, |i| i + 1)
}
