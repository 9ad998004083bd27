//! Rule 1: direct quotations. Where quotation marks put each sentence
//! (a quotation may open in one sentence and close sentences later), and
//! how much of a span they cover.

use super::*;

/// Quotation layout of `text`, given whether a quotation is open before it.
pub(super) fn quote_layout(text: &str, open_before: bool) -> QuoteLayout {
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

/// Share of `start..end` inside quotation marks.
pub(super) fn quoted_share(p: &Prepared, start: usize, end: usize) -> f64 {
    let inside: usize = p
        .quotes
        .inside
        .iter()
        .map(|&(s, e)| e.min(end).saturating_sub(s.max(start)))
        .sum();
    inside as f64 / (end - start).max(1) as f64
}
