//! Stage 1: articles in.
//!
//! Reads `.txt` files (the document id is the file stem), directories
//! (recursively, in sorted order, so the output order never depends on the
//! file system), JSONL files of articles and JSONL on stdin (`-`). Each input
//! that cannot be read becomes an [`InputError`] naming its file and line;
//! the readers carry on with the next article, so one bad article never stops
//! a batch.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Optional facts about an article, from a JSONL record or a `metadata.csv`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outlet: Option<String>,
    /// ISO 8601, possibly partial (`2020`, `2020-04`, `2020-04-10`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

impl Metadata {
    /// The year of `date`, when it starts with four digits.
    pub fn year(&self) -> Option<i32> {
        let date = self.date.as_deref()?;
        let year = date.get(..4)?;
        year.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| year.parse().ok())
            .flatten()
    }
}

/// Where an article came from: a file, and a line for JSONL records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file, or `-` for stdin.
    pub path: PathBuf,
    /// 1-based line of a JSONL record; `None` for a whole file.
    pub line: Option<usize>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}", self.path.display(), line),
            None => write!(f, "{}", self.path.display()),
        }
    }
}

/// One article: its id, raw text and metadata. Spans everywhere downstream
/// are code-point offsets into `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    pub id: String,
    pub text: String,
    pub meta: Metadata,
    pub origin: Origin,
}

/// An input that could not be turned into an article.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct InputError {
    pub origin: Origin,
    pub message: String,
}

impl InputError {
    fn new(path: &Path, line: Option<usize>, message: impl Into<String>) -> Self {
        InputError {
            origin: Origin {
                path: path.to_path_buf(),
                line,
            },
            message: message.into(),
        }
    }
}

/// The file name that holds metadata for the `.txt` articles beside it.
pub const METADATA_FILE: &str = "metadata.csv";

/// A JSONL article record, as the command-line contract defines it.
#[derive(Debug, Deserialize)]
struct JsonArticle {
    id: serde_json::Value,
    text: Option<serde_json::Value>,
    #[serde(flatten)]
    meta: Metadata,
}

/// A lazy stream of articles from a list of paths (`-` is stdin).
///
/// Articles come out in input order: paths in the order given, directory
/// entries sorted by path, JSONL records in line order. Nothing is read
/// before it is asked for, so memory stays bounded on large inputs.
pub struct ArticleReader {
    pending: std::collections::VecDeque<PathBuf>,
    /// Open sources, innermost last: a JSONL file met inside a directory is
    /// read in place before the directory's next file.
    stack: Vec<Source>,
    metadata: MetadataCache,
}

enum Source {
    Jsonl {
        path: PathBuf,
        lines: Box<dyn BufRead + Send>,
        line_no: usize,
    },
    Files(std::vec::IntoIter<Result<PathBuf, InputError>>),
}

#[derive(Default)]
struct MetadataCache {
    by_dir: HashMap<PathBuf, HashMap<String, Metadata>>,
}

impl MetadataCache {
    /// Metadata for `id` from the `metadata.csv` in `dir`, read once per
    /// directory. A bad metadata file is reported once; its articles are
    /// still read, without metadata.
    fn lookup(&mut self, dir: &Path, id: &str) -> (Metadata, Option<InputError>) {
        let mut error = None;
        let table = self.by_dir.entry(dir.to_path_buf()).or_insert_with(|| {
            read_metadata(&dir.join(METADATA_FILE)).unwrap_or_else(|e| {
                error = Some(e);
                HashMap::new()
            })
        });
        (table.get(id).cloned().unwrap_or_default(), error)
    }
}

/// Reads a `metadata.csv` (`id,title,outlet,date,language,...`); a missing
/// file is an empty table, extra columns are ignored.
pub fn read_metadata(path: &Path) -> Result<HashMap<String, Metadata>, InputError> {
    let mut table = HashMap::new();
    if !path.exists() {
        return Ok(table);
    }
    let mut reader = csv::Reader::from_path(path)
        .map_err(|e| InputError::new(path, None, format!("cannot read metadata: {e}")))?;
    #[derive(Deserialize)]
    struct Row {
        id: String,
        #[serde(flatten)]
        meta: Metadata,
    }
    for (i, row) in reader.deserialize::<Row>().enumerate() {
        // Line 1 is the header.
        let row =
            row.map_err(|e| InputError::new(path, Some(i + 2), format!("bad metadata row: {e}")))?;
        let meta = Metadata {
            title: row.meta.title.filter(|s| !s.is_empty()),
            outlet: row.meta.outlet.filter(|s| !s.is_empty()),
            date: row.meta.date.filter(|s| !s.is_empty()),
            language: row.meta.language.filter(|s| !s.is_empty()),
        };
        table.insert(row.id, meta);
    }
    Ok(table)
}

impl ArticleReader {
    pub fn new(paths: &[PathBuf]) -> Self {
        ArticleReader {
            pending: paths.iter().cloned().collect(),
            stack: Vec::new(),
            metadata: MetadataCache::default(),
        }
    }

    fn open(path: PathBuf) -> Result<Source, InputError> {
        if path.as_os_str() == "-" {
            return Ok(Source::Jsonl {
                path,
                lines: Box::new(BufReader::new(io::stdin())),
                line_no: 0,
            });
        }
        let meta = std::fs::metadata(&path)
            .map_err(|e| InputError::new(&path, None, format!("cannot read: {e}")))?;
        if meta.is_dir() {
            return Ok(Source::Files(list_dir(&path).into_iter()));
        }
        if is_jsonl(&path) {
            let file = File::open(&path)
                .map_err(|e| InputError::new(&path, None, format!("cannot open: {e}")))?;
            return Ok(Source::Jsonl {
                path,
                lines: Box::new(BufReader::new(file)),
                line_no: 0,
            });
        }
        Ok(Source::Files(vec![Ok(path)].into_iter()))
    }

