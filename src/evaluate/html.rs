//! The evaluation report as one self-contained HTML page for people: the
//! side-by-side table, a confusion-matrix heat map and per-class bars (inline
//! SVG) for each classifier, and every error shown in its article context.

use super::report::{ClassifierReport, EvalReport};
use crate::gold::Texts;
use crate::report::table::escape;
use crate::stance::Stance;
use std::fmt::Write;

/// Characters of article text shown on each side of an error.
const CONTEXT_CHARS: usize = 160;

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}\
th:nth-child(-n+2),td:nth-child(-n+2){text-align:left}th{background:#f3f3f3}td{white-space:nowrap}\
.charts{display:flex;gap:2em;flex-wrap:wrap;align-items:flex-start}\
.err{border-left:4px solid #c33;padding:4px 10px;margin:8px 0;background:#fafafa}\
.err mark{background:#ffe08a}.ctx{color:#777}.lab{font-size:90%;color:#444}\
.pro{color:#1b7f3b}.anti{color:#b3261e}.neutral{color:#555}";

fn label_class(l: Stance) -> &'static str {
    match l {
        Stance::Pro => "pro",
        Stance::Anti => "anti",
        Stance::Neutral => "neutral",
    }
}

/// A 3×3 heat map: cell shade is the share of the gold row.
fn confusion_svg(c: &ClassifierReport) -> String {
    let (cell, left, top) = (70, 110, 40);
    let size = left + 3 * cell + 10;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{size}\" height=\"{}\" role=\"img\" aria-label=\"confusion matrix\">",
        top + 3 * cell + 30
    );
    let _ = write!(
        svg,
        "<text x=\"{}\" y=\"14\" font-size=\"12\" text-anchor=\"middle\">predicted</text>",
        left + 3 * cell / 2
    );
    for (j, l) in Stance::ALL.iter().enumerate() {
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
            left + j * cell + cell / 2,
            top - 6,
            short(*l)
        );
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">gold {}</text>",
            left - 6,
            top + j * cell + cell / 2 + 4,
            short(*l)
        );
    }
    for (i, row) in c.confusion.counts.iter().enumerate() {
        let total: usize = row.iter().sum();
        for (j, &n) in row.iter().enumerate() {
            let share = if total == 0 {
                0.0
            } else {
                n as f64 / total as f64
            };
            // Blue for the diagonal (agreement), red off it (errors).
            let (r, g, b) = if i == j {
                (33, 102, 172)
            } else {
                (178, 24, 43)
            };
            let _ = write!(
                svg,
                "<rect x=\"{}\" y=\"{}\" width=\"{cell}\" height=\"{cell}\" fill=\"rgb({r},{g},{b})\" fill-opacity=\"{:.3}\" stroke=\"#999\"/>",
                left + j * cell,
                top + i * cell,
                0.08 + 0.85 * share
            );
            let ink = if share > 0.55 { "#fff" } else { "#222" };
            let _ = write!(
                svg,
                "<text x=\"{}\" y=\"{}\" font-size=\"14\" text-anchor=\"middle\" fill=\"{ink}\">{n}</text>",
                left + j * cell + cell / 2,
                top + i * cell + cell / 2 + 5
            );
        }
    }
    let _ = write!(
        svg,
        "<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#666\">shade: share of the gold row</text>",
        left + 3 * cell / 2,
        top + 3 * cell + 18
    );
    svg.push_str("</svg>");
    svg
}

fn short(l: Stance) -> &'static str {
    match l {
        Stance::Pro => "pro",
        Stance::Anti => "anti",
        Stance::Neutral => "neutral",
    }
}

