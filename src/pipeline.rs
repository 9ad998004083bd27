//! The stages wired together: articles → sentences → embeddings → scores.
//!
//! Segmentation runs in parallel across documents (rayon); encoding runs on
//! all the sentences of a chunk of articles at once, because the encoder
//! batches by length and a batch drawn from many documents fills better.
//! Results come back per document, in input order. [`Pipeline`] loads the
//! stages from plain options (`build.rs`).

mod build;

pub use build::{
    base_model, load_attributor, load_classifier, load_encoder, needs_encoder, set_threads,
    setfit_supported, setfit_trainer, EncoderChoice, Pipeline, PipelineOptions,
};

use crate::attribute::{Attribution, Attributor, ClauseStance, DocIn, SentenceIn};
use crate::classify::{Batch, Classifier};
use crate::corpus::Article;
use crate::embed::Encoder;
use crate::segment::boilerplate::{BoilerplateFlags, Kind};
use crate::segment::{self, Segmenter};
use crate::stance::{Holder, Scores, SpokenClaim, Stance, Target};
use anyhow::{bail, ensure, Result};
use ndarray::Array2;
use rayon::prelude::*;
use serde::Serialize;
use std::ops::Range;

/// A sentence of an article, with its span and boilerplate flag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SplitSentence {
    pub doc: String,
    pub idx: usize,
    /// Code-point offsets into the raw article text, end exclusive.
    pub start: usize,
    pub end: usize,
    pub text: String,
    pub boilerplate: bool,
    /// What kind of page furniture the sentence is part of, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boilerplate_kind: Option<Kind>,
    /// A piece of a longer stretch of text with no sentence boundary, cut
    /// at whitespace ([`MAX_SENTENCE_CHARS`]). Written only when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cut: bool,
}

/// A scored sentence: the record `stance score` writes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoredSentence {
    #[serde(flatten)]
    pub sentence: SplitSentence,
    pub stance: Stance,
    pub scores: Scores,
    /// Who holds the stance (attribution stage); for a neutral sentence,
    /// the actor whose words or act it reports, when one is named; `null`
    /// for boilerplate and when attribution has not run.
    pub holder: Option<Holder>,
    /// Whom the dialogue is with (jihadists, tuareg, unspecified); `null`
    /// for neutral sentences.
    pub target: Option<Target>,
    /// Opposed positions side by side (the standard's `mixed`); the stance
    /// is then neutral.
    pub mixed: bool,
    /// Who holds which stance toward whom, in the standard's form, each
    /// with the name behind its holder when attribution knows it.
    pub claims: Vec<SpokenClaim>,
    /// The name behind `holder` (a person, or a body as written), when
    /// attribution knows it. Written only when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speaker: Option<String>,
    /// The story this article belongs to: the id of the first article of
    /// its near-duplicate group in input order ([`crate::corpus::dedup`]), its own
    /// id when it copies none. Written by `stance score`; absent when the
    /// stage that reads whole inputs has not set it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub story: Option<String>,
    /// The sentence is longer than the encoder reads (256 tokens for
    /// MiniLM): it was scored on its first tokens only, as
    /// sentence-transformers does. Written only when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

impl ScoredSentence {
    /// A sentence as the attribution stage reads it.
    pub fn as_attribution_input(&self) -> SentenceIn<'_> {
        SentenceIn {
            start: self.sentence.start,
            end: self.sentence.end,
            text: &self.sentence.text,
            stance: self.stance,
            boilerplate: self.sentence.boilerplate,
        }
    }

    /// Takes the attribution stage's result.
    pub fn apply(&mut self, a: Attribution) {
        self.stance = a.stance;
        self.mixed = a.mixed;
        self.holder = a.holder;
        self.target = a.target;
        self.claims = a.spoken_claims();
        self.speaker = a.speaker;
    }
}

/// A classifier applied to free texts (clauses): embeds them when the
/// classifier reads embeddings, then classifies. Attribution uses it so a
/// clause is judged by the same classifier as the sentences.
pub struct TextClassifier<'a> {
    pub encoder: Option<&'a dyn Encoder>,
    pub classifier: &'a dyn Classifier,
}

impl TextClassifier<'_> {
    pub fn scores(&self, texts: &[&str]) -> Result<Vec<Scores>> {
        let embeddings = match (self.classifier.encoder(), self.encoder) {
            (None, _) => Array2::zeros((texts.len(), 0)),
            (Some(_), Some(encoder)) => encoder.encode(texts)?,
            (Some(needed), None) => bail!(
                "classifier {:?} needs encoder {needed:?} to classify clauses",
                self.classifier.name()
            ),
        };
        // Clauses are judged on their own, without a preceding sentence.
        let scores = self.classifier.classify(Batch {
            texts,
            embeddings: embeddings.view(),
            previous: None,
        })?;
        ensure!(scores.len() == texts.len(), "one score per clause");
        Ok(scores)
    }
}

