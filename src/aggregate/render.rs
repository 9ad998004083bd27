//! The actor comparison for people: Markdown, and one self-contained HTML
//! page with two inline SVG charts (net stance per actor with its interval;
//! net stance per group as a timeline) and the evidence sentences.

use super::{ActorRow, Comparison, Evidence, GroupBy, StoryCopy};
use crate::report::table::escape;
use crate::stance::{Holder, Stance};
use std::collections::BTreeMap;
use std::fmt::Write;

fn fmt_net(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:+.2}"))
}

fn fmt_ci(ci: Option<[f64; 2]>) -> String {
    ci.map_or("–".into(), |[lo, hi]| format!("[{lo:+.2}, {hi:+.2}]"))
}

/// How folding went, in one sentence; empty when no story has copies.
fn stories_line(c: &Comparison) -> String {
    if c.stories.is_empty() {
        return String::new();
    }
    let copies: usize = c.stories.iter().map(|g| g.documents.len() - 1).sum();
    if c.folded > 0 {
        format!(
            "{} told by more than one article: {} near-copies folded, each story counted once (its first article's claims; the evidence lists every copy).",
            stories_are(c.stories.len()),
            c.folded
        )
    } else {
        format!(
            "{} told by more than one article ({copies} near-copies), every copy counted (--keep-duplicates).",
            stories_are(c.stories.len())
        )
    }
}

fn stories_are(n: usize) -> String {
    if n == 1 {
        "1 story is".into()
    } else {
        format!("{n} stories are")
    }
}

