//! The actor gazetteer (`labels/actors.toml`): which words point to which
//! holder, and which name the armed group a dialogue is with.
//!
//! Loaded at run time so users extend it without touching code; the copy in
//! the repository is built in. A bad file is refused with the line of the
//! offending entry.

use crate::stance::Holder;
use aho_corasick::AhoCorasick;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use toml::Spanned;

/// The gazetteer shipped with the crate.
pub const BUILTIN_ACTORS: &str = include_str!("../../labels/actors.toml");

/// What a matched phrase is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MentionKind {
    /// One person (a name or a title): what "he" and "the minister" point to.
    Person(Holder),
    /// A state, institution, movement or collective: what "they" and "it" point to.
    Body(Holder),
    /// A body that holds `mali` when the sentence says it was mandated,
    /// and `malian-society` otherwise (GUIDELINES.md R13).
    Mandatable,
    /// "he", "the minister": the last person named.
    PersonAnaphor,
    /// "they", "it": the last body named.
    BodyAnaphor,
    /// "these groups", "the movement": the last armed group named.
    ArmedAnaphor,
    /// "we", "I" inside a quotation: its speaker.
    SpeakerAnaphor,
}

/// A cue for the armed group party to a dialogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetCue {
    Jihadists,
    Tuareg,
    /// Tuareg only where the sentence names no jihadist group and the
    /// article speaks of the Tuareg movements ("rebels").
    TuaregInContext,
}

/// A phrase found in a text: byte span and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found<K> {
    pub start: usize,
    pub end: usize,
    pub kind: K,
}

/// A gazetteer that cannot be used, with the line that makes it so.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct GazetteerError {
    pub origin: String,
    pub line: Option<usize>,
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    holders: BTreeMap<Spanned<String>, HolderNames>,
    mandated: Mandated,
    anaphors: Anaphors,
    targets: Targets,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HolderNames {
    #[serde(default)]
    people: Vec<Spanned<String>>,
    #[serde(default)]
    bodies: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Mandated {
    holder: Spanned<String>,
    otherwise: Spanned<String>,
    cues: Vec<Spanned<String>>,
    names: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Anaphors {
    person: Vec<Spanned<String>>,
    body: Vec<Spanned<String>>,
    #[serde(default)]
    armed: Vec<Spanned<String>>,
    speaker: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Targets {
    jihadists: Vec<Spanned<String>>,
    tuareg: Vec<Spanned<String>>,
    #[serde(default)]
    tuareg_in_context: Vec<Spanned<String>>,
}

/// A phrase list compiled for matching: whole words, case-insensitive except
/// for entries written in capitals only, longest match first.
#[derive(Debug, Clone)]
struct PhraseSet<K> {
    automaton: AhoCorasick,
    /// Per pattern: the entries it stands for (several when two entries
    /// differ only by case, like the pronoun "us" and "US").
    entries: Vec<Vec<(Option<String>, K)>>,
}

impl<K: Copy> PhraseSet<K> {
    fn new(phrases: Vec<(String, K)>) -> Self {
        let mut patterns: Vec<String> = Vec::new();
        let mut entries: Vec<Vec<(Option<String>, K)>> = Vec::new();
        for (phrase, kind) in phrases {
            // Capitals-only entries (JNIM, US) must match as written.
            let exact = is_acronym(&phrase).then(|| phrase.clone());
            for variant in apostrophe_variants(&phrase) {
                let key = lower_same_len(&variant);
                match patterns.iter().position(|p| *p == key) {
                    Some(i) => entries[i].push((exact.clone(), kind)),
                    None => {
                        patterns.push(key);
                        entries.push(vec![(exact.clone(), kind)]);
                    }
                }
            }
        }
        let automaton = AhoCorasick::new(&patterns).expect("phrase patterns compile");
        PhraseSet { automaton, entries }
    }

    /// Non-overlapping whole-word matches, leftmost first and longest at
    /// each position.
    fn find(&self, text: &str) -> Vec<Found<K>> {
        let lower = lower_same_len(text);
        let mut all: Vec<Found<K>> = Vec::new();
        for m in self.automaton.find_overlapping_iter(&lower) {
            let (start, end) = (m.start(), m.end());
            if !is_word_boundary(text, start) || !is_word_boundary(text, end) {
                continue;
            }
            let original = &text[start..end];
            let chosen = self.entries[m.pattern().as_usize()]
                .iter()
                .filter(|(exact, _)| exact.as_deref().is_none_or(|e| e == original))
                // An exact-case entry is the more specific reading.
                .max_by_key(|(exact, _)| exact.is_some());
            if let Some((_, kind)) = chosen {
                all.push(Found {
                    start,
                    end,
                    kind: *kind,
                });
            }
        }
        all.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
        let mut out: Vec<Found<K>> = Vec::new();
        for f in all {
            if out.last().is_none_or(|last| f.start >= last.end) {
                out.push(f);
            }
        }
        out
    }
}

fn is_acronym(s: &str) -> bool {
    s.chars().any(|c| c.is_alphabetic()) && !s.chars().any(|c| c.is_lowercase())
}

/// The phrase with straight and curly apostrophes, so either spelling matches.
fn apostrophe_variants(s: &str) -> Vec<String> {
    let mut out = vec![s.to_string()];
    for (from, to) in [('\'', '’'), ('’', '\'')] {
        if s.contains(from) {
            out.push(s.replace(from, &to.to_string()));
        }
    }
    out
}

/// Lower case, char by char, keeping each char's UTF-8 length so byte
/// offsets in the result are byte offsets in the original.
pub fn lower_same_len(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut lower = c.to_lowercase();
            match (lower.next(), lower.next()) {
                (Some(l), None) if l.len_utf8() == c.len_utf8() => l,
                _ => c,
            }
        })
        .collect()
}

/// Whether a word may start or end at byte `at`: the chars on both sides are
/// not both part of a word (letters, digits, or a hyphen inside a word).
fn is_word_boundary(text: &str, at: usize) -> bool {
    let before = text[..at].chars().next_back();
    let after = text[at..].chars().next();
    let wordy = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '-');
    !(wordy(before) && wordy(after))
}

