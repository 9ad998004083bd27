//! `--resume`: carry on an output file that an interrupted run left behind.
//!
//! `stance score` writes one JSONL record per sentence, article after
//! article, in input order. A run killed at any moment (even `kill -9`, even
//! mid-write) leaves a file that is a prefix of the uninterrupted output:
//! the records of some articles, then perhaps part of the next article's
//! records, then perhaps a line cut off. Every article but the last one in
//! the file is complete, since the next article's records only start once
//! an article's are all written. So resuming drops the cut line and the
//! last article's records (it may have lost some; it is scored again),
//! skips the input up to and including the last article kept, and appends
//! the rest. The file then ends exactly as an uninterrupted run's would.
//!
//! Nothing marks the records, so the output stays the plain format;
//! the input, options and shard must be those of the interrupted run (the
//! last kept article must be in the input, or resuming is refused).

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// What an output file already holds: where to cut it and where to carry on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResumePoint {
    /// Bytes to keep: the records of the complete articles.
    pub keep: u64,
    /// The last complete article: the input is skipped through it.
    pub last_complete: Option<String>,
    /// Complete articles in the file.
    pub complete_articles: usize,
    /// Bytes after `keep` that are dropped (the last article's records and
    /// a cut-off line).
    pub dropped: u64,
}

/// The one field of a record that resuming reads.
#[derive(Deserialize)]
struct RecordDoc {
    doc: String,
}

impl ResumePoint {
    /// Reads the output file at `path` (a missing file is an empty point: a
    /// run with `--resume` may also be the first). A line that is not a
    /// `stance score` record is refused with its line number: this is not
    /// an output to append to.
    pub fn scan(path: &Path) -> Result<Self> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(e).with_context(|| format!("cannot resume {}", path.display())),
        };
        let mut lines = BufReader::new(file);
        let mut point = ResumePoint::default();
        // The article whose records are being read, and where they start.
        let mut current: Option<(String, u64)> = None;
        let (mut offset, mut line_no) = (0u64, 0usize);
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = lines
                .read_until(b'\n', &mut line)
                .with_context(|| format!("cannot resume {}", path.display()))?;
            if n == 0 || !line.ends_with(b"\n") {
                // The end, or a line cut off by the interruption.
                point.dropped += n as u64;
                break;
            }
            line_no += 1;
            let record: RecordDoc = serde_json::from_slice(&line).with_context(|| {
                format!(
                    "cannot resume {}:{line_no}: not a `stance score` JSONL record",
                    path.display()
                )
            })?;
            match &current {
                Some((doc, _)) if *doc == record.doc => {}
                _ => {
                    if let Some((doc, _)) = current.take() {
                        point.last_complete = Some(doc);
                        point.complete_articles += 1;
                    }
                    current = Some((record.doc, offset));
                }
            }
            offset += n as u64;
        }
        // The last article in the file may have lost records: score it again.
        point.keep = current.map_or(offset, |(_, start)| start);
        point.dropped += offset - point.keep;
        Ok(point)
    }
}

/// An output file carried on in place: cut to [`ResumePoint::keep`] before
/// the first new byte, then appended to, window by window.
pub struct ResumedFile {
    path: PathBuf,
    file: BufWriter<File>,
    /// Where to cut the file; `None` once it is cut.
    cut_at: Option<u64>,
}

impl ResumedFile {
    /// Opens (or creates) `path` for resuming at `point`; nothing is changed
    /// before the first write or [`ResumedFile::commit`], so a run refused
    /// before scoring leaves the file as it was.
    pub fn open(path: &Path, point: &ResumePoint) -> Result<Self> {
        if path.is_dir() {
            bail!("cannot write {}: it is a directory", path.display());
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(ResumedFile {
            path: path.to_path_buf(),
            file: BufWriter::new(file),
            cut_at: Some(point.keep),
        })
    }

    fn cut(&mut self) -> std::io::Result<()> {
        if let Some(keep) = self.cut_at.take() {
            let file = self.file.get_mut();
            file.set_len(keep)?;
            file.seek(SeekFrom::Start(keep))?;
        }
        Ok(())
    }

    /// Cuts the file if nothing was written, flushes and syncs it.
    pub fn commit(mut self) -> Result<()> {
        self.cut()
            .and_then(|()| self.file.flush())
            .and_then(|()| self.file.get_ref().sync_all())
            .with_context(|| format!("cannot write {}", self.path.display()))
    }
}

impl Write for ResumedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.cut()?;
        self.file.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(doc: &str, idx: usize) -> String {
        format!("{{\"doc\":\"{doc}\",\"idx\":{idx},\"text\":\"s\"}}\n")
    }

    #[test]
    fn the_last_article_and_a_cut_line_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let complete = [record("a", 0), record("a", 1), record("b", 0)].concat();
        let last = [record("c", 0), record("c", 1)].concat();
        let cut = &record("c", 2)[..7];
        std::fs::write(&path, format!("{complete}{last}{cut}")).unwrap();
        let point = ResumePoint::scan(&path).unwrap();
        assert_eq!(
            point,
            ResumePoint {
                keep: complete.len() as u64,
                last_complete: Some("b".into()),
                complete_articles: 2,
                dropped: (last.len() + cut.len()) as u64,
            }
        );

        let mut out = ResumedFile::open(&path, &point).unwrap();
        out.write_all(record("c", 0).as_bytes()).unwrap();
        out.commit().unwrap();
        let resumed = std::fs::read_to_string(&path).unwrap();
        assert_eq!(resumed, format!("{complete}{}", record("c", 0)));
    }

    #[test]
    fn a_missing_empty_or_one_article_file_starts_from_the_beginning() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        assert_eq!(ResumePoint::scan(&path).unwrap(), ResumePoint::default());
        std::fs::write(&path, record("a", 0) + "{\"do").unwrap();
        let point = ResumePoint::scan(&path).unwrap();
        assert_eq!((point.keep, point.last_complete.as_deref()), (0, None));
        // Nothing written: the commit still cuts the file.
        ResumedFile::open(&path, &point).unwrap().commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"");
    }

    #[test]
    fn a_file_that_is_not_score_output_is_refused_with_its_line_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.jsonl");
        let text = record("a", 0) + "{\"accuracy\": 0.5}\n";
        std::fs::write(&path, &text).unwrap();
        let err = format!("{:#}", ResumePoint::scan(&path).unwrap_err());
        assert!(err.contains("report.jsonl:2"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }
}
