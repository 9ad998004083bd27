//! Actor mentions: the words of a sentence, the gazetteer's names found in
//! them and resolved (possessives, prepositions, titles, learnt names), the
//! facts every rule reads.

use super::*;

pub(super) fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (k, &(i, c)) in chars.iter().enumerate() {
        let next_alnum = chars.get(k + 1).is_some_and(|&(_, n)| n.is_alphanumeric());
        let wordy = c.is_alphanumeric() || (c == '-' && start.is_some() && next_alnum);
        match (wordy, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(Word {
                    start: s,
                    end: i,
                    lower: gazetteer::lower_same_len(&text[s..i]),
                });
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(Word {
            start: s,
            end: text.len(),
            lower: gazetteer::lower_same_len(&text[s..]),
        });
    }
    out
}

/// Names learnt from titles ("Minister Abdoulaye Diop") kept per article:
/// each sentence is searched for every one, so an article of thousands of
/// titled names would make that search quadratic. Real articles learn a
/// handful (the bundled ones at most a dozen); later names beyond the bound
/// are not learnt.
const MAX_LEARNT_NAMES: usize = 64;

/// "X's" or "Xs'": the mention owns the noun after it.
fn is_possessive(text: &str, end: usize) -> bool {
    let rest = &text[end..];
    let mut chars = rest.chars();
    let (first, second) = (chars.next(), chars.next());
    match (first, second) {
        (Some('\'' | '’'), Some('s')) => !chars.next().is_some_and(char::is_alphanumeric),
        (Some('\'' | '’'), Some(' ')) => text[..end].ends_with('s'),
        _ => false,
    }
}

/// Whether the mention at `start` follows a preposition ("with X", "in Mali"),
/// directly or through a coordination with an oblique mention.
fn is_oblique(text: &str, words: &[Word], start: usize, earlier: &[Mention]) -> bool {
    let before: Vec<&Word> = words.iter().filter(|w| w.end <= start).collect();
    let mut k = before.len();
    while k > 0 && contains(lexicon::DETERMINERS, &before[k - 1].lower) {
        k -= 1;
    }
    let Some(prev) = k.checked_sub(1).map(|k| before[k]) else {
        return false;
    };
    // Punctuation between the word and the name breaks the tie ("at France, Paris").
    let gap = &text[prev.end..start];
    if gap.contains([',', '(', ')', ':', ';', '—', '“', '"']) {
        return false;
    }
    // After a preposition, or right after a verb of position or saying
    // (its object: "commit the Malian government").
    if contains(lexicon::PREPOSITIONS, &prev.lower)
        || contains(lexicon::POSITION_VERBS, &prev.lower)
        || contains(lexicon::SPEECH, &prev.lower)
    {
        return true;
    }
    if matches!(prev.lower.as_str(), "and" | "or" | "nor") {
        // Coordinated with an oblique name: "with X and Y", "X, or Y"; but
        // ", and" after a name starts a new clause.
        return earlier.last().is_some_and(|m| {
            let link = &text[m.end..prev.start];
            m.oblique
                && prev.start.saturating_sub(m.end) < 12
                && (!link.contains(',') || prev.lower != "and")
        });
    }
    false
}

/// Capitalised names next to a person title: "Minister Abdoulaye Diop",
/// "Wassim Nasr, a specialist". Returns the full name and its last word.
fn adjacent_names(text: &str, words: &[Word], start: usize, end: usize) -> Vec<String> {
    let capital = |w: &Word| {
        text[w.start..]
            .chars()
            .next()
            .is_some_and(char::is_uppercase)
    };
    let particle =
        |w: &Word| matches!(w.lower.as_str(), "ag" | "al" | "le" | "de" | "ben" | "ould");
    let mut names = Vec::new();
    // Title, then the name.
    let after: Vec<&Word> = words.iter().filter(|w| w.start >= end).take(4).collect();
    let mut run: Vec<&Word> = Vec::new();
    for w in &after {
        let gap = &text[run.last().map_or(end, |l| l.end)..w.start];
        if !gap.chars().all(|c| c == ' ') || !(capital(w) || (particle(w) && !run.is_empty())) {
            break;
        }
        run.push(w);
    }
    // Name, then ", a <title>" / ", the <title>".
    let before: Vec<&Word> = words.iter().filter(|w| w.end <= start).collect();
    if run.is_empty() && before.len() >= 2 {
        let det = before[before.len() - 1];
        let gap = &text[det.end..start];
        if matches!(det.lower.as_str(), "a" | "an" | "the") && gap.trim().is_empty() {
            let mut k = before.len() - 1;
            if text[..det.start].trim_end().ends_with(',') {
                let mut name: Vec<&Word> = Vec::new();
                while k > 0 && name.len() < 4 {
                    let w = before[k - 1];
                    let gap = &text[w.end..name.last().map_or(det.start, |n| n.start)];
                    let ok_gap = if name.is_empty() {
                        gap.trim() == ","
                    } else {
                        gap == " "
                    };
                    if !ok_gap || !(capital(w) || particle(w)) {
                        break;
                    }
                    name.push(w);
                    k -= 1;
                }
                name.reverse();
                run = name;
            }
        }
    }
    // A single capitalised word could be a place or the next sentence's
    // first word; a name has two or more.
    if run.len() >= 2 {
        let full = text[run[0].start..run[run.len() - 1].end].to_string();
        let last = text[run[run.len() - 1].start..run[run.len() - 1].end].to_string();
        names.push(full);
        if last.chars().count() > 2 {
            names.push(last);
        }
    }
    names
}

