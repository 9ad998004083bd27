//! Annotation: analysts label the sentences of their own articles in the
//! gold format, starting from the model's suggestions (`stance annotate`).
//!
//! The labels file is the only state. Every decision is merged into it at
//! once, under an exclusive lock, and written atomically, so a killed server
//! or a closed tab loses nothing, two pages (or two servers) writing the same
//! file never lose each other's decisions, and reopening the file carries on
//! where it stopped. A file that does not match the articles (made on another
//! version of one) is refused with file and line before anything is written.

pub mod server;

use crate::corpus::Article;
use crate::gold::{check_record, GoldError, GoldRecord, GoldSet, Texts};
use crate::infra::atomic;
use crate::pipeline::ScoredSentence;
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::fs::File;
use std::path::{Path, PathBuf};

/// The order in which sentences are offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Order {
    /// Article by article, in reading order.
    Document,
    /// Across the articles, the sentences the model is least sure of first
    /// (smallest gap between its two most probable labels), so an hour of
    /// labelling teaches a head the most; page furniture last.
    Uncertainty,
}

/// An article as the page lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ArticleInfo {
    pub id: String,
    pub title: Option<String>,
    /// Sentences of the article in the queue.
    pub sentences: usize,
}

/// The articles, their sentences with the model's suggestions in the order
/// they are offered, and the labels file the decisions go to.
pub struct Session {
    pub labels: LabelsFile,
    pub articles: Vec<ArticleInfo>,
    pub queue: Vec<ScoredSentence>,
    pub order: Order,
    /// What made the suggestions (the classifier's name).
    pub suggested_by: String,
}

impl Session {
    /// Builds the queue from scored articles (one list per article, in input
    /// order) and opens the labels file at `out`, refusing it when it does not
    /// match the articles.
    pub fn new(
        articles: &[Article],
        scored: Vec<Vec<ScoredSentence>>,
        order: Order,
        out: &Path,
        suggested_by: &str,
    ) -> Result<Self> {
        let texts: Texts = articles
            .iter()
            .map(|a| (a.id.clone(), a.text.clone()))
            .collect();
        let labels = LabelsFile::open(out, texts)?;
        let infos = articles
            .iter()
            .zip(&scored)
            .map(|(a, s)| ArticleInfo {
                id: a.id.clone(),
                title: a.meta.title.clone(),
                sentences: s.len(),
            })
            .collect();
        // Each sentence with its place in its article and the article's.
        let mut tagged: Vec<(usize, usize, ScoredSentence)> = scored
            .into_iter()
            .enumerate()
            .flat_map(|(article, list)| {
                list.into_iter()
                    .enumerate()
                    .map(move |(rank, s)| (rank, article, s))
            })
            .collect();
        if order == Order::Uncertainty {
            // Equal margins (a keyword scorer gives every content sentence
            // the same) take the articles in turn, the first sentence of
            // each, then the second, so the queue runs across the articles
            // rather than through the first one; and it is the same from run
            // to run.
            tagged.sort_by(|(rank_a, art_a, a), (rank_b, art_b, b)| {
                (a.sentence.boilerplate.cmp(&b.sentence.boilerplate))
                    .then(margin(a).total_cmp(&margin(b)))
                    .then((rank_a, art_a).cmp(&(rank_b, art_b)))
            });
        }
        let queue: Vec<ScoredSentence> = tagged.into_iter().map(|(_, _, s)| s).collect();
        Ok(Session {
            labels,
            articles: infos,
            queue,
            order,
            suggested_by: suggested_by.to_string(),
        })
    }
}

/// The gap between the two most probable labels: small when the model hesitates.
pub fn margin(s: &ScoredSentence) -> f32 {
    let mut p = s.scores.0;
    p.sort_by(|a, b| b.total_cmp(a));
    p[0] - p[1]
}

/// A labels file in the gold format, checked against the article texts.
pub struct LabelsFile {
    pub path: PathBuf,
    texts: Texts,
}

impl LabelsFile {
    /// Opens `path` (absent is fine: it is created by the first decision).
    /// A file that exists is loaded strictly: a record whose span is not the
    /// text of its article, names an article not given, or breaks the
    /// standard is refused with file and line, and the file is left as it is.
    pub fn open(path: &Path, texts: Texts) -> Result<Self> {
        // Fails at once, naming the path, when it could never be written.
        atomic::AtomicFile::create(path)?;
        let file = LabelsFile {
            path: path.to_path_buf(),
            texts,
        };
        file.load()?;
        Ok(file)
    }

    /// The decisions saved so far (another page's included), sorted by
    /// document and span.
    pub fn load(&self) -> Result<Vec<GoldRecord>> {
        if !self.path.exists() {
            return Ok(Vec::new());
        }
        GoldSet::load(&self.path, &self.texts)
            .map(|set| set.records)
            .map_err(|errors| refused(&self.path, &errors))
    }

