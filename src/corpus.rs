//! Stage 1: articles in.
//!
//! Reads `.txt` files (the document id is the file stem), directories
//! (recursively, in sorted order, so the output order never depends on the
//! file system), JSONL files of articles and JSONL on stdin (`-`). Each input
//! that cannot be read becomes an [`InputError`] naming its file and line;
//! the readers carry on with the next article, so one bad article never stops
//! a batch.
//!
//! # Bad input
//! Every input gets a defined outcome (README, "Bad input"): an article is
//! read, or refused with its file and line and a message saying why.
//! - Text must be UTF-8: invalid bytes, UTF-16 and NUL bytes (binary files,
//!   whatever their extension) are refused with the line of the first bad
//!   byte.
//! - A UTF-8 byte-order mark at the start of a `.txt` file is kept in the
//!   text, as Python's `open(path, encoding="utf-8").read()` keeps it, so
//!   offsets count it as code point 0; the segmenter puts it in no sentence.
//!   Before the first JSONL record it is only an encoding marker and is
//!   dropped (offsets are into each record's `text`, which it is not part of).
//! - An id already read is refused with both places named: downstream,
//!   records, gold spans and comparisons are keyed on the id, and two texts
//!   under one id would be silently mixed.
//! - Directories are walked following symbolic links (a linked article is an
//!   article); a link that leads back to one of its own ancestors is
//!   reported and not followed, so a loop never runs forever.

pub mod dedup;

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
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
    /// The id of the article this one translates (a translated gold set
    /// names its originals, so cross-validation holds out both together).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub translation_of: Option<String>,
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
    pending: VecDeque<PathBuf>,
    /// Open sources, innermost last: a JSONL file met inside a directory is
    /// read in place before the directory's next file.
    stack: Vec<Source>,
    metadata: MetadataCache,
    /// Where each id was first read, to refuse a second article under it.
    seen: SeenIds,
}