impl Attributor {
    /// Everything about a document that attribution reads before deciding.
    pub(super) fn prepare(&self, doc: &DocIn<'_>) -> PreparedDoc {
        // Paragraphs are lines: the splitter never lets a sentence span one.
        // Its line breaks, so a file with `\r` line ends has paragraphs too.
        let newline_chars: Vec<usize> = doc
            .text
            .chars()
            .enumerate()
            .filter(|(_, c)| crate::segment::is_line_break(*c))
            .map(|(i, _)| i)
            .collect();
        let mut sentences: Vec<Prepared> = Vec::with_capacity(doc.sentences.len());
        let mut history = History::default();
        let mut learnt: Vec<(String, Holder)> = Vec::new();
        let mut open_quote = false;
        let mut last_line = usize::MAX;
        let mut paragraph = 0;
        for (k, s) in doc.sentences.iter().enumerate() {
            // Paragraphs numbered densely over the lines that hold sentences,
            // so "the paragraph before" skips blank lines.
            let line = newline_chars.partition_point(|&n| n < s.start);
            if line != last_line {
                if k > 0 {
                    paragraph += 1;
                }
                last_line = line;
                // A quotation never runs past its paragraph.
                open_quote = false;
            }
            let quotes = quote_layout(s.text, open_quote);
            open_quote = quotes.ends_inside;
            let words = words(s.text);
            let mentions = self.mentions(
                s.text,
                &words,
                &quotes,
                paragraph,
                &mut history,
                &mut learnt,
            );
            let question = s
                .text
                .trim_end_matches(['”', '"', '»', '’', ')', ' '])
                .ends_with('?');
            sentences.push(Prepared {
                paragraph,
                words,
                mentions,
                quotes,
                run: None,
                question,
            });
        }
        // Quotation runs: from the sentence that opens a quotation to the one
        // that closes it; the speaker is named in one of them.
        let mut runs: Vec<Option<Who>> = Vec::new();
        let mut current: Option<usize> = None;
        for (i, p) in sentences.iter_mut().enumerate() {
            let continues = p.quotes.starts_inside && current.is_some();
            if !continues {
                current = None;
            }
            let quoted = p.quotes.opens_at_start || p.quotes.starts_inside;
            let has_frame_speech =
                speech_speaker(p, &doc.sentences[i], 0, doc.sentences[i].text.len()).is_some();
            // Scare quotes ("proto-state") are no quotation: a run needs a
            // quotation heading the sentence, or a third of it quoted.
            let substantial = quoted_share(p, 0, doc.sentences[i].text.len()) >= 0.3;
            if current.is_none() && (quoted || (substantial && has_frame_speech)) {
                runs.push(None);
                current = Some(runs.len() - 1);
            }
            if let Some(r) = current {
                p.run = Some(r);
                if runs[r].is_none() {
                    runs[r] = speech_speaker(p, &doc.sentences[i], 0, doc.sentences[i].text.len())
                        .map(|(w, _)| w);
                }
            }
            if !p.quotes.ends_inside {
                current = None;
            }
        }
        // A quotation with no speaker of its own continues the last one
        // quoted in its paragraph or the paragraph before (§5 C1).
        let mut last_speaker: Option<(usize, Who)> = None;
        let mut run_speakers = runs.clone();
        for p in &sentences {
            let Some(r) = p.run else { continue };
            match &runs[r] {
                Some(w) => last_speaker = Some((p.paragraph, w.clone())),
                None => {
                    if let Some((para, w)) = &last_speaker {
                        if p.paragraph <= para + 1 && run_speakers[r].is_none() {
                            run_speakers[r] = Some(w.clone());
                        }
                    }
                }
            }
        }
        // "we" and "I" inside a quotation are its speaker.
        for p in sentences.iter_mut() {
            let speaker = p.run.and_then(|r| run_speakers[r].as_ref());
            for m in p.mentions.iter_mut().filter(|m| m.speaker_anaphor) {
                let w = speaker.filter(|_| m.in_quote);
                m.holder = w.map(|w| w.holder);
                m.speaker = w.and_then(|w| w.speaker.clone());
            }
        }
        let targets = DocTargets::new(&self.gazetteer, doc, &sentences);
        PreparedDoc {
            sentences,
            run_speakers,
            targets,
        }
    }

