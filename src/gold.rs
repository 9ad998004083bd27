//! Gold sets: hand-labelled sentences in the annotation standard's record format.
//!
//! The loader is strict, because the gold set is the yardstick for every
//! figure the project reports: it refuses a record whose text is not the exact
//! span of its article, whose values are not in the standard, or whose
//! stance, `mixed` flag and claims contradict each other (labels/GUIDELINES.md
//! §1.3). Every refusal names the file and line.

use crate::corpus::{Article, ArticleReader};
use crate::stance::{Claim, Stance};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// One gold record (one sentence).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoldRecord {
    pub doc: String,
    /// Code-point span into the raw article, end exclusive.
    pub start: usize,
    pub end: usize,
    pub text: String,
    pub stance: Stance,
    #[serde(default)]
    pub mixed: bool,
    #[serde(default)]
    pub claims: Vec<Claim>,
    #[serde(default)]
    pub note: String,
}

/// A gold set: records sorted by document and span.
#[derive(Debug, Clone, Default)]
pub struct GoldSet {
    pub records: Vec<GoldRecord>,
}

/// A record the loader refused, or a file it could not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoldError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for GoldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.path.display(), line, self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for GoldError {}

/// Article texts by document id, for checking spans.
pub type Texts = HashMap<String, String>;

/// Reads the articles under `paths` into a map from id to raw text.
pub fn article_texts(paths: &[PathBuf]) -> anyhow::Result<Texts> {
    let mut texts = Texts::new();
    for article in ArticleReader::new(paths) {
        let Article { id, text, .. } = article?;
        texts.insert(id, text);
    }
    Ok(texts)
}

/// Checks one record against the standard and its article; the message says
/// what is wrong.
pub fn check_record(record: &GoldRecord, texts: &Texts) -> Result<(), String> {
    let Some(article) = texts.get(&record.doc) else {
        return Err(format!("unknown document {:?}", record.doc));
    };
    if record.start >= record.end {
        return Err(format!(
            "empty or reversed span {}..{}",
            record.start, record.end
        ));
    }
    let span: String = article
        .chars()
        .skip(record.start)
        .take(record.end - record.start)
        .collect();
    if span.chars().count() != record.end - record.start {
        return Err(format!(
            "span {}..{} runs past the end of {:?} ({} code points)",
            record.start,
            record.end,
            record.doc,
            article.chars().count()
        ));
    }
    if span != record.text {
        return Err(format!(
            "text is not the span {}..{} of {:?}: the article has {:?}",
            record.start, record.end, record.doc, span
        ));
    }
    check_claims(record)
}

/// The consistency rules between stance, `mixed` and claims.
fn check_claims(r: &GoldRecord) -> Result<(), String> {
    if let Some(c) = r.claims.iter().find(|c| c.stance == Stance::Neutral) {
        return Err(format!(
            "claim of {} is neutral: a claim is pro or anti",
            c.holder
        ));
    }
    for (i, c) in r.claims.iter().enumerate() {
        if r.claims[..i].contains(c) {
            return Err(format!(
                "claim {}/{}/{} is listed twice",
                c.holder, c.stance, c.target
            ));
        }
    }
    let has = |s: Stance| r.claims.iter().any(|c| c.stance == s);
    if r.mixed {
        if r.stance != Stance::Neutral || !has(Stance::Pro) || !has(Stance::Anti) {
            return Err(
                "mixed is true: stance must be neutral with both a pro and an anti claim".into(),
            );
        }
    } else if r.stance != Stance::Neutral && !has(r.stance) {
        return Err(format!(
            "stance is {} but no claim has that stance",
            r.stance
        ));
    } else if r.stance == Stance::Neutral && !r.claims.is_empty() {
        return Err("a neutral, non-mixed sentence has no claims".into());
    }
    Ok(())
}

impl GoldSet {
    /// Loads and checks a gold file against the article texts. All refusals
    /// are collected, so one run shows every bad record.
    pub fn load(path: &Path, texts: &Texts) -> Result<GoldSet, Vec<GoldError>> {
        let file = std::fs::File::open(path).map_err(|e| {
            vec![GoldError {
                path: path.to_path_buf(),
                line: None,
                message: format!("cannot open gold file: {e}"),
            }]
        })?;
        Self::read(path, std::io::BufReader::new(file), texts)
    }

    /// [`GoldSet::load`] from any reader; `path` names it in errors.
    pub fn read(
        path: &Path,
        reader: impl BufRead,
        texts: &Texts,
    ) -> Result<GoldSet, Vec<GoldError>> {
        let err = |line: Option<usize>, message: String| GoldError {
            path: path.to_path_buf(),
            line,
            message,
        };
        let mut records = Vec::new();
        let mut errors = Vec::new();
        for (i, line) in reader.lines().enumerate() {
            let line_no = Some(i + 1);
            let line = match line {
                Ok(line) => line,
                // Invalid UTF-8 spoils one line; any other read error (the
                // path is a directory, the disk fails) would repeat forever.
                Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                    errors.push(err(line_no, format!("cannot read: {e}")));
                    continue;
                }
                Err(e) => {
                    errors.push(err(line_no, format!("cannot read: {e}")));
                    break;
                }
            };
            if line.trim().is_empty() {
                continue;
            }
            let record: GoldRecord = match serde_json::from_str(&line) {
                Ok(r) => r,
                Err(e) => {
                    errors.push(err(line_no, format!("not a gold record: {e}")));
                    continue;
                }
            };
            match check_record(&record, texts) {
                Ok(()) => records.push((line_no, record)),
                Err(m) => errors.push(err(line_no, m)),
            }
        }
        records.sort_by(|(_, a), (_, b)| (&a.doc, a.start).cmp(&(&b.doc, b.start)));
        for pair in records.windows(2) {
            let ((_, a), (line, b)) = (&pair[0], &pair[1]);
            if a.doc == b.doc && b.start < a.end {
                errors.push(err(
                    *line,
                    format!(
                        "span {}..{} overlaps {}..{} in {:?}",
                        b.start, b.end, a.start, a.end, a.doc
                    ),
                ));
            }
        }
        if !errors.is_empty() {
            errors.sort_by_key(|e| e.line);
            return Err(errors);
        }
        Ok(GoldSet {
            records: records.into_iter().map(|(_, r)| r).collect(),
        })
    }

    /// The document ids, sorted.
    pub fn docs(&self) -> Vec<&str> {
        let mut docs: Vec<&str> = self.records.iter().map(|r| r.doc.as_str()).collect();
        docs.dedup();
        docs
    }

    /// Records grouped by document, in span order.
    pub fn by_doc(&self) -> BTreeMap<&str, Vec<&GoldRecord>> {
        let mut map: BTreeMap<&str, Vec<&GoldRecord>> = BTreeMap::new();
        for r in &self.records {
            map.entry(r.doc.as_str()).or_default().push(r);
        }
        map
    }
}
