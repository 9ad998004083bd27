//! Boilerplate: page furniture that scrapers leave in article text.
//!
//! Cookie banners, share buttons, photo credits, "(MORE: ...)" links,
//! newsletter and app promotions are flagged, never deleted: the sentences
//! keep their spans (so offsets still point into the raw text) and are left
//! out of stance aggregates. Detection works on whole lines, because that is
//! how page furniture arrives: one banner line may hold several sentences
//! ("This website uses cookies ... Accept Read More").
//!
//! HTML is not parsed: an article pasted as HTML is scored as text, tags and
//! all, with spans into the raw markup. Only lines that hold nothing but tags
//! (`<div class="story">`, `</p>`) are flagged, as [`Kind::Markup`].

use regex::{Regex, RegexSet};
use serde::Serialize;
use std::ops::Range;
use std::sync::OnceLock;

/// What kind of page furniture a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Cookies,
    ShareButton,
    PhotoCredit,
    RelatedLink,
    Newsletter,
    AppPromotion,
    AgencyCredit,
    EditorialNote,
    /// A line of HTML tags and nothing else.
    Markup,
}

impl Kind {
    /// The kebab-case name used in JSON and CSV output.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Cookies => "cookies",
            Kind::ShareButton => "share-button",
            Kind::PhotoCredit => "photo-credit",
            Kind::RelatedLink => "related-link",
            Kind::Newsletter => "newsletter",
            Kind::AppPromotion => "app-promotion",
            Kind::AgencyCredit => "agency-credit",
            Kind::EditorialNote => "editorial-note",
            Kind::Markup => "markup",
        }
    }
}

/// One rule per kind; a line is boilerplate when one pattern matches the
/// whole trimmed line (or, for banners, a telling phrase anywhere in it).
const RULES: &[(Kind, &str)] = &[
    (
        Kind::Cookies,
        r"(?i)\b(uses|use of) cookies\b|\bcookie (policy|settings|preferences)\b|\baccept (all )?cookies\b",
    ),
    (
        Kind::ShareButton,
        r"(?i)^(?:[•·▪*-]\s*)?(share|share this( article| story)?|read later|save|print|email|tweet|comment|comments|facebook|twitter|whatsapp|linkedin|copy link)$",
    ),
    // "JOE PENNEY / Reuters", "Image: Wikicommons (Photo by ...)", "Photo: AFP".
    (
        Kind::PhotoCredit,
        r"^[A-Z][A-Z.' -]+ / [A-Z][A-Za-z .]+$|(?i)^(image|photo|picture|credit|caption)s?\s*:|\(photo by [^)]*\)$",
    ),
    (
        Kind::RelatedLink,
        r"(?i)^\((more|read more|see also|related|photos?|video|watch|listen)\s*:.*\)$|^(read more|related articles?|see also)\s*:?$",
    ),
    (
        Kind::Newsletter,
        r"(?i)\bnewsletter\b|^(i )?subscribe\b|\bsign up\b|^the summary of the week$|invites you to come back to the news",
    ),
    (
        Kind::AppPromotion,
        r"(?i)\bdownload (the|our) .*\bapp(lication)?\b|news everywhere with you|google-play|app store|\bbadge(_[a-z]+)?$",
    ),
    (
        Kind::AgencyCredit,
        r"^(?:With|Source|Sources)\s*:?\s*(AFP|Reuters|AP|ANP|Xinhua)(\s*(,|and|&)\s*(AFP|Reuters|AP|ANP|Xinhua))*\.?$",
    ),
    (
        Kind::EditorialNote,
        r"(?i)^this (article|story) (was|has been) translated from\b",
    ),
    // Tags alone, or a one-line script or style element (code, not prose).
    (
        Kind::Markup,
        r"^(?:<[^<>]*>\s*)+$|(?i)^<(?:script|style)\b[^<>]*>.*</(?:script|style)>$",
    ),
];

fn rules() -> &'static (RegexSet, Vec<Regex>) {
    static RULES_SET: OnceLock<(RegexSet, Vec<Regex>)> = OnceLock::new();
    RULES_SET.get_or_init(|| {
        let patterns: Vec<&str> = RULES.iter().map(|(_, p)| *p).collect();
        let set = RegexSet::new(&patterns).expect("boilerplate patterns compile");
        let each = patterns
            .iter()
            .map(|p| Regex::new(p).expect("boilerplate pattern compiles"))
            .collect();
        (set, each)
    })
}

/// Whether `text` looks like an HTML page or fragment rather than text: a
/// doctype or `<html>` tag, or at least three common HTML tags. Callers warn,
/// since tags end up inside the sentences that are scored.
pub fn looks_like_html(text: &str) -> bool {
    static TAGS: OnceLock<Regex> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        Regex::new(
            r"(?i)<(?:!doctype\s+html|/?(?:html|head|body|div|p|span|a|br|script|style|article|section|h[1-6]|ul|ol|li|table|tr|td|img|meta|link)(?:\s[^<>]*)?/?)>",
        )
        .expect("HTML tag pattern compiles")
    });
    let mut found = tags.find_iter(text);
    let first = found.next();
    let doc_start = first.is_some_and(|m| {
        let tag = m.as_str().to_ascii_lowercase();
        tag.starts_with("<!doctype") || tag.starts_with("<html")
    });
    doc_start || found.nth(1).is_some()
}

