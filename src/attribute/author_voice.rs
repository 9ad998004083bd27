//! Rule 2: the article's own voice: advice outside quotation marks (questions
//! are marked when the sentence is prepared, in `mentions.rs`).

use super::*;

/// Whether the article's own voice advises in `start..end` (outside quotes).
pub(super) fn has_advice(p: &Prepared, start: usize, end: usize) -> bool {
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