    /// Actor mentions of one sentence, resolved against what came before.
    pub(super) fn mentions(
        &self,
        text: &str,
        words: &[Word],
        quotes: &QuoteLayout,
        paragraph: usize,
        history: &mut History,
        learnt: &mut Vec<(String, Holder)>,
    ) -> Vec<Mention> {
        let mut found = self.gazetteer.mentions(text);
        // Names learnt earlier in the article.
        for (name, holder) in learnt.iter() {
            for (start, _) in text.match_indices(name.as_str()) {
                let end = start + name.len();
                let free = found.iter().all(|f| f.end <= start || f.start >= end);
                let bounded = !text[end..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_alphanumeric())
                    && !text[..start]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c.is_alphanumeric());
                if free && bounded {
                    found.push(Found {
                        start,
                        end,
                        kind: MentionKind::Person(*holder),
                    });
                }
            }
        }
        found.sort_by_key(|f| f.start);
        let mandated = self.gazetteer.says_mandated(text);
        let mut out: Vec<Mention> = Vec::new();
        for f in &found {
            let lower = gazetteer::lower_same_len(&text[f.start..f.end]);
            // An expletive "it" ("it is time", "it would be") names nobody.
            if lower == "it" {
                let next = words
                    .iter()
                    .find(|w| w.start >= f.end)
                    .map(|w| w.lower.as_str());
                let prev = words
                    .iter()
                    .rev()
                    .find(|w| w.end <= f.start)
                    .map(|w| w.lower.as_str());
                // "make it harder", "find it useful".
                if matches!(
                    prev,
                    Some("make" | "makes" | "made" | "making" | "find" | "found" | "keep")
                ) {
                    continue;
                }
                if matches!(
                    next,
                    Some(
                        "is" | "was"
                            | "would"
                            | "seems"
                            | "seemed"
                            | "appears"
                            | "will"
                            | "could"
                            | "may"
                            | "might"
                            | "remains"
                            | "must"
                            | "should"
                            | "can"
                            | "s"
                    )
                ) {
                    continue;
                }
            }
            let in_quote = quotes.is_inside(f.start);
            let surface = &text[f.start..f.end];
            let (holder, person, speaker_anaphor, speaker) = match f.kind {
                MentionKind::Person(h) => {
                    // A title with a name beside it stands for the name.
                    let name = adjacent_names(text, words, f.start, f.end)
                        .into_iter()
                        .max_by_key(|n| n.len())
                        .unwrap_or_else(|| surface.to_string());
                    (Some(h), true, false, Some(self.full_name(&name, h, learnt)))
                }
                MentionKind::Body(h) => (Some(h), false, false, Some(body_name(surface))),
                MentionKind::Mandatable => (
                    Some(if mandated {
                        self.gazetteer.mandated_holder
                    } else {
                        self.gazetteer.unmandated_holder
                    }),
                    false,
                    false,
                    Some(body_name(surface)),
                ),
                MentionKind::PersonAnaphor => {
                    let w = history.resolve(paragraph, true);
                    (
                        w.map(|w| w.holder),
                        true,
                        false,
                        w.and_then(|w| w.speaker.clone()),
                    )
                }
                MentionKind::BodyAnaphor => {
                    let w = history.resolve(paragraph, false);
                    (
                        w.map(|w| w.holder),
                        false,
                        false,
                        w.and_then(|w| w.speaker.clone()),
                    )
                }
                MentionKind::ArmedAnaphor => (history.armed, false, false, None),
                MentionKind::SpeakerAnaphor => (None, true, true, None),
            };
            let possessive = is_possessive(text, f.end)
                || matches!(
                    lower.as_str(),
                    "his" | "her" | "its" | "their" | "our" | "my" | "notre"
                );
            let oblique = is_oblique(text, words, f.start, &out);
            if let (Some(h), false) = (holder, speaker_anaphor) {
                history.push(
                    paragraph,
                    Who {
                        holder: h,
                        speaker: speaker.clone(),
                    },
                    person,
                );
            }
            // A title followed by a capitalised name, or a name followed by
            // ", a <title>": the name is that holder's for the article.
            if let MentionKind::Person(h) = f.kind {
                for name in adjacent_names(text, words, f.start, f.end) {
                    if learnt.len() < MAX_LEARNT_NAMES && !learnt.iter().any(|(n, _)| *n == name) {
                        learnt.push((name, h));
                    }
                }
            }
            out.push(Mention {
                start: f.start,
                end: f.end,
                holder,
                oblique,
                possessive,
                in_quote,
                speaker_anaphor,
                speaker,
            });
        }
        out
    }

    /// A person's name as the article knows it best: a surname or a shorter
    /// form completed from the longest name of the same holder learnt in the
    /// article or listed in the gazetteer that ends with it ("Macron" →
    /// "Emmanuel Macron"); titles and unknown names as written.
    pub(super) fn full_name(
        &self,
        name: &str,
        holder: Holder,
        learnt: &[(String, Holder)],
    ) -> String {
        let ends_with = |long: &str| {
            long.len() > name.len()
                && long.ends_with(name)
                && long[..long.len() - name.len()].ends_with(' ')
        };
        learnt
            .iter()
            .filter(|(n, h)| *h == holder && ends_with(n))
            .map(|(n, _)| n.as_str())
            .max_by_key(|n| n.len())
            .or_else(|| self.gazetteer.full_name(name, holder))
            .unwrap_or(name)
            .to_string()
    }
}