    /// Checks one decision against its article and the standard, then merges
    /// it into the file (replacing an earlier decision on the same span) under
    /// an exclusive lock, and writes the file atomically. Returns every
    /// decision now in the file.
    pub fn save(&self, record: GoldRecord) -> Result<Vec<GoldRecord>> {
        check_record(&record, &self.texts).map_err(|m| {
            anyhow::anyhow!(
                "{} {}..{}: {m}; nothing was saved",
                record.doc,
                record.start,
                record.end
            )
        })?;
        let _lock = self.lock()?;
        let mut records = self.load()?;
        records
            .retain(|r| !(r.doc == record.doc && r.start == record.start && r.end == record.end));
        if let Some(other) = records
            .iter()
            .find(|r| r.doc == record.doc && r.start < record.end && record.start < r.end)
        {
            bail!(
                "{} {}..{} overlaps the saved decision on {}..{}; nothing was saved",
                record.doc,
                record.start,
                record.end,
                other.start,
                other.end
            );
        }
        let at = records.partition_point(|r| (&r.doc, r.start) < (&record.doc, record.start));
        records.insert(at, record);
        let mut bytes = Vec::new();
        for r in &records {
            serde_json::to_writer(&mut bytes, r)?;
            bytes.push(b'\n');
        }
        atomic::write(&self.path, &bytes)?;
        Ok(records)
    }

    /// An exclusive lock on `.FILE.lock` beside the file, held until dropped:
    /// read, merge and rename happen as one step for every writer, in this
    /// process or another.
    fn lock(&self) -> Result<File> {
        let name = self
            .path
            .file_name()
            .context("the labels file has no file name")?
            .to_string_lossy();
        let lock_path = self.path.with_file_name(format!(".{name}.lock"));
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("cannot open {}", lock_path.display()))?;
        lock.lock()
            .with_context(|| format!("cannot lock {}", lock_path.display()))?;
        Ok(lock)
    }
}

/// One error for a refused labels file: every bad line, then what it means.
fn refused(path: &Path, errors: &[GoldError]) -> anyhow::Error {
    let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    anyhow::anyhow!(
        "{}\n{} record(s) of {} do not match these articles (was it made on another version \
         of them?); the file was left untouched",
        lines.join("\n"),
        errors.len(),
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stance::{Claim, Holder, Stance, Target};

    fn texts() -> Texts {
        [("a".to_string(), "Talks now. No talks ever.".to_string())]
            .into_iter()
            .collect()
    }

    fn record(start: usize, end: usize, text: &str, stance: Stance) -> GoldRecord {
        let claims = match stance {
            Stance::Neutral => vec![],
            _ => vec![Claim {
                holder: Holder::Mali,
                stance,
                target: Target::Jihadists,
            }],
        };
        GoldRecord {
            doc: "a".into(),
            start,
            end,
            text: text.into(),
            stance,
            mixed: false,
            claims,
            note: String::new(),
        }
    }

    #[test]
    fn decisions_merge_in_span_order_and_a_later_one_replaces_an_earlier() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels.jsonl");
        let file = LabelsFile::open(&path, texts()).unwrap();
        assert!(!path.exists());
        file.save(record(11, 25, "No talks ever.", Stance::Anti))
            .unwrap();
        file.save(record(0, 10, "Talks now.", Stance::Neutral))
            .unwrap();
        let saved = file.save(record(0, 10, "Talks now.", Stance::Pro)).unwrap();
        assert_eq!(saved.len(), 2);
        assert_eq!(saved[0].stance, Stance::Pro);
        assert_eq!(saved[1].start, 11);
        let reopened = LabelsFile::open(&path, texts()).unwrap().load().unwrap();
        assert_eq!(reopened, saved);
    }

    #[test]
    fn a_bad_decision_is_refused_and_the_file_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels.jsonl");
        let file = LabelsFile::open(&path, texts()).unwrap();
        file.save(record(0, 10, "Talks now.", Stance::Pro)).unwrap();
        let before = std::fs::read(&path).unwrap();
        // Wrong text for the span, a claimless stance, an overlapping span.
        let err = file
            .save(record(11, 25, "No talks at all", Stance::Anti))
            .unwrap_err();
        assert!(err.to_string().contains("text is not the span"), "{err}");
        let mut claimless = record(11, 25, "No talks ever.", Stance::Anti);
        claimless.claims.clear();
        assert!(file.save(claimless).is_err());
        let err = file
            .save(record(6, 15, "now. No t", Stance::Neutral))
            .unwrap_err();
        assert!(err.to_string().contains("overlaps"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }
}