/// "doc (outlet)" for each copy.
fn copies_text(copies: &[StoryCopy]) -> String {
    copies
        .iter()
        .map(|c| match &c.outlet {
            Some(o) => format!("{} ({o})", c.doc),
            None => c.doc.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A holder's speakers, most claims first (then by name), and the name
/// shown for evidence whose speaker attribution does not know.
fn speakers_by_weight(r: &ActorRow) -> Vec<(&str, &super::SpeakerRow)> {
    let mut v: Vec<(&str, &super::SpeakerRow)> =
        r.speakers.iter().map(|(n, s)| (n.as_str(), s)).collect();
    v.sort_by_key(|(n, s)| (std::cmp::Reverse(s.pro + s.anti), *n));
    v
}

const UNNAMED: &str = "speaker not named";

/// Evidence grouped under its speakers, in [`speakers_by_weight`] order,
/// those with no speaker last.
fn evidence_by_speaker(r: &ActorRow) -> Vec<(&str, Vec<&Evidence>)> {
    let mut out: Vec<(&str, Vec<&Evidence>)> = speakers_by_weight(r)
        .into_iter()
        .map(|(name, _)| {
            (
                name,
                r.evidence
                    .iter()
                    .filter(|e| e.speaker.as_deref() == Some(name))
                    .collect(),
            )
        })
        .collect();
    let unnamed: Vec<&Evidence> = r
        .evidence
        .iter()
        .filter(|e| {
            e.speaker
                .as_ref()
                .is_none_or(|s| !r.speakers.contains_key(s))
        })
        .collect();
    if !unnamed.is_empty() {
        out.push((UNNAMED, unnamed));
    }
    out
}

/// Actors with at least one sentence in a table.
fn present(rows: &BTreeMap<Holder, ActorRow>) -> Vec<Holder> {
    rows.iter()
        .filter(|(_, r)| r.pro + r.anti + r.neutral > 0)
        .map(|(h, _)| *h)
        .collect()
}

fn source_line(c: &Comparison) -> String {
    let what = match (&c.classifier, c.source) {
        (Some(name), _) => {
            format!("stances from the `{name}` classifier, holders from attribution")
        }
        (None, super::Source::Predicted) => "predicted stances and claims".into(),
        (None, super::Source::Gold) => "the gold set's claims".into(),
    };
    format!(
        "{} documents; {what}. Net = (pro − anti) / (pro + anti); 95% percentile bootstrap over {} ({} resamples, seed {}). Boilerplate is left out; neutral counts the actor's sentences with no stance.",
        c.documents.len(),
        c.ci_unit,
        c.bootstrap.resamples,
        c.bootstrap.seed
    )
}

/// The comparison as Markdown.
pub fn to_markdown(c: &Comparison) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Stance toward dialogue, by actor\n");
    let _ = writeln!(md, "{}\n", source_line(c));
    let stories = stories_line(c);
    if !stories.is_empty() {
        let _ = writeln!(md, "{stories}\n");
    }
    let gold = c.gold.as_ref();
    let _ = write!(md, "| actor | pro | anti | neutral | net | 95% CI |");
    if gold.is_some() {
        let _ = write!(md, " gold net | gold 95% CI | predicted − gold |");
    }
    let _ = writeln!(md);
    let _ = writeln!(
        md,
        "|---|---:|---:|---:|---:|---|{}",
        if gold.is_some() { "---:|---|---:|" } else { "" }
    );
    for (h, r) in &c.actors {
        let _ = write!(
            md,
            "| {h} | {} | {} | {} | {} | {} |",
            r.pro,
            r.anti,
            r.neutral,
            fmt_net(r.net),
            fmt_ci(r.ci)
        );
        if let Some(g) = gold {
            let gr = &g.actors[h];
            let err = c.error.as_ref().and_then(|e| e[h]);
            let _ = write!(
                md,
                " {} | {} | {} |",
                fmt_net(gr.net),
                fmt_ci(gr.ci),
                fmt_net(err)
            );
        }
        let _ = writeln!(md);
    }
    if !c.groups.is_empty() {
        let by = match c.by {
            Some(GroupBy::Year) => "year",
            _ => "document",
        };
        let _ = writeln!(md, "\n## Net stance by {by}\n");
        let keys: Vec<&str> = c.groups.iter().map(|g| g.key.as_str()).collect();
        let _ = writeln!(md, "| actor | {} |", keys.join(" | "));
        let _ = writeln!(md, "|---|{}", "---:|".repeat(keys.len()));
        for h in present(&c.actors) {
            let cells: Vec<String> = c
                .groups
                .iter()
                .map(|g| {
                    let r = &g.actors[&h];
                    let mut cell = format!("{} ({}/{})", fmt_net(r.net), r.pro, r.anti);
                    if let Some(gold) = &g.gold {
                        let _ = write!(cell, " gold {}", fmt_net(gold[&h].net));
                    }
                    cell
                })
                .collect();
            let _ = writeln!(md, "| {h} | {} |", cells.join(" | "));
        }
        let _ = writeln!(md, "\nCells: net (pro/anti).");
    }
    if c.actors.values().any(|r| !r.speakers.is_empty()) {
        let _ = writeln!(md, "\n## Speakers\n");
        let _ = writeln!(md, "| actor | speaker | pro | anti | net |");
        let _ = writeln!(md, "|---|---|---:|---:|---:|");
        for (h, r) in &c.actors {
            for (name, s) in speakers_by_weight(r) {
                let _ = writeln!(
                    md,
                    "| {h} | {name} | {} | {} | {} |",
                    s.pro,
                    s.anti,
                    fmt_net(s.net)
                );
            }
        }
    }
    if !c.stories.is_empty() {
        let _ = writeln!(md, "\n## Stories told by several articles\n");
        for g in &c.stories {
            let _ = writeln!(
                md,
                "- `{}`: {} articles, counted as `{}`: {}",
                g.story,
                g.documents.len(),
                g.counted,
                copies_text(&g.documents)
            );
        }
    }
    let _ = writeln!(md, "\n## Evidence\n");
    for (h, r) in &c.actors {
        if r.evidence.is_empty() {
            continue;
        }
        let _ = writeln!(md, "**{h}** ({} pro, {} anti)\n", r.pro, r.anti);
        for (speaker, evidence) in evidence_by_speaker(r) {
            if !r.speakers.is_empty() {
                let _ = writeln!(md, "*{speaker}*\n");
            }
            for e in evidence {
                let score = e.score.map_or(String::new(), |s| format!(" p={s:.2}"));
                let copies = if e.copies.is_empty() {
                    String::new()
                } else {
                    format!(" (also in {})", copies_text(&e.copies))
                };
                let _ = writeln!(
                    md,
                    "- {} → {} · `{}` [{}..{}]{score}{copies}: {}",
                    e.stance,
                    e.target,
                    e.doc,
                    e.start,
                    e.end,
                    crate::report::output::shorten(&e.text, 160)
                );
            }
            let _ = writeln!(md);
        }
    }
    md
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}\
th:first-child,td:first-child{text-align:left}th{background:#f3f3f3}td{white-space:nowrap}\
.lab{font-size:90%;color:#444}.ev{margin:4px 0 4px 1em}.pro{color:#1b7f3b}.anti{color:#b3261e}\
details{margin:6px 0}summary{cursor:pointer}.spk{margin:8px 0 2px 0.5em}";

/// Horizontal position of a net value in a chart `width` wide after `left`.
fn x_of(v: f64, left: f64, width: f64) -> f64 {
    left + (v + 1.0) / 2.0 * width
}

/// Net stance per actor: a dot for the estimate, a bar for its interval,
/// and a hollow diamond for the gold net when it is there.
fn actors_svg(c: &Comparison) -> String {
    let actors = present(&c.actors);
    let (left, width, row, top) = (150.0, 420.0, 30.0, 34.0);
    let height = top + row * actors.len().max(1) as f64 + 40.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" role=\"img\" aria-label=\"net stance per actor\">",
        left + width + 40.0
    );
    for tick in [-1.0, -0.5, 0.0, 0.5, 1.0] {
        let x = x_of(tick, left, width);
        let stroke = if tick == 0.0 { "#888" } else { "#ddd" };
        let _ = write!(
            svg,
            "<line x1=\"{x}\" x2=\"{x}\" y1=\"{}\" y2=\"{}\" stroke=\"{stroke}\"/><text x=\"{x}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{tick:+.1}</text>",
            top - 6.0,
            height - 30.0,
            height - 16.0
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{}\" y=\"16\" font-size=\"12\" text-anchor=\"middle\">← anti-dialogue · net stance · pro-dialogue →</text>",
        left + width / 2.0
    );
    for (i, h) in actors.iter().enumerate() {
        let y = top + row * i as f64 + row / 2.0;
        let r = &c.actors[h];
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\">{} ({}/{})</text>",
            left - 10.0,
            y + 4.0,
            h,
            r.pro,
            r.anti
        );
        if let Some([lo, hi]) = r.ci {
            let _ = write!(
                svg,
                "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#4292c6\" stroke-width=\"3\"/>",
                x_of(lo, left, width),
                x_of(hi, left, width)
            );
        }
        if let Some(net) = r.net {
            let _ = write!(
                svg,
                "<circle cx=\"{:.1}\" cy=\"{y}\" r=\"5\" fill=\"#08519c\"><title>{h}: net {net:+.3}</title></circle>",
                x_of(net, left, width)
            );
        }
        if let Some(gnet) = c.gold.as_ref().and_then(|g| g.actors[h].net) {
            let x = x_of(gnet, left, width);
            let _ = write!(
                svg,
                "<path d=\"M{x:.1} {:.1} L{:.1} {y} L{x:.1} {:.1} L{:.1} {y} Z\" fill=\"none\" stroke=\"#d94801\" stroke-width=\"2\"><title>{h}: gold net {gnet:+.3}</title></path>",
                y - 6.0,
                x + 6.0,
                y + 6.0,
                x - 6.0
            );
        }
    }
    if c.gold.is_some() {
        let y = height - 4.0;
        let _ = write!(
            svg,
            "<circle cx=\"{left}\" cy=\"{}\" r=\"4\" fill=\"#08519c\"/><text x=\"{}\" y=\"{y}\" font-size=\"11\">predicted (bar: 95% CI)</text><path d=\"M{} {} l5 5 l-5 5 l-5 -5 Z\" fill=\"none\" stroke=\"#d94801\" stroke-width=\"2\"/><text x=\"{}\" y=\"{y}\" font-size=\"11\">gold</text>",
            y - 4.0,
            left + 8.0,
            left + 200.0,
            y - 9.0,
            left + 210.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Net stance per group (a timeline when grouped by year): one line per
/// actor, with interval whiskers.
fn groups_svg(c: &Comparison) -> String {
    const COLOURS: [&str; 8] = [
        "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
    ];
    // The actors named in at least two groups, most claims first, at most
    // five: more lines than that cannot be read.
    let mut actors: Vec<Holder> = present(&c.actors)
        .into_iter()
        .filter(|h| {
            c.groups
                .iter()
                .filter(|g| g.actors[h].net.is_some())
                .count()
                >= 2
        })
        .collect();
    actors.sort_by_key(|h| std::cmp::Reverse(c.actors[h].pro + c.actors[h].anti));
    actors.truncate(5);
    actors.sort();
    let (left, top, plot_h) = (50.0, 20.0, 240.0);
    let step = 110.0;
    let plot_w = step * c.groups.len().max(1) as f64;
    let width = left + plot_w + 170.0;
    let height = top + plot_h + 60.0;
    let y_of = |v: f64| top + (1.0 - v) / 2.0 * plot_h;
    let x_of = |i: usize| left + step * (i as f64 + 0.5);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"net stance per group\">"
    );
    for tick in [-1.0, -0.5, 0.0, 0.5, 1.0] {
        let y = y_of(tick);
        let stroke = if tick == 0.0 { "#888" } else { "#e3e3e3" };
        let _ = write!(
            svg,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"{stroke}\"/><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{tick:+.1}</text>",
            left + plot_w,
            left - 6.0,
            y + 4.0
        );
    }
    for (i, g) in c.groups.iter().enumerate() {
        let label = if g.key.len() > 14 {
            &g.key[..14]
        } else {
            g.key.as_str()
        };
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
            x_of(i),
            top + plot_h + 18.0,
            escape(label)
        );
    }
    for (k, h) in actors.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        // Small horizontal offsets keep overlapping whiskers apart.
        let dx = (k as f64 - (actors.len() as f64 - 1.0) / 2.0) * 5.0;
        // Segments join consecutive groups only: a gap is not interpolated.
        let mut points: Vec<Option<(f64, f64)>> = Vec::new();
        for (i, g) in c.groups.iter().enumerate() {
            let r = &g.actors[h];
            let x = x_of(i) + dx;
            if let Some([lo, hi]) = r.ci {
                let _ = write!(
                    svg,
                    "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"{colour}\" stroke-opacity=\"0.45\" stroke-width=\"2\"/>",
                    y_of(hi),
                    y_of(lo)
                );
            }
            points.push(r.net.map(|net| (x, y_of(net))));
            if let Some(net) = r.net {
                let y = y_of(net);
                let _ = write!(
                    svg,
                    "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"{colour}\"><title>{h} {}: {net:+.3} ({}/{})</title></circle>",
                    escape(&g.key),
                    r.pro,
                    r.anti
                );
            }
        }
        for pair in points.windows(2) {
            if let (Some((x1, y1)), Some((x2, y2))) = (pair[0], pair[1]) {
                let _ = write!(
                    svg,
                    "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"{colour}\" stroke-width=\"1.5\"/>"
                );
            }
        }
        let ly = top + 14.0 * k as f64 + 6.0;
        let lx = left + plot_w + 20.0;
        let _ = write!(
            svg,
            "<rect x=\"{lx}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{colour}\"/><text x=\"{}\" y=\"{ly}\" font-size=\"11\" dominant-baseline=\"middle\">{h}</text>",
            ly - 5.0,
            lx + 14.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The comparison as one HTML page.
pub fn to_html(c: &Comparison) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Stance by actor</title><style>{STYLE}</style></head><body><h1>Stance toward dialogue, by actor</h1><p class=\"lab\">{}</p>",
        escape(&source_line(c))
    );
    let stories = stories_line(c);
    if !stories.is_empty() {
        let _ = write!(h, "<p class=\"lab\">{}</p>", escape(&stories));
    }
    h.push_str("<h2>Net stance per actor</h2>");
    h.push_str(&actors_svg(c));
    h.push_str("<table><tr><th>actor</th><th>pro</th><th>anti</th><th>neutral</th><th>net</th><th>95% CI</th>");
    if c.gold.is_some() {
        h.push_str("<th>gold net</th><th>gold 95% CI</th><th>predicted − gold</th>");
    }
    h.push_str("</tr>");
    for (holder, r) in &c.actors {
        let _ = write!(
            h,
            "<tr><td>{holder}</td><td>{}</td><td>{}</td><td>{}</td><td><b>{}</b></td><td>{}</td>",
            r.pro,
            r.anti,
            r.neutral,
            fmt_net(r.net),
            fmt_ci(r.ci)
        );
        if let Some(g) = &c.gold {
            let gr = &g.actors[holder];
            let err = c.error.as_ref().and_then(|e| e[holder]);
            let _ = write!(
                h,
                "<td>{}</td><td>{}</td><td>{}</td>",
                fmt_net(gr.net),
                fmt_ci(gr.ci),
                fmt_net(err)
            );
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
    if !c.groups.is_empty() {
        let by = match c.by {
            Some(GroupBy::Year) => "year",
            _ => "document",
        };
        let _ = write!(h, "<h2>Net stance by {by}</h2>");
        h.push_str(&groups_svg(c));
        h.push_str("<p class=\"lab\">Dots: net stance; whiskers: 95% bootstrap interval (over documents, or over sentences for a single document); lines join consecutive groups. Shown: the (at most five) actors with the most claims that take a side in two groups or more; the table below has every actor.</p>");
        h.push_str("<table><tr><th>actor</th>");
        for g in &c.groups {
            let _ = write!(h, "<th>{}</th>", escape(&g.key));
        }
        h.push_str("</tr>");
        for holder in present(&c.actors) {
            let _ = write!(h, "<tr><td>{holder}</td>");
            for g in &c.groups {
                let r = &g.actors[&holder];
                let gold = g.gold.as_ref().map_or(String::new(), |gold| {
                    format!(
                        " <span class=\"lab\">gold {}</span>",
                        fmt_net(gold[&holder].net)
                    )
                });
                let _ = write!(
                    h,
                    "<td>{} ({}/{}){gold}</td>",
                    fmt_net(r.net),
                    r.pro,
                    r.anti
                );
            }
            h.push_str("</tr>");
        }
        h.push_str("</table>");
    }
    if c.actors.values().any(|r| !r.speakers.is_empty()) {
        h.push_str("<h2>Speakers</h2><p class=\"lab\">The names behind each actor's claims, where attribution knows them (a person named or titled in the article or the gazetteer, or a body as written); claims whose speaker is not named count under the actor only.</p>");
        h.push_str(
            "<table><tr><th>actor</th><th style=\"text-align:left\">speaker</th><th>pro</th><th>anti</th><th>net</th></tr>",
        );
        for (holder, r) in &c.actors {
            for (name, s) in speakers_by_weight(r) {
                let _ = write!(
                    h,
                    "<tr><td>{holder}</td><td style=\"text-align:left\">{}</td><td>{}</td><td>{}</td><td><b>{}</b></td></tr>",
                    escape(name),
                    s.pro,
                    s.anti,
                    fmt_net(s.net)
                );
            }
        }
        h.push_str("</table>");
    }
    if !c.stories.is_empty() {
        h.push_str("<h2>Stories told by several articles</h2><table><tr><th>story</th><th>articles</th><th>counted</th><th style=\"text-align:left\">copies (outlet)</th></tr>");
        for g in &c.stories {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td style=\"text-align:left;white-space:normal\">{}</td></tr>",
                escape(&g.story),
                g.documents.len(),
                escape(&g.counted),
                escape(&copies_text(&g.documents[1..]))
            );
        }
        h.push_str("</table>");
    }
    h.push_str("<h2>Evidence</h2>");
    for (holder, r) in &c.actors {
        if r.evidence.is_empty() {
            continue;
        }
        let _ = write!(
            h,
            "<details><summary><b>{holder}</b>: {} pro, {} anti</summary>",
            r.pro, r.anti
        );
        for (speaker, evidence) in evidence_by_speaker(r) {
            if !r.speakers.is_empty() {
                let figures = r.speakers.get(speaker).map_or(String::new(), |s| {
                    format!(": {} pro, {} anti, net {}", s.pro, s.anti, fmt_net(s.net))
                });
                let _ = write!(
                    h,
                    "<div class=\"spk\"><b>{}</b>{figures}</div>",
                    escape(speaker)
                );
            }
            for e in evidence {
                let class = if e.stance == Stance::Pro {
                    "pro"
                } else {
                    "anti"
                };
                let score = e.score.map_or(String::new(), |s| format!(" p={s:.2}"));
                let copies = if e.copies.is_empty() {
                    String::new()
                } else {
                    format!(
                        "<br><span class=\"lab\">also in {}</span>",
                        escape(&copies_text(&e.copies))
                    )
                };
                let _ = write!(
                    h,
                    "<div class=\"ev\"><span class=\"{class}\">{}</span> → {} <span class=\"lab\">{} [{}..{}]{score}</span><br>{}{copies}</div>",
                    e.stance,
                    e.target,
                    escape(&e.doc),
                    e.start,
                    e.end,
                    escape(&e.text)
                );
            }
        }
        h.push_str("</details>");
    }
    h.push_str("</body></html>\n");
    h
}