    /// The next record of a JSONL source; `None` at its end.
    fn next_record(
        path: &Path,
        lines: &mut dyn BufRead,
        line_no: &mut usize,
    ) -> Option<Result<Article, InputError>> {
        loop {
            let mut buf = Vec::new();
            *line_no += 1;
            let n = *line_no;
            match lines.read_until(b'\n', &mut buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => {
                    return Some(Err(InputError::new(
                        path,
                        Some(n),
                        format!("read error: {e}"),
                    )))
                }
            }
            let Ok(line) = String::from_utf8(buf) else {
                return Some(Err(InputError::new(
                    path,
                    Some(n),
                    "invalid UTF-8: the record is skipped",
                )));
            };
            if !line.trim().is_empty() {
                return Some(parse_jsonl_line(path, n, line.trim_end()));
            }
        }
    }
}

fn is_jsonl(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("jsonl") | Some("ndjson")
    )
}

fn is_txt(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()) == Some("txt")
}

/// The article files below `dir`, sorted by path. Other files (including
/// `metadata.csv`) are not articles and are passed over.
fn list_dir(dir: &Path) -> Vec<Result<PathBuf, InputError>> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        match entry {
            Ok(entry) => {
                let path = entry.path();
                if entry.file_type().is_file() && (is_txt(path) || is_jsonl(path)) {
                    out.push(Ok(path.to_path_buf()));
                }
            }
            Err(e) => {
                let path = e.path().unwrap_or(dir).to_path_buf();
                out.push(Err(InputError::new(
                    &path,
                    None,
                    format!("cannot read: {e}"),
                )));
            }
        }
    }
    out
}

/// Reads one `.txt` article; the id is the file stem.
pub fn read_txt(path: &Path, meta: Metadata) -> Result<Article, InputError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| InputError::new(path, None, format!("cannot read: {e}")))?;
    let text = decode(path, None, bytes)?;
    Ok(Article {
        id: file_id(path),
        text,
        meta,
        origin: Origin {
            path: path.to_path_buf(),
            line: None,
        },
    })
}

/// UTF-8 text of an article, or an error that says where the bad byte is.
fn decode(path: &Path, line: Option<usize>, bytes: Vec<u8>) -> Result<String, InputError> {
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let bad_line = line.unwrap_or(1) + bytes[..at].iter().filter(|&&b| b == b'\n').count();
        InputError::new(
            path,
            Some(bad_line),
            format!("invalid UTF-8 at byte {at}: the article is skipped"),
        )
    })?;
    check_not_empty(path, line, &text)?;
    Ok(text)
}

fn check_not_empty(path: &Path, line: Option<usize>, text: &str) -> Result<(), InputError> {
    if text.trim().is_empty() {
        return Err(InputError::new(
            path,
            line,
            "empty article: no text to score",
        ));
    }
    Ok(())
}

/// Parses one JSONL line into an article.
pub fn parse_jsonl_line(path: &Path, line_no: usize, line: &str) -> Result<Article, InputError> {
    let err = |m: String| InputError::new(path, Some(line_no), m);
    let record: JsonArticle =
        serde_json::from_str(line).map_err(|e| err(format!("malformed JSONL record: {e}")))?;
    let id = match record.id {
        serde_json::Value::String(s) if !s.is_empty() => s,
        serde_json::Value::String(_) => return Err(err("empty \"id\"".into())),
        other => return Err(err(format!("\"id\" must be a string, found {other}"))),
    };
    let text = match record.text {
        Some(serde_json::Value::String(s)) => s,
        Some(other) => return Err(err(format!("\"text\" must be a string, found {other}"))),
        None => return Err(err(format!("article {id:?} has no \"text\""))),
    };
    check_not_empty(path, Some(line_no), &text)?;
    Ok(Article {
        id,
        text,
        meta: record.meta,
        origin: Origin {
            path: path.to_path_buf(),
            line: Some(line_no),
        },
    })
}

impl Iterator for ArticleReader {
    type Item = Result<Article, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let Some(top) = self.stack.last_mut() else {
                match Self::open(self.pending.pop_front()?) {
                    Ok(source) => self.stack.push(source),
                    Err(e) => return Some(Err(e)),
                }
                continue;
            };
            match top {
                Source::Jsonl {
                    path,
                    lines,
                    line_no,
                } => match Self::next_record(path, lines.as_mut(), line_no) {
                    Some(item) => return Some(item),
                    None => {
                        self.stack.pop();
                    }
                },
                Source::Files(files) => match files.next() {
                    None => {
                        self.stack.pop();
                    }
                    Some(Err(e)) => return Some(Err(e)),
                    Some(Ok(path)) if is_jsonl(&path) => match Self::open(path) {
                        Ok(source) => self.stack.push(source),
                        Err(e) => return Some(Err(e)),
                    },
                    Some(Ok(path)) => {
                        let dir = path.parent().unwrap_or(Path::new("."));
                        let id = file_id(&path);
                        let (meta, error) = self.metadata.lookup(dir, &id);
                        if let Some(e) = error {
                            // Report the bad metadata file once, then read on.
                            self.stack.push(Source::Files(vec![Ok(path)].into_iter()));
                            return Some(Err(e));
                        }
                        return Some(read_txt(&path, meta));
                    }
                },
            }
        }
    }
}

/// A document's id: its file stem.
pub fn file_id(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}