/// The kind of page furniture `line` is, if any.
pub fn classify_line(line: &str) -> Option<Kind> {
    // A byte-order mark heading the text is no part of its first line.
    let line = line.trim_start_matches('\u{feff}').trim();
    if line.is_empty() {
        return None;
    }
    let (set, _) = rules();
    set.matches(line).iter().next().map(|i| RULES[i].0)
}

/// Code-point ranges of the boilerplate lines of `text` (each trimmed), in order.
pub fn boilerplate_lines(text: &str) -> Vec<(Range<usize>, Kind)> {
    let mut out = Vec::new();
    let mut offset = 0;
    // Lines as the segmenter sees them, so a sentence never straddles two.
    for line in text.split_inclusive(crate::segment::is_line_break) {
        if let Some(kind) = classify_line(line) {
            let body = line.trim_start_matches('\u{feff}').trim_start();
            let lead = line.chars().count() - body.chars().count();
            let start = offset + lead;
            out.push((start..start + body.trim_end().chars().count(), kind));
        }
        offset += line.chars().count();
    }
    out
}

/// Flags sentences that lie inside a boilerplate line.
#[derive(Debug, Clone)]
pub struct BoilerplateFlags {
    lines: Vec<(Range<usize>, Kind)>,
}

impl BoilerplateFlags {
    pub fn new(text: &str) -> Self {
        BoilerplateFlags {
            lines: boilerplate_lines(text),
        }
    }

    /// The kind of boilerplate the sentence at code-point range `sentence` is part of.
    pub fn kind_of(&self, sentence: &Range<usize>) -> Option<Kind> {
        // Lines are in order and disjoint: the only candidate is the last
        // one starting at or before the sentence. A binary search keeps a
        // page of many short furniture lines from costing lines × sentences.
        let after = self
            .lines
            .partition_point(|(line, _)| line.start <= sentence.start);
        let (line, kind) = self.lines.get(after.checked_sub(1)?)?;
        (sentence.end <= line.end).then_some(*kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_furniture_is_flagged() {
        let cases = [
            ("This website uses cookies to improve your experience. We'll assume you're ok with this, but you can opt-out if you wish. Accept Read More", Kind::Cookies),
            ("  • Share", Kind::ShareButton),
            ("  • Read Later", Kind::ShareButton),
            ("JOE PENNEY / Reuters", Kind::PhotoCredit),
            ("Image: Wikicommons (Photo by Philippe Chapleau)", Kind::PhotoCredit),
            ("(MORE: Mali’s War: After Surging Into the Islamist-Held North, Will France Retreat?)", Kind::RelatedLink),
            ("(PHOTOS: War in Mali: France and African Allies Take on Islamist Militants)", Kind::RelatedLink),
            ("I subscribe", Kind::Newsletter),
            ("The summary of the week", Kind::Newsletter),
            ("France 24 invites you to come back to the news that marked the week", Kind::Newsletter),
            ("Take international news everywhere with you!", Kind::AppPromotion),
            ("Download the France 24 application", Kind::AppPromotion),
            ("google-play-badge_FR", Kind::AppPromotion),
            ("With AFP, Reuters", Kind::AgencyCredit),
            ("This article was translated from the original into French.", Kind::EditorialNote),
        ];
        for (line, kind) in cases {
            assert_eq!(classify_line(line), Some(kind), "{line}");
        }
    }

    #[test]
    fn markup_lines_are_flagged_and_html_is_recognised() {
        assert_eq!(classify_line("<div class=\"story\">"), Some(Kind::Markup));
        assert_eq!(classify_line("  </p> <br/>"), Some(Kind::Markup));
        assert_eq!(classify_line("<p>Bamako wants talks.</p>"), None);
        assert_eq!(
            classify_line("<script>var x = \"a. B\";</script>"),
            Some(Kind::Markup)
        );
        assert_eq!(classify_line("a < b and c > d"), None);
        assert!(looks_like_html("<!DOCTYPE html><title>x</title>"));
        assert!(looks_like_html("<p>One.</p>\n<p>Two.</p>"));
        assert!(!looks_like_html(
            "Prices rose <5%> in Bamako; <a> is a letter."
        ));
        assert!(!looks_like_html("Mali wants talks. France does not."));
    }

    #[test]
    fn article_sentences_are_not_flagged() {
        for line in [
            "France Should Give Mali Space to Negotiate with Jihadists",
            "Bamako supports the opening of talks, while Paris believes that negotiations with the jihadists are a red line that must not be crossed.",
            "France’s hopes that other foreign actors can step in to share the burden of stabilizing Mali have proven mostly illusory.",
            "\"Things are simple\"",
            "Balance of power",
            "The Malian intelligence services were then in direct contact with Jnim executives.",
            "Share prices fell in Bamako.",
        ] {
            assert_eq!(classify_line(line), None, "{line}");
        }
    }

    #[test]
    fn flags_cover_every_sentence_of_a_banner_line() {
        let text = "Réal news here.\nThis website uses cookies to improve your experience. Accept Read More\n";
        let flags = BoilerplateFlags::new(text);
        let char_at = |needle: &str| text[..text.find(needle).unwrap()].chars().count();
        let first = char_at("This");
        let second = char_at("Accept");
        assert_eq!(flags.kind_of(&(first..first + 54)), Some(Kind::Cookies));
        assert_eq!(flags.kind_of(&(second..second + 16)), Some(Kind::Cookies));
        assert_eq!(flags.kind_of(&(0..15)), None);
    }
}
