//! Nasty inputs, each with a defined outcome: scored, passed over, or
//! refused with its file and line while every other article is processed.
//! The committed ones are in `tests/data/nasty/` (its README lists them);
//! binary ones, symbolic links and the 5 MB article are made here, in a
//! temporary directory, by [`generated`] and [`long_line_article`].
//!
//! Spans are checked the way a Python user reads them: the file decoded as
//! UTF-8 (`open(path, encoding="utf-8").read()`, which keeps a byte-order
//! mark), sliced by code point.

mod common;
use common::*;

use stance::corpus::{ArticleReader, InputError};
use stance::segment::{sentences, RuleSegmenter};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

fn nasty() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/nasty")
}

/// `text[start:end]` in Python.
fn py_slice(text: &str, start: usize, end: usize) -> String {
    text.chars().skip(start).take(end - start).collect()
}

/// The raw text of each document under `paths`, as Python would decode it:
/// `.txt` files whole (byte-order mark included), JSONL records' `text`.
fn raw_texts(paths: &[PathBuf]) -> HashMap<String, String> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            for e in walk(p) {
                files.push(e);
            }
        } else {
            files.push(p.clone());
        }
    }
    let mut texts = HashMap::new();
    for f in files {
        let Ok(text) = fs::read_to_string(&f) else {
            continue;
        };
        match f.extension().and_then(|e| e.to_str()) {
            Some("txt") => {
                let id = f.file_stem().unwrap().to_string_lossy().into_owned();
                texts.entry(id).or_insert(text);
            }
            Some("jsonl") => {
                for line in text.trim_start_matches('\u{feff}').lines() {
                    let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                        continue;
                    };
                    if let (Some(id), Some(t)) = (v["id"].as_str(), v["text"].as_str()) {
                        texts.entry(id.to_string()).or_insert(t.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    texts
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    entries
        .into_iter()
        .flat_map(|p| if p.is_dir() { walk(&p) } else { vec![p] })
        .collect()
}

/// Every record's span slices its document's raw text to the record's text,
/// and that text has no line break and no surrounding whitespace.
fn assert_spans_slice(records: &[serde_json::Value], texts: &HashMap<String, String>) {
    for r in records {
        let doc = r["doc"].as_str().unwrap();
        let raw = texts
            .get(doc)
            .unwrap_or_else(|| panic!("no raw text for {doc}"));
        let (start, end) = (
            r["start"].as_u64().unwrap() as usize,
            r["end"].as_u64().unwrap() as usize,
        );
        let text = r["text"].as_str().unwrap();
        assert_eq!(py_slice(raw, start, end), text, "{r}");
        assert!(!text.contains(['\n', '\r', '\u{feff}']), "{r}");
        assert_eq!(text.trim(), text, "{r}");
    }
}

/// The committed nasty files plus the generated ones, in a fresh directory:
/// invalid UTF-8, UTF-16, NUL bytes, a binary with a `.txt` name, a binary
/// image (not an article), and symbolic links: to an article outside, to a
/// directory outside, back to an ancestor (a loop), and to nothing.
fn generated() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("corpus");
    let outside = tmp.path().join("outside");
    fs::create_dir_all(root.join("sub")).unwrap();
    fs::create_dir_all(outside.join("shared")).unwrap();
    fs::write(
        root.join("good.txt"),
        "Bamako wants talks with the jihadists.\n",
    )
    .unwrap();
    fs::write(
        root.join("invalid_utf8.txt"),
        b"Line one.\nLine two caf\xe9.\n",
    )
    .unwrap();
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(
            "Mali wants talks."
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        )
        .collect();
    fs::write(root.join("utf16.txt"), utf16).unwrap();
    fs::write(
        root.join("nul.txt"),
        b"Mali wants talks.\r\nThen\x00binary.",
    )
    .unwrap();
    // A PNG header: what a mislabelled image looks like.
    let png: Vec<u8> = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
        .iter()
        .copied()
        .chain((0..=255u8).cycle().take(2048))
        .collect();
    fs::write(root.join("photo.txt"), &png).unwrap();
    fs::write(root.join("photo.png"), &png).unwrap();
    fs::write(
        outside.join("linked.txt"),
        "Paris refuses any negotiation.\n",
    )
    .unwrap();
    fs::write(
        outside.join("shared/far.txt"),
        "The junta wants a dialogue.\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        symlink(outside.join("linked.txt"), root.join("link.txt")).unwrap();
        symlink(outside.join("shared"), root.join("sub/shared")).unwrap();
        symlink("..", root.join("sub/loop")).unwrap();
        symlink(tmp.path().join("nowhere.txt"), root.join("broken.txt")).unwrap();
        symlink(tmp.path().join("nowhere.png"), root.join("broken.png")).unwrap();
        // Two links pointing at each other: a loop no walk can resolve.
        symlink(root.join("ping.txt"), root.join("pong.txt")).unwrap();
        symlink(root.join("pong.txt"), root.join("ping.txt")).unwrap();
    }
    tmp
}

#[test]
fn every_committed_nasty_file_gets_its_outcome() {
    let out = stance(&["split", "tests/data/nasty"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "some inputs fail: {stderr}");
    let messages: Vec<&str> = stderr.lines().collect();
    let expected = [
        "error: tests/data/nasty/articles.jsonl:2: malformed JSONL record: EOF while parsing",
        "error: tests/data/nasty/articles.jsonl:3: article \"j3\" has no \"text\"",
        "error: tests/data/nasty/articles.jsonl:4: \"id\" must be a string, found 42",
        "error: tests/data/nasty/articles.jsonl:5: duplicate article id \"j1\" (first read from tests/data/nasty/articles.jsonl:1): this one is skipped",
        "error: tests/data/nasty/articles.jsonl:6: \"text\" holds a NUL character (U+0000) at code point 31",
        "error: tests/data/nasty/articles.jsonl:8: malformed JSONL record: invalid type: sequence",
        "error: tests/data/nasty/articles.jsonl:9: malformed JSONL record: invalid type: integer `7`",
        "error: tests/data/nasty/blank.txt: empty article: no text to score",
        "error: tests/data/nasty/bom_only.txt: empty article: no text to score",
        "error: tests/data/nasty/dup/j7.txt: duplicate article id \"j7\" (first read from tests/data/nasty/articles.jsonl:10): this one is skipped",
        "error: tests/data/nasty/empty.txt: empty article: no text to score",
        "warning: tests/data/nasty/html.txt: article \"html\" looks like HTML; it is scored as plain text",
    ];
    assert_eq!(messages.len(), expected.len(), "{stderr}");
    for (m, e) in messages.iter().zip(expected) {
        assert!(m.starts_with(e), "expected {e:?}\n   found {m:?}");
    }

    let records = jsonl(&out.stdout);
    let mut docs: Vec<&str> = records.iter().map(|r| r["doc"].as_str().unwrap()).collect();
    docs.dedup();
    assert_eq!(
        docs,
        [
            "j1",
            "j5",
            "j7",
            "bom",
            "cr",
            "crlf",
            "dense_sentence",
            "html",
            "long_sentence"
        ]
    );
    assert_spans_slice(&records, &raw_texts(&[nasty()]));
    // The first record keeps the text of the first "j1", not the duplicate's.
    assert_eq!(records[0]["text"], "The HCIM was mandated to open talks.");
}

#[test]
fn a_byte_order_mark_is_kept_in_the_text_and_put_in_no_sentence() {
    let (articles, errors) = read(&[nasty().join("bom.txt")]);
    assert!(errors.is_empty(), "{errors:?}");
    let text = &articles[0].text;
    assert!(text.starts_with('\u{feff}'), "offsets count the mark");
    let s = sentences(&RuleSegmenter::default(), text);
    assert_eq!((s[0].start, s[0].end), (1, 23));
    assert_eq!(s[0].text, "Mali and the jihadists");
    assert_eq!(py_slice(text, s[1].start, s[1].end), s[1].text);

    // Before the first JSONL record it is an encoding marker only.
    let reader = ArticleReader::from_jsonl(
        "stdin",
        std::io::Cursor::new(b"\xEF\xBB\xBF{\"id\":\"a\",\"text\":\"Talks.\"}\n".to_vec()),
    );
    let read: Vec<_> = reader.collect();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].as_ref().unwrap().text, "Talks.");
}

#[test]
fn crlf_and_lone_cr_are_line_breaks_and_spans_index_the_raw_text() {
    let out = stance(&[
        "split",
        "tests/data/nasty/crlf.txt",
        "tests/data/nasty/cr.txt",
    ]);
    assert_success(&out);
    let records = jsonl(&out.stdout);
    assert_spans_slice(
        &records,
        &raw_texts(&[nasty().join("crlf.txt"), nasty().join("cr.txt")]),
    );
    let texts = |doc: &str| -> Vec<&str> {
        records
            .iter()
            .filter(|r| r["doc"] == doc)
            .map(|r| r["text"].as_str().unwrap())
            .collect()
    };
    let expected = [
        "Talks in Bamako",
        "The junta wants a dialogue with the JNIM.",
        "France says no.",
        "A ceasefire was signed in Algiers.",
    ];
    assert_eq!(texts("crlf"), expected);
    assert_eq!(texts("cr"), expected);
    // `\r\n` is two code points in the raw text, as in Python.
    let starts: Vec<u64> = records
        .iter()
        .filter(|r| r["doc"] == "crlf")
        .map(|r| r["start"].as_u64().unwrap())
        .collect();
    assert_eq!(starts, [0, 17, 59, 78]);
}

#[test]
fn binary_and_undecodable_files_are_refused_with_file_and_line() {
    let tmp = generated();
    let root = tmp.path().join("corpus");
    let (articles, errors) = read(std::slice::from_ref(&root));
    let ids: Vec<&str> = articles.iter().map(|a| a.id.as_str()).collect();
    assert!(ids.contains(&"good"), "{ids:?}");
    let error_of = |name: &str| -> &InputError {
        errors
            .iter()
            .find(|e| e.origin.path == root.join(name))
            .unwrap_or_else(|| panic!("no error for {name}: {errors:?}"))
    };
    let e = error_of("invalid_utf8.txt");
    assert_eq!(e.origin.line, Some(2));
    assert!(e.message.starts_with("invalid UTF-8 at byte 22"), "{e}");
    let e = error_of("utf16.txt");
    assert_eq!(e.origin.line, Some(1));
    assert!(e.message.contains("UTF-16"), "{e}");
    let e = error_of("nul.txt");
    assert_eq!(e.origin.line, Some(2), "CRLF counts as one line end");
    assert!(
        e.message
            .starts_with("binary content (NUL byte at byte 23), not a text article"),
        "{e}"
    );
    let e = error_of("photo.txt");
    assert!(e.message.starts_with("binary content"), "{e}");
    // The image is not an article: passed over, no error.
    assert!(!errors.iter().any(|e| e.origin.path.ends_with("photo.png")));
    assert!(!ids.contains(&"photo"));
}

#[cfg(unix)]
#[test]
fn directories_follow_symbolic_links_and_report_loops_and_broken_links() {
    let tmp = generated();
    let root = tmp.path().join("corpus");
    let (articles, errors) = read(std::slice::from_ref(&root));
    let ids: Vec<&str> = articles.iter().map(|a| a.id.as_str()).collect();
    // A linked file and the files of a linked directory are articles; the
    // loop is entered once at most, so nothing is read twice.
    assert_eq!(ids, ["good", "link", "far"]);
    assert_eq!(articles[1].text, "Paris refuses any negotiation.\n");
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let broken = root.join("broken.txt");
    assert!(
        messages.contains(&format!(
            "{}: broken symbolic link: its target does not exist",
            broken.display()
        )),
        "{messages:?}"
    );
    let looped = root.join("sub/loop");
    assert!(
        messages.iter().any(|m| m.starts_with(&format!(
            "{}: symbolic link loop: it leads back to {}",
            looped.display(),
            root.display()
        ))),
        "{messages:?}"
    );
    assert!(!messages.iter().any(|m| m.contains("broken.png")));
    for name in ["ping.txt", "pong.txt"] {
        let m = format!(
            "{}: broken symbolic link: Too many levels of symbolic links",
            root.join(name).display()
        );
        assert!(
            messages.iter().any(|x| x.starts_with(&m)),
            "{m} in {messages:?}"
        );
    }
    // Four bad files, the directory loop, the broken link and the two
    // links that point at each other; nothing else.
    assert_eq!(errors.len(), 8, "{messages:?}");

    // The command line reads the same, reports the same, and ends.
    let out = stance(&["split", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 8, "{stderr}");
    let mut docs: Vec<String> = jsonl(&out.stdout)
        .iter()
        .map(|r| r["doc"].as_str().unwrap().to_string())
        .collect();
    docs.dedup();
    assert_eq!(docs, ["good", "link", "far"]);
}

#[test]
fn duplicate_ids_keep_the_first_and_refuse_each_later_one_with_both_places() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir_all(tmp.path().join("a")).unwrap();
    fs::create_dir_all(tmp.path().join("b")).unwrap();
    fs::write(tmp.path().join("a/x.txt"), "First text.").unwrap();
    fs::write(tmp.path().join("b/x.txt"), "Second text.").unwrap();
    let (articles, errors) = read(&[tmp.path().to_path_buf(), tmp.path().join("a/x.txt")]);
    assert_eq!(articles.len(), 1);
    assert_eq!(articles[0].text, "First text.");
    assert_eq!(errors.len(), 2, "{errors:?}");
    let first = tmp.path().join("a/x.txt");
    assert_eq!(errors[0].origin.path, tmp.path().join("b/x.txt"));
    assert_eq!(
        errors[0].message,
        format!(
            "duplicate article id \"x\" (first read from {}): this one is skipped",
            first.display()
        )
    );
    assert_eq!(errors[1].origin.path, first, "the same file twice");
}

#[test]
fn html_is_scored_as_text_with_a_warning_and_lines_of_tags_are_boilerplate() {
    let out = stance(&["split", "tests/data/nasty/html.txt"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a warning is no failure: {stderr}"
    );
    assert!(stderr.contains("looks like HTML"), "{stderr}");
    let records = jsonl(&out.stdout);
    assert_spans_slice(&records, &raw_texts(&[nasty().join("html.txt")]));
    let flagged = |text: &str| -> bool {
        let r = records
            .iter()
            .find(|r| r["text"] == text)
            .unwrap_or_else(|| panic!("no sentence {text:?}"));
        r["boilerplate"] == true
    };
    for tags in [
        "<!DOCTYPE html>",
        "<div class=\"story\">",
        "</div>",
        "</html>",
    ] {
        assert!(flagged(tags), "{tags}");
    }
    assert!(flagged("<script>var x = \"a. B\";</script>"));
    assert!(!flagged("<p>Bamako wants talks with the jihadists."));
    assert!(!flagged("Paris refuses.</p>"));
}

/// Real sentences repeated on a single line up to 5 MB (no line break).
fn long_line_article(dir: &Path) -> (PathBuf, usize) {
    let unit = "Bamako wants talks with the jihadists, the minister said. \
                Paris refuses any negotiation with terrorists. \
                « Nous ne négocierons pas », a déclaré le ministre. ";
    let copies = 5_000_000 / unit.len() + 1;
    let path = dir.join("long_line.txt");
    fs::write(&path, unit.repeat(copies)).unwrap();
    (path, copies * 3)
}

#[test]
fn a_5_mb_article_on_one_line_is_split_and_scored() {
    let tmp = tempfile::tempdir().unwrap();
    let (path, n) = long_line_article(tmp.path());
    assert!(fs::metadata(&path).unwrap().len() >= 5_000_000);
    let path_str = path.to_str().unwrap();
    let raw = raw_texts(std::slice::from_ref(&path));

    let out = stance(&["split", path_str]);
    assert_success(&out);
    let split = jsonl(&out.stdout);
    assert_eq!(split.len(), n);
    assert_spans_slice(&split, &raw);

    // The whole pipeline after the encoder (classifier, attribution,
    // output) on every sentence; the encoder itself sees sentences, never
    // the line, and is covered by the next test.
    let out = stance(&[
        "score",
        path_str,
        "--classifier",
        "keyword",
        "--format",
        "jsonl",
        "--quiet",
    ]);
    assert_success(&out);
    let scored = jsonl(&out.stdout);
    assert_eq!(scored.len(), n);
    for (s, r) in split.iter().zip(&scored) {
        assert_eq!((&s["start"], &s["end"]), (&r["start"], &r["end"]));
    }
}

#[test]
fn nasty_text_is_scored_by_the_encoder_with_spans_into_the_raw_text() {
    let files: Vec<PathBuf> = [
        "bom.txt",
        "crlf.txt",
        "cr.txt",
        "html.txt",
        "long_sentence.txt",
        "dense_sentence.txt",
    ]
    .iter()
    .map(|f| nasty().join(f))
    .collect();
    // MiniLM, whose 256-token bound the dense sentence passes.
    let mut args = vec![
        "score",
        "--encoder",
        "minilm",
        "--format",
        "jsonl",
        "--quiet",
    ];
    let names: Vec<&str> = files.iter().map(|p| p.to_str().unwrap()).collect();
    args.extend(&names);
    let out = stance(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let records = jsonl(&out.stdout);
    assert_spans_slice(&records, &raw_texts(&files));

    // The sentence of 2,582 code points, longer than MAX_SENTENCE_CHARS, is
    // cut at whitespace into three pieces, each marked.
    let long: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["doc"] == "long_sentence")
        .collect();
    assert_eq!(long.len(), 3);
    assert!(long.iter().all(|r| r["cut"] == true), "{long:?}");
    assert_eq!(
        (&long[0]["start"], &long[2]["end"]),
        (&0.into(), &2582.into())
    );
    assert_eq!(records.iter().filter(|r| r.get("cut").is_some()).count(), 3);
    // A sentence within that bound but past the encoder's 256 tokens is
    // scored on its first 256, and says so in its record and on stderr; no
    // other is marked.
    let dense: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["doc"] == "dense_sentence")
        .collect();
    assert_eq!(dense.len(), 1);
    assert_eq!(dense[0]["truncated"], true, "{}", dense[0]);
    let marked = records
        .iter()
        .filter(|r| r.get("truncated").is_some())
        .count();
    assert_eq!(marked, 1);
    let path = nasty().join("dense_sentence.txt");
    let warning = format!(
        "warning: {}: sentence 0 of \"dense_sentence\" (code points 0..{}) is longer than the \
         encoder's 256 tokens; it is scored on its first 256 tokens (\"truncated\": true)",
        path.display(),
        dense[0]["end"]
    );
    assert!(stderr.contains(&warning), "{stderr}");
    for r in &records {
        let sum: f64 = ["pro-dialogue", "anti-dialogue", "neutral"]
            .iter()
            .map(|k| r["scores"][k].as_f64().unwrap())
            .sum();
        assert!((sum - 1.0).abs() < 1e-3, "{r}");
    }
    // The CR and CRLF copies of one text get the same labels and holders:
    // line ends change nothing but offsets.
    let labels = |doc: &str| -> Vec<String> {
        records
            .iter()
            .filter(|r| r["doc"] == doc)
            .map(|r| format!("{} {} {}", r["text"], r["stance"], r["holder"]))
            .collect()
    };
    assert_eq!(labels("cr"), labels("crlf"));
}

#[test]
fn a_read_error_ends_its_source_once_instead_of_repeating() {
    // A gold file that is a directory: opening works, every read fails.
    let out = stance(&["eval", "--gold", "labels", "--classifier", "keyword"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error: labels:1: cannot read: Is a directory"),
        "{stderr}"
    );
    assert!(stderr.contains("1 gold record(s) refused"), "{stderr}");

    // A JSONL stream whose reads fail: one error, then the reader ends.
    struct Failing;
    impl std::io::Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk on fire"))
        }
    }
    let items: Vec<_> =
        ArticleReader::from_jsonl("stream", std::io::BufReader::new(Failing)).collect();
    assert_eq!(items.len(), 1);
    let e = items[0].as_ref().unwrap_err();
    assert_eq!(
        e.to_string(),
        "stream:1: read error: disk on fire; the rest of the file is not read"
    );
}

/// Every adversarial shape (`stance bench scaling` times them up to 1 MB):
/// scored whole, every record slicing the text, a stretch with no sentence
/// boundary cut into marked pieces within the bound, nothing left out but
/// whitespace. Speed is the benchmark's business, not a test's.
#[test]
fn adversarial_pages_are_scored_in_pieces_that_cover_the_text() {
    use stance::adversarial::{text, Shape};
    use stance::pipeline::MAX_SENTENCE_CHARS;
    let tmp = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for shape in Shape::ALL {
        let path = tmp.path().join(format!("{}.txt", shape.name()));
        fs::write(&path, text(shape, 20_000)).unwrap();
        paths.push(path);
    }
    let mut args = vec!["score", "--classifier", "keyword", "--quiet"];
    args.extend(paths.iter().map(|p| p.to_str().unwrap()));
    let out = stance(&args);
    assert_success(&out);
    let records = jsonl(&out.stdout);
    let raw = raw_texts(&paths);
    assert_spans_slice(&records, &raw);
    for (path, shape) in paths.iter().zip(Shape::ALL) {
        let chars: Vec<char> = fs::read_to_string(path).unwrap().chars().collect();
        let mine: Vec<&serde_json::Value> = records
            .iter()
            .filter(|r| r["doc"] == shape.name())
            .collect();
        let mut at = 0;
        for r in &mine {
            let (start, end) = (
                r["start"].as_u64().unwrap() as usize,
                r["end"].as_u64().unwrap() as usize,
            );
            assert!(end - start <= MAX_SENTENCE_CHARS, "{shape:?}: {r}");
            assert!(
                chars[at..start].iter().all(|c| c.is_whitespace()),
                "{shape:?}"
            );
            at = end;
        }
        assert!(chars[at..].iter().all(|c| c.is_whitespace()), "{shape:?}");
        let cut = mine.iter().filter(|r| r["cut"] == true).count();
        match shape {
            Shape::ManySentences | Shape::Paragraphs => assert_eq!(cut, 0, "{shape:?}"),
            _ => assert!(cut >= 10, "{shape:?}: {cut} pieces"),
        }
    }
}

/// `/dev/zero` as an article and a JSONL line of more than 64 MiB: refused
/// after reading 64 MiB (not read until the memory runs out); the next
/// record is read as usual.
#[test]
fn endless_or_huge_inputs_are_refused_at_64_mib() {
    let out = stance(&["score", "/dev/zero", "--classifier", "keyword", "--quiet"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: /dev/zero: larger than 64 MiB: not an article; split it"),
        "{stderr}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("huge.jsonl");
    let mut bytes = b"{\"id\": \"huge\", \"text\": \"".to_vec();
    bytes.resize(bytes.len() + (65 << 20), b'a');
    bytes.extend_from_slice(b"\"}\n{\"id\": \"small\", \"text\": \"Mali wants talks.\"}\n");
    fs::write(&path, bytes).unwrap();
    let out = stance(&[
        "score",
        path.to_str().unwrap(),
        "--classifier",
        "keyword",
        "--quiet",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(":1: larger than 64 MiB: not an article; split it; the record is skipped"),
        "{stderr}"
    );
    let records = jsonl(&out.stdout);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["doc"], "small");
}

/// A directory of thousands of tiny files in nested folders, read with few
/// file descriptors (`ulimit -n 64`): every file comes out once, in the
/// sorted order of its path, with its one or two sentences. (The README's
/// 100,000-file figures are measured by hand, not here.)
#[cfg(unix)]
#[test]
fn a_directory_of_thousands_of_tiny_files_comes_out_whole_in_sorted_order() {
    use std::os::unix::process::CommandExt;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("many");
    let mut expected: Vec<(PathBuf, usize)> = Vec::new();
    // Folders and names written in an order that is not the sorted one, and
    // numbers without padding, so only a real sort gives the order.
    for (k, n) in (0..3_000usize).map(|i| (i, (i * 7_919) % 3_000)).rev() {
        let dir = root
            .join(format!("batch{}", n % 3))
            .join(format!("part{}", n % 10));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("a{n}.txt"));
        let (text, sentences) = if k % 2 == 0 {
            ("Mali rejected talks.\n", 1)
        } else {
            ("France wants dialogue. The JNIM said no.\n", 2)
        };
        fs::write(&path, text).unwrap();
        expected.push((path, sentences));
    }
    // Path order is component by component, as the walk sorts each folder.
    expected.sort();
    assert_eq!(
        walk(&root),
        expected.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>()
    );

    for args in [
        &["split"][..],
        &["score", "--classifier", "keyword", "--quiet"][..],
    ] {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_stance"));
        cmd.args(args).arg(&root);
        // SAFETY: setrlimit(2) only, before exec.
        unsafe {
            cmd.pre_exec(|| {
                let limit = libc::rlimit {
                    rlim_cur: 64,
                    rlim_max: 64,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let out = cmd.output().unwrap();
        assert_success(&out);
        assert!(out.stderr.is_empty(), "{args:?}");
        let mut docs: Vec<(String, usize)> = Vec::new();
        for record in jsonl(&out.stdout) {
            let doc = record["doc"].as_str().unwrap();
            match docs.last_mut() {
                Some((last, n)) if last == doc => *n += 1,
                _ => docs.push((doc.to_string(), 1)),
            }
        }
        let want: Vec<(String, usize)> = expected
            .iter()
            .map(|(p, n)| (stance::corpus::file_id(p), *n))
            .collect();
        assert_eq!(docs.len(), 3_000, "{args:?}");
        assert_eq!(docs, want, "{args:?}");
    }
}
