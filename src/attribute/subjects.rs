//! Rule 5: the subject heading the sentence, and the actors carried
//! forward for pronouns and titles ("he", "they", "the minister").

use super::*;

/// The actors met so far in an article, as pronouns need them: the last one
/// (in its paragraph), the last person, the last body, the last armed group.
/// Constant time per mention, however long the article.
#[derive(Debug, Default)]
pub(super) struct History {
    last: Option<(usize, Who)>,
    person: Option<(usize, Who)>,
    body: Option<(usize, Who)>,
    pub(super) armed: Option<Holder>,
}

impl History {
    pub(super) fn push(&mut self, paragraph: usize, who: Who, person: bool) {
        if matches!(who.holder, Holder::Jihadists | Holder::Tuareg) {
            self.armed = Some(who.holder);
        }
        if person {
            self.person = Some((paragraph, who.clone()));
        } else {
            self.body = Some((paragraph, who.clone()));
        }
        self.last = Some((paragraph, who));
    }

    /// The last actor of the wanted kind in this paragraph or the one
    /// before, else the last actor there of either kind.
    pub(super) fn resolve(&self, paragraph: usize, person: bool) -> Option<&Who> {
        fn near(k: &Option<(usize, Who)>, paragraph: usize) -> Option<&Who> {
            k.as_ref()
                .and_then(|(para, w)| (para + 1 >= paragraph).then_some(w))
        }
        let kind = if person { &self.person } else { &self.body };
        near(kind, paragraph).or_else(|| near(&self.last, paragraph))
    }
}

/// The actor heading the sentence (rule 5): the first mention, outside
/// quotation marks, with nothing before it in its clause but determiners and
/// linking words.
pub(super) fn subject(p: &Prepared, text: &str, start: usize, end: usize) -> Option<Who> {
    let m = p
        .mentions
        .iter()
        .find(|m| m.start >= start && m.start < end && !m.in_quote)?;
    if m.oblique || m.possessive || m.holder.is_none() {
        return None;
    }
    // What follows the last clause mark (found by fuzzing: cutting one byte
    // past an em dash, which is three, panicked on "—Algiers").
    let head = &text[start..m.start];
    let head = head.rsplit([',', ';', ':', '—']).next().unwrap_or(head);
    let linking = [
        "unless",
        "and",
        "but",
        "so",
        "yet",
        "then",
        "now",
        "also",
        "even",
        "still",
        "meanwhile",
        "however",
        "specifically",
        "thus",
        "mais",
        "et",
        "donc",
        "pourtant",
    ];
    let ok = words(head)
        .iter()
        .all(|w| contains(lexicon::DETERMINERS, &w.lower) || linking.contains(&w.lower.as_str()));
    ok.then(|| who(m)).flatten()
}