/// The compiled gazetteer.
#[derive(Debug, Clone)]
pub struct Gazetteer {
    actors: PhraseSet<MentionKind>,
    targets: PhraseSet<TargetCue>,
    mandate_cues: PhraseSet<()>,
    /// Every `people` entry with its holder, in file order (to complete a
    /// surname into the full name listed with it).
    people: Vec<(String, Holder)>,
    /// Holder of a mandated body, and of the same body acting on its own.
    pub mandated_holder: Holder,
    pub unmandated_holder: Holder,
}

impl Gazetteer {
    /// The built-in gazetteer (`labels/actors.toml` at build time).
    pub fn builtin() -> Self {
        Self::parse(BUILTIN_ACTORS, "labels/actors.toml").expect("the bundled gazetteer is valid")
    }

    pub fn load(path: &Path) -> Result<Self, GazetteerError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| GazetteerError {
            origin: origin.clone(),
            line: None,
            message: format!("cannot read: {e}"),
        })?;
        Self::parse(&text, &origin)
    }

    /// Parses and checks a gazetteer; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, GazetteerError> {
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let err = |span: Option<std::ops::Range<usize>>, message: String| GazetteerError {
            origin: origin.to_string(),
            line: span.map(|s| line_of(s.start)),
            message,
        };
        let file: File = toml::from_str(text).map_err(|e| {
            err(
                e.span(),
                format!("not a gazetteer: {}", e.message().trim_end()),
            )
        })?;
        let holder = |name: &Spanned<String>| -> Result<Holder, GazetteerError> {
            name.get_ref()
                .parse::<Holder>()
                .map_err(|m| err(Some(name.span()), m))
        };
        let phrase = |p: &Spanned<String>| -> Result<String, GazetteerError> {
            let s = p.get_ref().trim();
            if s.is_empty() {
                return Err(err(Some(p.span()), "empty phrase".into()));
            }
            Ok(s.to_string())
        };
        let mut actors: Vec<(String, MentionKind)> = Vec::new();
        let mut people: Vec<(String, Holder)> = Vec::new();
        let mut seen: BTreeMap<String, (Holder, usize)> = BTreeMap::new();
        for (name, names) in &file.holders {
            let h = holder(name)?;
            if h == Holder::Author {
                return Err(err(
                    Some(name.span()),
                    "`author` is the fallback holder and takes no names".into(),
                ));
            }
            for (list, person) in [(&names.people, true), (&names.bodies, false)] {
                for p in list {
                    let s = phrase(p)?;
                    // The same phrase under two holders would make attribution
                    // depend on table order: refuse it.
                    let key = if is_acronym(&s) {
                        s.clone()
                    } else {
                        lower_same_len(&s)
                    };
                    if let Some((other, line)) = seen.get(&key) {
                        if *other != h {
                            return Err(err(
                                Some(p.span()),
                                format!("{s:?} is listed under both {other} (line {line}) and {h}"),
                            ));
                        }
                    }
                    seen.insert(key, (h, line_of(p.span().start)));
                    if person {
                        people.push((s.clone(), h));
                    }
                    actors.push((
                        s,
                        if person {
                            MentionKind::Person(h)
                        } else {
                            MentionKind::Body(h)
                        },
                    ));
                }
            }
        }
        let mandated_holder = holder(&file.mandated.holder)?;
        let unmandated_holder = holder(&file.mandated.otherwise)?;
        for p in &file.mandated.names {
            actors.push((phrase(p)?, MentionKind::Mandatable));
        }
        for (list, kind) in [
            (&file.anaphors.person, MentionKind::PersonAnaphor),
            (&file.anaphors.body, MentionKind::BodyAnaphor),
            (&file.anaphors.armed, MentionKind::ArmedAnaphor),
            (&file.anaphors.speaker, MentionKind::SpeakerAnaphor),
        ] {
            for p in list {
                actors.push((phrase(p)?, kind));
            }
        }
        let mut targets = Vec::new();
        for (list, cue) in [
            (&file.targets.jihadists, TargetCue::Jihadists),
            (&file.targets.tuareg, TargetCue::Tuareg),
            (&file.targets.tuareg_in_context, TargetCue::TuaregInContext),
        ] {
            for p in list {
                targets.push((phrase(p)?, cue));
            }
        }
        let mut cues = Vec::new();
        for p in &file.mandated.cues {
            cues.push((phrase(p)?, ()));
        }
        Ok(Gazetteer {
            actors: PhraseSet::new(actors),
            targets: PhraseSet::new(targets),
            mandate_cues: PhraseSet::new(cues),
            people,
            mandated_holder,
            unmandated_holder,
        })
    }

    /// Actor names, titles and anaphors in `text`, in order.
    pub fn mentions(&self, text: &str) -> Vec<Found<MentionKind>> {
        self.actors.find(text)
    }

    /// The full name a shorter `people` entry stands for: the first entry
    /// of the same holder, listed in the file, that ends with it after a
    /// space and starts with a capital ("Macron" → "Emmanuel Macron",
    /// "Le Drian" → "Jean-Yves Le Drian"); `None` when there is none.
    pub fn full_name(&self, name: &str, holder: Holder) -> Option<&str> {
        self.people
            .iter()
            .find(|(long, h)| {
                *h == holder
                    && long.len() > name.len()
                    && long.ends_with(name)
                    && long[..long.len() - name.len()].ends_with(' ')
                    && long.starts_with(char::is_uppercase)
            })
            .map(|(long, _)| long.as_str())
    }

    /// Target cue words in `text`, in order.
    pub fn target_cues(&self, text: &str) -> Vec<Found<TargetCue>> {
        self.targets.find(text)
    }

    /// Whether `text` says a body was mandated.
    pub fn says_mandated(&self, text: &str) -> bool {
        !self.mandate_cues.find(text).is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holders(g: &Gazetteer, text: &str) -> Vec<(String, MentionKind)> {
        g.mentions(text)
            .into_iter()
            .map(|f| (text[f.start..f.end].to_string(), f.kind))
            .collect()
    }

    #[test]
    fn builtin_matches_whole_words_longest_first_with_case_for_acronyms() {
        let g = Gazetteer::builtin();
        let found = holders(
            &g,
            "Le Drian told France 24 that the Malian government and JNIM’s leaders met us in the US.",
        );
        let kinds: Vec<&str> = found.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "Le Drian",
                "France 24",
                "Malian government",
                "JNIM",
                "us",
                "US"
            ]
        );
        assert_eq!(found[0].1, MentionKind::Person(Holder::France));
        assert_eq!(found[1].1, MentionKind::Body(Holder::Analyst));
        assert_eq!(found[4].1, MentionKind::SpeakerAnaphor);
        assert_eq!(found[5].1, MentionKind::Body(Holder::Other));
        // No match inside a longer word.
        assert!(holders(&g, "Somalian parisians").is_empty());
        // French names and accents.
        let fr = holders(&g, "Le Quai d’Orsay et les autorités maliennes.");
        assert_eq!(fr[0].1, MentionKind::Body(Holder::France));
        assert_eq!(fr[1].1, MentionKind::Body(Holder::Mali));
    }

    #[test]
    fn target_cues_and_mandates() {
        let g = Gazetteer::builtin();
        let cues: Vec<TargetCue> = g
            .target_cues("talks with the MNLA, not with Islamist rebels")
            .into_iter()
            .map(|f| f.kind)
            .collect();
        assert_eq!(
            cues,
            [
                TargetCue::Tuareg,
                TargetCue::Jihadists,
                TargetCue::TuaregInContext
            ]
        );
        assert!(g.says_mandated("the council, mandated by Bamako"));
        assert!(!g.says_mandated("the council met"));
    }

    #[test]
    fn refusals_name_the_line() {
        let bad_holder = BUILTIN_ACTORS.replace("[holders.tuareg]", "[holders.touareg]");
        let e = Gazetteer::parse(&bad_holder, "a.toml").unwrap_err();
        assert!(e.message.contains("unknown holder"), "{e}");
        let line = BUILTIN_ACTORS
            .lines()
            .position(|l| l == "[holders.tuareg]")
            .unwrap()
            + 1;
        assert_eq!(e.line, Some(line), "{e}");
        assert!(
            e.to_string().starts_with(&format!("a.toml:{line}: ")),
            "{e}"
        );

        let twice = BUILTIN_ACTORS.replace("\"Macron\",", "\"Macron\", \"Bamako\",");
        let e = Gazetteer::parse(&twice, "b.toml").unwrap_err();
        assert!(e.message.contains("both"), "{e}");
        assert!(e.line.is_some());

        let author = format!("{BUILTIN_ACTORS}\n[holders.author]\npeople = [\"I\"]\n");
        let e = Gazetteer::parse(&author, "c.toml").unwrap_err();
        assert!(e.message.contains("fallback"), "{e}");

        let syntax = "[holders.france\npeople = []\n";
        let e = Gazetteer::parse(syntax, "d.toml").unwrap_err();
        assert_eq!(e.line, Some(1), "{e}");

        let unknown = BUILTIN_ACTORS.replace("[anaphors]", "[anaphors]\nplural = []");
        let e = Gazetteer::parse(&unknown, "e.toml").unwrap_err();
        assert!(e.message.contains("plural"), "{e}");
        assert!(e.line.is_some(), "{e}");

        let missing = Gazetteer::load(Path::new("/nonexistent/actors.toml")).unwrap_err();
        assert!(missing.to_string().contains("cannot read"), "{missing}");
    }
}