impl ClauseStance for TextClassifier<'_> {
    fn clause_stances(&self, clauses: &[&str]) -> Result<Vec<Stance>> {
        Ok(self.scores(clauses)?.iter().map(Scores::argmax).collect())
    }
}

/// Runs the attribution stage over scored documents (one per article, same
/// order), filling `holder`, `target`, `mixed` and `claims`.
pub fn attribute(
    attributor: &Attributor,
    articles: &[Article],
    scored: &mut [Vec<ScoredSentence>],
    clauses: &dyn ClauseStance,
) -> Result<()> {
    ensure!(
        articles.len() == scored.len(),
        "one sentence list per article"
    );
    let docs: Vec<DocIn<'_>> = articles
        .iter()
        .zip(scored.iter())
        .map(|(a, sentences)| DocIn {
            text: &a.text,
            sentences: sentences
                .iter()
                .map(ScoredSentence::as_attribution_input)
                .collect(),
        })
        .collect();
    let results = attributor.attribute(&docs, clauses)?;
    for (sentences, attributions) in scored.iter_mut().zip(results) {
        for (s, a) in sentences.iter_mut().zip(attributions) {
            s.apply(a);
        }
    }
    Ok(())
}

/// Longest sentence, in code points, that the later stages see whole.
///
/// A stretch of text with no sentence boundary longer than this (a page of
/// minified text, a list of names, "U.S. U.S. …") is cut at whitespace into
/// pieces of at most this many code points before classification and
/// attribution; each piece keeps its own span into the article, the pieces
/// together hold every character (only whitespace between them), and each
/// record says `"cut": true`. The bound keeps the per-sentence work of
/// attribution (which looks around each word and each actor mention) from
/// growing with the square of such a page; no sentence of the bundled
/// corpora comes near it (the longest is 544 code points), and the encoder
/// reads only its first 256 tokens (about 1,000 to 1,500 characters) anyway.
pub const MAX_SENTENCE_CHARS: usize = 1000;

/// Cuts `text` (trimmed, no longer than the article) into pieces of at most
/// `max` code points: at the last whitespace that keeps a piece within the
/// bound, or, in a run of `max` code points without any, right there.
/// Returns `(byte range, code-point range)` pairs relative to `text`; each
/// piece is non-empty and trimmed, and only whitespace lies between them.
/// Linear in the text: each position is looked at a bounded number of times.
pub fn cut_pieces(text: &str, max: usize) -> Vec<(Range<usize>, Range<usize>)> {
    assert!(max > 0);
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let n = chars.len();
    let byte = |k: usize| chars.get(k).map_or(text.len(), |&(b, _)| b);
    if n <= max {
        return vec![(0..text.len(), 0..n)];
    }
    // last_ws[k]: the last whitespace position at or before k.
    let mut last_ws: Vec<Option<usize>> = Vec::with_capacity(n);
    let mut last = None;
    for (k, &(_, c)) in chars.iter().enumerate() {
        if c.is_whitespace() {
            last = Some(k);
        }
        last_ws.push(last);
    }
    let mut pieces = Vec::new();
    let mut i = 0;
    while i < n {
        if chars[i].1.is_whitespace() {
            i += 1;
            continue;
        }
        let mut end = if i + max >= n {
            n
        } else {
            // A piece i..k with k whitespace holds k - i <= max code points.
            match last_ws[i + max] {
                Some(k) if k > i => k,
                _ => i + max,
            }
        };
        let next = end;
        while end > i && chars[end - 1].1.is_whitespace() {
            end -= 1;
        }
        pieces.push((byte(i)..byte(end), i..end));
        i = next;
    }
    pieces
}

/// Splits one article into sentences and flags its boilerplate; sentences
/// longer than [`MAX_SENTENCE_CHARS`] come as pieces (`cut`).
pub fn split_article(segmenter: &dyn Segmenter, article: &Article) -> Vec<SplitSentence> {
    let flags = BoilerplateFlags::new(&article.text);
    let mut out = Vec::new();
    for s in segment::sentences(segmenter, &article.text) {
        let pieces = cut_pieces(&s.text, MAX_SENTENCE_CHARS);
        let cut = pieces.len() > 1;
        for (bytes, cps) in pieces {
            let (start, end) = (s.start + cps.start, s.start + cps.end);
            let kind = flags.kind_of(&(start..end));
            out.push(SplitSentence {
                doc: article.id.clone(),
                idx: out.len(),
                start,
                end,
                text: s.text[bytes].to_string(),
                boilerplate: kind.is_some(),
                boilerplate_kind: kind,
                cut,
            });
        }
    }
    out
}