enum Source {
    Jsonl {
        path: PathBuf,
        lines: Box<dyn BufRead + Send>,
        line_no: usize,
        /// A read error ended the source.
        failed: bool,
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
            translation_of: row.meta.translation_of.filter(|s| !s.is_empty()),
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
            seen: SeenIds::default(),
        }
    }

    /// Articles from a JSONL stream (a socket, a decompressor, a buffer);
    /// `name` stands for the file in error messages.
    pub fn from_jsonl(name: impl Into<PathBuf>, reader: impl BufRead + Send + 'static) -> Self {
        ArticleReader {
            pending: VecDeque::new(),
            stack: vec![Source::Jsonl {
                path: name.into(),
                lines: Box::new(reader),
                line_no: 0,
                failed: false,
            }],
            metadata: MetadataCache::default(),
            seen: SeenIds::default(),
        }
    }

    fn open(path: PathBuf) -> Result<Source, InputError> {
        if path.as_os_str() == "-" {
            return Ok(Source::Jsonl {
                path,
                lines: Box::new(BufReader::new(io::stdin())),
                line_no: 0,
                failed: false,
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
                failed: false,
            });
        }
        Ok(Source::Files(vec![Ok(path)].into_iter()))
    }

    /// The next record of a JSONL source; `None` at its end, and after a
    /// read error (which sets `failed`).
    fn next_record(
        path: &Path,
        lines: &mut dyn BufRead,
        line_no: &mut usize,
        failed: &mut bool,
    ) -> Option<Result<Article, InputError>> {
        if *failed {
            return None;
        }
        loop {
            let mut buf = Vec::new();
            *line_no += 1;
            let n = *line_no;
            let read = (&mut *lines)
                .take(MAX_ARTICLE_BYTES as u64 + 1)
                .read_until(b'\n', &mut buf)
                .and_then(|n| {
                    if buf.len() > MAX_ARTICLE_BYTES && !buf.ends_with(b"\n") {
                        skip_line(lines).map(|()| usize::MAX)
                    } else {
                        Ok(n)
                    }
                });
            match read {
                Ok(0) => return None,
                Ok(usize::MAX) => {
                    return Some(Err(InputError::new(
                        path,
                        Some(n),
                        format!("{}; the record is skipped", too_large()),
                    )))
                }
                Ok(_) => {}
                Err(e) => {
                    // The error would come back on every later read (a
                    // directory, a failing disk): end this source here.
                    *failed = true;
                    return Some(Err(InputError::new(
                        path,
                        Some(n),
                        format!("read error: {e}; the rest of the file is not read"),
                    )));
                }
            }
            if n == 1 && buf.starts_with(BOM_BYTES) {
                // An encoding marker before the first record, not JSON.
                buf.drain(..BOM_BYTES.len());
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
///
/// Symbolic links are followed, so a corpus may link articles kept
/// elsewhere; walkdir checks each linked directory against its ancestors,
/// and a loop is reported once and not entered.
fn list_dir(dir: &Path) -> Vec<Result<PathBuf, InputError>> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
    {
        match entry {
            Ok(entry) => {
                let path = entry.path();
                if entry.file_type().is_file() && (is_txt(path) || is_jsonl(path)) {
                    out.push(Ok(path.to_path_buf()));
                }
            }
            Err(e) => {
                let path = e.path().unwrap_or(dir).to_path_buf();
                let message = if let Some(ancestor) = e.loop_ancestor() {
                    format!(
                        "symbolic link loop: it leads back to {}; not followed",
                        ancestor.display()
                    )
                } else if path.is_symlink() && !path.exists() {
                    // A dangling link to something that is not an article
                    // is passed over like any other non-article.
                    if !(is_txt(&path) || is_jsonl(&path)) {
                        continue;
                    }
                    match e.io_error().map(io::Error::kind) {
                        Some(io::ErrorKind::NotFound) | None => {
                            "broken symbolic link: its target does not exist".to_string()
                        }
                        // A chain of links that loops on itself (ELOOP).
                        Some(_) => format!(
                            "broken symbolic link: {}",
                            e.io_error().map(ToString::to_string).unwrap_or_default()
                        ),
                    }
                } else {
                    match e.io_error() {
                        Some(io) => format!("cannot read: {io}"),
                        None => format!("cannot read: {e}"),
                    }
                };
                out.push(Err(InputError::new(&path, None, message)));
            }
        }
    }
    out
}

/// Largest article read: a `.txt` file or a JSONL line. Larger inputs
/// (`/dev/zero`, a dump with no line breaks) are refused after reading
/// this much instead of filling the memory; a news article is a few KB.
pub const MAX_ARTICLE_BYTES: usize = 64 << 20;

fn too_large() -> String {
    format!(
        "larger than {} MiB: not an article; split it",
        MAX_ARTICLE_BYTES >> 20
    )
}

/// Reads one `.txt` article; the id is the file stem.
pub fn read_txt(path: &Path, meta: Metadata) -> Result<Article, InputError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|f| f.take(MAX_ARTICLE_BYTES as u64 + 1).read_to_end(&mut bytes))
        .map_err(|e| InputError::new(path, None, format!("cannot read: {e}")))?;
    if bytes.len() > MAX_ARTICLE_BYTES {
        return Err(InputError::new(path, None, too_large()));
    }
    txt_article(path, bytes, meta)
}

/// Reads the rest of a line without keeping it; `Ok(())` at its end or the
/// input's.
fn skip_line(lines: &mut dyn BufRead) -> io::Result<()> {
    loop {
        let (done, n) = {
            let buf = match lines.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (true, i + 1),
                None => (buf.is_empty(), buf.len()),
            }
        };
        lines.consume(n);
        if done {
            return Ok(());
        }
    }
}

/// The article held by the bytes of a `.txt` file at `path` (which names
/// it and labels errors; it is not read).
pub fn txt_article(path: &Path, bytes: Vec<u8>, meta: Metadata) -> Result<Article, InputError> {
    let text = decode(path, bytes)?;
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

/// The UTF-8 byte-order mark.
const BOM_BYTES: &[u8] = b"\xEF\xBB\xBF";

/// The 1-based line of byte `at`, counting line ends as the segmenter
/// does: `\n`, `\r\n` and a lone `\r` each end a line.
fn line_of_byte(bytes: &[u8], at: usize) -> usize {
    let before = &bytes[..at.min(bytes.len())];
    1 + before
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && before.get(i + 1) != Some(&b'\n')))
        .count()
}

