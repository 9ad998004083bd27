//! Classifiers learnt from labelled sentences.

use super::{Classifier, Majority};
use crate::stance::Stance;
use anyhow::Result;
use ndarray::ArrayView2;

/// Labelled sentences to learn from.
#[derive(Debug, Clone, Copy)]
pub struct Examples<'a> {
    pub texts: &'a [&'a str],
    /// One row per text; zero columns when the trainer needs no embeddings.
    pub embeddings: ArrayView2<'a, f32>,
    pub labels: &'a [Stance],
    /// The embedding of each example's preceding sentence (zero row when
    /// there is none), as in [`super::Batch::previous`].
    pub previous: Option<ArrayView2<'a, f32>>,
    /// Which document each example comes from, when known: trainers that
    /// tune themselves hold out whole documents, as the evaluation does.
    pub groups: Option<&'a [&'a str]>,
}

/// Something that learns a classifier from examples.
pub trait Trainer: Send + Sync {
    fn name(&self) -> &str;
    /// The encoder whose vectors training and prediction need; `None` when
    /// the classifier reads only labels or text.
    fn encoder(&self) -> Option<&str>;
    fn train(&self, examples: Examples<'_>) -> Result<Box<dyn Classifier>>;
}

/// Trains the majority floor.
#[derive(Debug, Default, Clone, Copy)]
pub struct MajorityTrainer;

impl Trainer for MajorityTrainer {
    fn name(&self) -> &str {
        "majority"
    }

    fn encoder(&self) -> Option<&str> {
        None
    }

    fn train(&self, examples: Examples<'_>) -> Result<Box<dyn Classifier>> {
        Ok(Box::new(Majority::fit(examples.labels)))
    }
}

/// A labelled sentence to learn from, from a gold set or a training file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledSentence {
    pub text: String,
    pub stance: Stance,
    /// The sentence before it in its article, when known: the previous
    /// record of the same document in a gold file, or a training record's
    /// `previous` field.
    pub previous: Option<String>,
    /// The document (gold records) or file (synthetic sets) it belongs to;
    /// cross-validation holds a group out whole.
    pub group: String,
}

/// The fields training needs from a record of either kind: gold records
/// (`doc`, `text`, `stance`, ...) or training-set records (`id`, `text`,
/// `stance`, `synthetic`, ...). Other fields are ignored here; the gold
/// loader checks gold files strictly.
#[derive(Debug, serde::Deserialize)]
struct TrainingRecord {
    text: String,
    stance: Stance,
    #[serde(default)]
    doc: Option<String>,
    #[serde(default)]
    previous: Option<String>,
}

/// Reads labelled sentences from JSONL files (or every `.jsonl` file of a
/// directory, sorted). A gold record's group is its document; a training
/// record's group is its file stem. A bad line is an error naming it.
pub fn read_labelled(paths: &[std::path::PathBuf]) -> Result<Vec<LabelledSentence>> {
    use anyhow::Context;
    use std::io::BufRead;
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut inside: Vec<_> = std::fs::read_dir(path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
                .collect();
            inside.sort();
            files.extend(inside);
        } else {
            files.push(path.clone());
        }
    }
    let mut out: Vec<LabelledSentence> = Vec::new();
    for file in files {
        let stem = crate::corpus::file_id(&file);
        let reader = std::io::BufReader::new(
            std::fs::File::open(&file)
                .with_context(|| format!("cannot open {}", file.display()))?,
        );
        for (i, line) in reader.lines().enumerate() {
            let line =
                line.with_context(|| format!("{}:{}: cannot read", file.display(), i + 1))?;
            if line.trim().is_empty() {
                continue;
            }
            let record: TrainingRecord = serde_json::from_str(&line).with_context(|| {
                format!("{}:{}: not a labelled sentence", file.display(), i + 1)
            })?;
            let group = record.doc.clone().unwrap_or_else(|| stem.clone());
            // Gold files list a document's sentences in order: the previous
            // record of the same document is the previous sentence.
            let previous = record.previous.or_else(|| match (&record.doc, out.last()) {
                (Some(doc), Some(last)) if last.group == *doc => Some(last.text.clone()),
                _ => None,
            });
            out.push(LabelledSentence {
                text: record.text,
                stance: record.stance,
                previous,
                group,
            });
        }
    }
    Ok(out)
}

/// Embeddings of labelled sentences and of their previous sentences (a zero
/// row where there is none), for trainers that read context. Each distinct
/// text is encoded once: a sentence is usually also the next one's context.
pub fn embed_labelled(
    encoder: &dyn crate::embed::Encoder,
    data: &[LabelledSentence],
) -> Result<(ndarray::Array2<f32>, ndarray::Array2<f32>)> {
    let mut row_of: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut distinct: Vec<&str> = Vec::new();
    let mut rows = Vec::with_capacity(data.len());
    let mut previous_rows = Vec::with_capacity(data.len());
    for d in data {
        for (text, out) in [
            (Some(d.text.as_str()), &mut rows),
            (d.previous.as_deref(), &mut previous_rows),
        ] {
            out.push(text.map(|text| {
                *row_of.entry(text).or_insert_with(|| {
                    distinct.push(text);
                    distinct.len() - 1
                })
            }));
        }
    }
    let rows: Vec<usize> = rows.into_iter().flatten().collect();
    let encoded = encoder.encode(&distinct)?;
    let embeddings = encoded.select(ndarray::Axis(0), &rows);
    let mut previous = ndarray::Array2::zeros(embeddings.raw_dim());
    for (i, r) in previous_rows.iter().enumerate() {
        if let Some(r) = r {
            previous.row_mut(i).assign(&encoded.row(*r));
        }
    }
    Ok((embeddings, previous))
}

impl LabelledSentence {
    /// The gold records as labelled sentences, each with the previous
    /// record of its document as context.
    pub fn from_gold(gold: &crate::gold::GoldSet) -> Vec<LabelledSentence> {
        let mut out: Vec<LabelledSentence> = Vec::with_capacity(gold.records.len());
        for r in &gold.records {
            let previous = match out.last() {
                Some(last) if last.group == r.doc => Some(last.text.clone()),
                _ => None,
            };
            out.push(LabelledSentence {
                text: r.text.clone(),
                stance: r.stance,
                previous,
                group: r.doc.clone(),
            });
        }
        out
    }
}