/// Splits many articles in parallel; one sentence list per article, in order.
pub fn split_articles(segmenter: &dyn Segmenter, articles: &[Article]) -> Vec<Vec<SplitSentence>> {
    articles
        .par_iter()
        .map(|a| split_article(segmenter, a))
        .collect()
}

/// The scores every boilerplate sentence gets: by the annotation standard,
/// page furniture is neutral, so it is not sent through the model.
pub const BOILERPLATE_SCORES: Scores = Scores([0.0, 0.0, 1.0]);

/// Sentences of a set of articles and the embeddings of those that are not
/// boilerplate: what every classifier needs, computed once.
pub struct Embedded {
    /// Sentences per article, in input order.
    pub docs: Vec<Vec<SplitSentence>>,
    /// One row per non-boilerplate sentence, in document then sentence
    /// order; zero columns when no encoder was asked for.
    pub embeddings: Array2<f32>,
    /// For each row of `embeddings`: the encoder read only the sentence's
    /// first tokens ([`Encoder::truncated`]).
    pub truncated: Vec<bool>,
}

impl Embedded {
    /// Splits `articles` and embeds their sentences with `encoder` (or
    /// with nothing, for classifiers that read only text).
    pub fn new(
        segmenter: &dyn Segmenter,
        encoder: Option<&dyn Encoder>,
        articles: &[Article],
    ) -> Result<Self> {
        let docs = split_articles(segmenter, articles);
        let texts: Vec<&str> = Self::scored(&docs).map(|s| s.text.as_str()).collect();
        let (embeddings, truncated) = match encoder {
            Some(encoder) => (encoder.encode(&texts)?, encoder.truncated(&texts)?),
            None => (Array2::zeros((texts.len(), 0)), vec![false; texts.len()]),
        };
        ensure!(
            truncated.len() == texts.len(),
            "one truncation flag per sentence"
        );
        Ok(Embedded {
            docs,
            embeddings,
            truncated,
        })
    }

    /// The sentences that go through a classifier: all but boilerplate.
    fn scored(docs: &[Vec<SplitSentence>]) -> impl Iterator<Item = &SplitSentence> {
        docs.iter().flatten().filter(|s| !s.boilerplate)
    }

    /// Each scored sentence's predecessor embedding: the previous scored
    /// sentence of the same document, or zeros for a document's first.
    pub fn previous(&self) -> Array2<f32> {
        let mut previous = Array2::zeros(self.embeddings.raw_dim());
        let mut row = 0;
        for doc in &self.docs {
            let n = doc.iter().filter(|s| !s.boilerplate).count();
            for k in 1..n {
                previous
                    .row_mut(row + k)
                    .assign(&self.embeddings.row(row + k - 1));
            }
            row += n;
        }
        previous
    }

    /// Scores every sentence with `classifier`; boilerplate is neutral.
    pub fn classify(&self, classifier: &dyn Classifier) -> Result<Vec<Vec<ScoredSentence>>> {
        let texts: Vec<&str> = Self::scored(&self.docs).map(|s| s.text.as_str()).collect();
        let previous = self.previous();
        let scores = classifier.classify(Batch {
            texts: &texts,
            embeddings: self.embeddings.view(),
            previous: Some(previous.view()),
        })?;
        ensure!(
            scores.len() == texts.len(),
            "classifier {:?} returned {} scores for {} sentences",
            classifier.name(),
            scores.len(),
            texts.len()
        );
        let mut scores = scores.into_iter().zip(self.truncated.iter().copied());
        Ok(self
            .docs
            .iter()
            .map(|sentences| {
                sentences
                    .iter()
                    .map(|sentence| {
                        let (scores, truncated) = if sentence.boilerplate {
                            (BOILERPLATE_SCORES, false)
                        } else {
                            scores.next().unwrap_or((BOILERPLATE_SCORES, false))
                        };
                        ScoredSentence {
                            sentence: sentence.clone(),
                            stance: scores.argmax(),
                            scores,
                            holder: None,
                            target: None,
                            mixed: false,
                            claims: vec![],
                            speaker: None,
                            story: None,
                            truncated,
                        }
                    })
                    .collect()
            })
            .collect())
    }
}

/// Segmenter, encoder and classifier, ready to score articles.
pub struct Scorer<'a> {
    pub segmenter: &'a dyn Segmenter,
    /// Needed only when the classifier reads embeddings.
    pub encoder: Option<&'a dyn Encoder>,
    pub classifier: &'a dyn Classifier,
    /// The attribution stage; `None` leaves `holder`, `target` and `claims` empty.
    pub attributor: Option<&'a Attributor>,
}