/// UTF-8 text of a `.txt` article, or an error that says where the bad
/// byte is and what the file probably is.
fn decode(path: &Path, bytes: Vec<u8>) -> Result<String, InputError> {
    let refuse = |at: usize, bytes: &[u8], what: String| {
        InputError::new(
            path,
            Some(line_of_byte(bytes, at)),
            format!("{what}: the article is skipped"),
        )
    };
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(refuse(
            0,
            &bytes,
            "UTF-16 text (it starts with a UTF-16 byte-order mark); convert it to UTF-8".into(),
        ));
    }
    // NUL never occurs in text: it marks a binary file (or UTF-16 without a
    // byte-order mark), which would otherwise be "scored" as garbage.
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        return Err(refuse(
            at,
            &bytes,
            format!("binary content (NUL byte at byte {at}), not a text article"),
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        refuse(at, e.as_bytes(), format!("invalid UTF-8 at byte {at}"))
    })?;
    check_not_empty(path, None, &text)?;
    Ok(text)
}

fn check_not_empty(path: &Path, line: Option<usize>, text: &str) -> Result<(), InputError> {
    // A byte-order mark alone is no text either.
    if text.trim_start_matches('\u{feff}').trim().is_empty() {
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
    if let Some(at) = text.chars().position(|c| c == '\0') {
        return Err(err(format!(
            "\"text\" holds a NUL character (U+0000) at code point {at}: not text; \
             the record is skipped"
        )));
    }
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
        let article = match self.next_unchecked()? {
            Ok(article) => article,
            Err(e) => return Some(Err(e)),
        };
        match self.seen.first_read(&article.id, &article.origin) {
            Some(first) => Some(Err(InputError {
                message: format!(
                    "duplicate article id {:?} (first read from {first}): this one is skipped",
                    article.id
                ),
                origin: article.origin,
            })),
            None => Some(Ok(article)),
        }
    }
}

/// The ids read so far and where each was first read, kept small because a
/// stream of articles has no end: 16 bytes an article (17 to 34 with the
/// table's slack) against 100 and more for the id and its origin.
///
/// An id is remembered by a 64-bit fingerprint (the first 8 bytes of its
/// SHA-256): two distinct ids among n share one with probability about
/// n²/2⁶⁵, 3·10⁻⁸ for a million articles; if it ever happens the second
/// article is refused as a duplicate, loudly and naming both places, never
/// mixed in silently. The origin is an index into the distinct files read
/// (consecutive articles of one file share an entry, so a JSONL stream
/// holds one) and the line, or 0 for none (and past line 2³²-1).
#[derive(Default)]
struct SeenIds {
    first: HashMap<u64, (u32, u32)>,
    paths: Vec<PathBuf>,
}

impl SeenIds {
    /// Where `id` was first read, or `None` after remembering it was read
    /// at `origin`.
    fn first_read(&mut self, id: &str, origin: &Origin) -> Option<Origin> {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(id.as_bytes());
        let key = u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"));
        if let Some(&(path, line)) = self.first.get(&key) {
            return Some(Origin {
                path: self.paths[path as usize].clone(),
                line: (line > 0).then_some(line as usize),
            });
        }
        if self.paths.last() != Some(&origin.path) {
            self.paths.push(origin.path.clone());
        }
        let path = u32::try_from(self.paths.len() - 1).expect("fewer than 2^32 input files");
        let line = origin.line.and_then(|l| u32::try_from(l).ok()).unwrap_or(0);
        self.first.insert(key, (path, line));
        None
    }
}

impl ArticleReader {
    /// The next article or error, before the check for duplicate ids.
    fn next_unchecked(&mut self) -> Option<Result<Article, InputError>> {
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
                    failed,
                } => match Self::next_record(path, lines.as_mut(), line_no, failed) {
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