/// Grouped bars: precision, recall and F1 for each label.
fn class_bars_svg(c: &ClassifierReport) -> String {
    let (height, top, left, group, bar) = (160.0, 20.0, 36.0, 110.0, 26.0);
    let width = left + 3.0 * group + 20.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{}\" role=\"img\" aria-label=\"per-class scores\">",
        top + height + 50.0
    );
    for tick in [0.0, 0.5, 1.0] {
        let y = top + height * (1.0 - tick);
        let _ = write!(
            svg,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{tick:.1}</text>",
            width - 10.0,
            left - 4.0,
            y + 3.0
        );
    }
    let colours = [
        ("precision", "#9ecae1"),
        ("recall", "#4292c6"),
        ("F1", "#08519c"),
    ];
    for (g, l) in Stance::ALL.iter().enumerate() {
        let s = c.per_class[l];
        let x0 = left + 10.0 + g as f64 * group;
        for (k, value) in [s.precision, s.recall, s.f1].into_iter().enumerate() {
            let h = height * value;
            let _ = write!(
                svg,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bar}\" height=\"{h:.1}\" fill=\"{}\"><title>{} {}: {value:.3}</title></rect>",
                x0 + k as f64 * bar,
                top + height - h,
                colours[k].1,
                l,
                colours[k].0
            );
        }
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{} (n={})</text>",
            x0 + 1.5 * bar,
            top + height + 16.0,
            short(*l),
            s.support
        );
    }
    for (k, (name, colour)) in colours.iter().enumerate() {
        let x = left + 10.0 + k as f64 * 90.0;
        let y = top + height + 34.0;
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{colour}\"/><text x=\"{}\" y=\"{y}\" font-size=\"11\">{name}</text>",
            y - 9.0,
            x + 14.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The error's sentence highlighted inside the article text around it.
fn in_context(text: &str, start: usize, end: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    let from = start.saturating_sub(CONTEXT_CHARS);
    let to = (end + CONTEXT_CHARS).min(chars.len());
    let piece = |a: usize, b: usize| {
        escape(
            &chars[a.min(chars.len())..b.min(chars.len())]
                .iter()
                .collect::<String>(),
        )
    };
    format!(
        "<span class=\"ctx\">{}{}</span><mark>{}</mark><span class=\"ctx\">{}{}</span>",
        if from > 0 { "…" } else { "" },
        piece(from, start),
        piece(start, end),
        piece(end, to),
        if to < chars.len() { "…" } else { "" }
    )
}

/// Renders the whole report.
pub fn render(report: &EvalReport, texts: &Texts) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Stance evaluation</title><style>{STYLE}</style></head><body>"
    );
    let counts: Vec<String> = report
        .gold_counts
        .iter()
        .map(|(l, n)| format!("{l} {n}"))
        .collect();
    let _ = write!(
        h,
        "<h1>Stance evaluation</h1><p>Gold: <code>{}</code>: {} sentences in {} documents ({}).</p>",
        escape(&report.gold),
        report.gold_sentences,
        report.gold_docs,
        counts.join(", ")
    );
    for t in &report.translations {
        let _ = write!(
            h,
            "<p>Translated gold ({}): <code>{}</code>: {} sentences in {} documents.</p>",
            escape(&t.language),
            escape(&t.gold),
            t.sentences,
            t.docs
        );
    }
    if let Some(table) = report.languages_table() {
        h.push_str("<h2>Macro-F1 by language</h2>");
        h.push_str(&table.to_html());
        h.push_str("<p class=\"lab\">A trained classifier's fold leaves a story out in every language.</p>");
    }
    h.push_str("<h2>Side by side</h2>");
    h.push_str(&report.summary_table().to_html_linking(Some(0)));
    h.push_str("<p class=\"lab\">Macro-F1 intervals: 95% percentile bootstrap over sentences (1000 resamples, fixed seed). Gold sentences no prediction overlaps count as neutral. Boundary F1 compares sentence ends with the gold spans. ECE: expected calibration error of the predicted label's probability (10 bins).</p>");
    for c in &report.classifiers {
        let _ = write!(
            h,
            "<h2 id=\"{0}\">{0} <span class=\"lab\">({1})</span></h2><div class=\"charts\">{2}{3}</div>",
            escape(&c.label()),
            c.setting.describe(),
            confusion_svg(c),
            class_bars_svg(c)
        );
        h.push_str(
            "<table><tr><th>document</th><th>sentences</th><th>accuracy</th><th>macro-F1</th></tr>",
        );
        for d in &c.per_doc {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td></tr>",
                escape(&d.doc),
                d.sentences,
                d.accuracy,
                d.macro_f1
            );
        }
        let _ = write!(
            h,
            "</table><details><summary>{} errors</summary>",
            c.errors.len()
        );
        for e in &c.errors {
            let context = texts
                .get(&e.doc)
                .map(|t| in_context(t, e.start, e.end))
                .unwrap_or_else(|| format!("<mark>{}</mark>", escape(&e.text)));
            let _ = write!(
                h,
                "<div class=\"err\"><div class=\"lab\">{} [{}..{}] gold <b class=\"{}\">{}</b>, predicted <b class=\"{}\">{}</b></div>{}</div>",
                escape(&e.doc),
                e.start,
                e.end,
                label_class(e.gold),
                e.gold,
                label_class(e.predicted),
                e.predicted,
                context
            );
        }
        h.push_str("</details>");
    }
    if let Some(a) = &report.attribution {
        attribution_html(&mut h, a);
    }
    h.push_str("</body></html>\n");
    h
}

/// Holder and target figures, and the actor comparison against gold.
fn attribution_html(h: &mut String, a: &super::attribution::AttributionSection) {
    let s = &a.scores;
    let _ = write!(
        h,
        "<h2>Attribution (given the gold stances)</h2><p>{} gold sentences with claims; clauses judged by <code>{}</code>.</p>{}{}\
         <h3>Net stance per actor against gold</h3><p>(pro − anti) / (pro + anti); in brackets the difference from gold, ✗ where the sign differs.</p>{}",
        s.sentences,
        escape(&s.clause_classifier),
        a.accuracy_table().to_html(),
        a.per_holder_table().to_html(),
        a.comparison_table().to_html()
    );
    let _ = write!(
        h,
        "<details><summary>{} attribution errors</summary>",
        s.errors.len()
    );
    for e in &s.errors {
        let _ = write!(
            h,
            "<div class=\"err\"><div class=\"lab\">{} [{}..{}] gold {}, predicted {}</div>{}</div>",
            escape(&e.doc),
            e.start,
            e.end,
            escape(&e.gold_claims()),
            e.predicted_holder(),
            escape(&e.text)
        );
    }
    h.push_str("</details>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_highlights_the_span_in_context() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let html = in_context("One <b>. Two é. Three.", 9, 15);
        assert!(html.contains("<mark>Two é.</mark>"), "{html}");
        assert!(html.contains("One &lt;b&gt;."), "{html}");
    }
}