impl Scorer<'_> {
    /// Scores every sentence of `articles`; one list per article, in order.
    pub fn score(&self, articles: &[Article]) -> Result<Vec<Vec<ScoredSentence>>> {
        let encoder = match (self.classifier.encoder(), self.encoder) {
            (Some(expected), Some(encoder)) => {
                ensure!(
                    expected == encoder.name(),
                    "classifier {:?} expects encoder {:?}, but {:?} is loaded",
                    self.classifier.name(),
                    expected,
                    encoder.name()
                );
                Some(encoder)
            }
            (Some(expected), None) => {
                bail!(
                    "classifier {:?} needs encoder {expected:?}",
                    self.classifier.name()
                )
            }
            // A text-only classifier: skip the model.
            (None, _) => None,
        };
        let mut scored =
            Embedded::new(self.segmenter, encoder, articles)?.classify(self.classifier)?;
        if let Some(attributor) = self.attributor {
            let clauses = TextClassifier {
                encoder,
                classifier: self.classifier,
            };
            attribute(attributor, articles, &mut scored, &clauses)?;
        }
        Ok(scored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::{Metadata, Origin};
    use crate::segment::RuleSegmenter;

    /// Every piece within the bound, trimmed and non-empty, slicing `text`
    /// by bytes and by code points alike, only whitespace between and
    /// around them.
    fn check_pieces(text: &str, max: usize) -> Vec<String> {
        let pieces = cut_pieces(text, max);
        let chars: Vec<char> = text.chars().collect();
        let mut prev = 0;
        for (bytes, cps) in &pieces {
            let piece = &text[bytes.clone()];
            assert!(!piece.is_empty() && piece.trim() == piece, "{piece:?}");
            assert!(cps.len() <= max, "{} > {max}", cps.len());
            assert_eq!(chars[cps.clone()].iter().collect::<String>(), piece);
            assert!(text[prev..bytes.start].chars().all(char::is_whitespace));
            prev = bytes.end;
        }
        assert!(text[prev..].chars().all(char::is_whitespace));
        pieces
            .into_iter()
            .map(|(b, _)| text[b].to_string())
            .collect()
    }

    #[test]
    fn long_sentences_are_cut_at_whitespace_into_pieces_within_the_bound() {
        assert_eq!(check_pieces("short one", 20), ["short one"]);
        assert_eq!(check_pieces("aaa bbb ccc ddd", 8), ["aaa bbb", "ccc ddd"]);
        // A piece ends at the last whitespace within the bound; runs of
        // whitespace between pieces belong to none.
        assert_eq!(
            check_pieces("U.S.  U.S.  U.S.  U.S.", 10),
            ["U.S.  U.S.", "U.S.  U.S."]
        );
        // No whitespace within the bound: cut there, nothing dropped.
        assert_eq!(
            check_pieces("abcdefghij klm", 4),
            ["abcd", "efgh", "ij", "klm"]
        );
        // Multi-byte characters: the bound counts code points.
        assert_eq!(check_pieces("éééé ààà ççç", 5), ["éééé", "ààà", "ççç"]);
        for text in [
            "a ".repeat(100),
            "« talks » ".repeat(50),
            "x".repeat(95),
            "mot\u{a0}".repeat(40),
        ] {
            check_pieces(text.trim(), 7);
        }
    }

    #[test]
    fn split_article_cuts_only_long_sentences_and_says_so() {
        let long = "U.S. ".repeat(500); // 2,500 code points, no boundary
        let text = format!("Short first. {}\nLast line.", long.trim());
        let article = Article {
            id: "a".into(),
            text: text.clone(),
            meta: Metadata::default(),
            origin: Origin {
                path: "a.txt".into(),
                line: None,
            },
        };
        let records = split_article(&RuleSegmenter::default(), &article);
        let chars: Vec<char> = text.chars().collect();
        assert_eq!(records.first().unwrap().text, "Short first.");
        assert_eq!(records.last().unwrap().text, "Last line.");
        assert!(!records[0].cut && !records.last().unwrap().cut);
        let pieces = &records[1..records.len() - 1];
        assert_eq!(pieces.len(), 3);
        for (k, r) in records.iter().enumerate() {
            assert_eq!(r.idx, k);
            assert_eq!(chars[r.start..r.end].iter().collect::<String>(), r.text);
        }
        for p in pieces {
            assert!(p.cut && p.end - p.start <= MAX_SENTENCE_CHARS);
        }
        // The pieces cover the long sentence: only spaces between them.
        let covered: usize = pieces.iter().map(|p| p.end - p.start).sum();
        assert_eq!(covered + pieces.len() - 1, long.trim().chars().count());
        let json = serde_json::to_string(&pieces[0]).unwrap();
        assert!(json.contains("\"cut\":true"), "{json}");
        assert!(!serde_json::to_string(&records[0]).unwrap().contains("cut"));
    }
}
