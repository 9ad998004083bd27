//! The article readers: every input kind, and bad input reported with its
//! file and line while the rest is still read.

mod common;
use common::*;

use std::fs;

#[test]
fn bundled_corpus_reads_five_articles_in_order_with_metadata() {
    let (articles, errors) = read(&[corpus_dir()]);
    assert!(errors.is_empty(), "{errors:?}");
    let ids: Vec<&str> = articles.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "000_033704b3241b65e2",
            "001_088931e9380f7480",
            "002_164b338d48ad01ba",
            "003_f9edf75673bbe520",
            "004_e6ee3feba9137063"
        ]
    );
    assert_eq!(articles[2].meta.outlet.as_deref(), Some("France 24"));
    assert_eq!(articles[4].meta.year(), Some(2013));
    assert_eq!(articles[1].meta.year(), Some(2020));
    for a in &articles {
        assert_eq!(a.meta.language.as_deref(), Some("en"), "{}", a.id);
        assert!(a.meta.title.is_some(), "{}", a.id);
    }
}

#[test]
fn directories_are_recursive_and_sorted_and_skip_non_articles() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("b")).unwrap();
    fs::write(dir.path().join("b/z.txt"), "Zed.").unwrap();
    fs::write(dir.path().join("a.txt"), "Ay.").unwrap();
    fs::write(dir.path().join("c.md"), "not an article").unwrap();
    fs::write(
        dir.path().join("b/m.jsonl"),
        "{\"id\":\"m1\",\"text\":\"Em.\"}\n",
    )
    .unwrap();
    let (articles, errors) = read(&[dir.path().to_path_buf()]);
    assert!(errors.is_empty(), "{errors:?}");
    let ids: Vec<&str> = articles.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["a", "m1", "z"]);
}

#[test]
fn bad_jsonl_lines_are_reported_with_file_and_line_and_the_rest_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.jsonl");
    let mut bytes = b"{\"id\":\"one\",\"text\":\"First.\",\"date\":\"2021-03-01\"}\n\
{\"id\":\"two\",\"text\":\n\
\n\
{\"id\":3,\"text\":\"Numeric id.\"}\n\
{\"id\":\"four\"}\n\
{\"id\":\"five\",\"text\":\"   \"}\n"
        .to_vec();
    bytes.extend_from_slice(b"{\"id\":\"six\",\"text\":\"caf\xe9\"}\n");
    bytes.extend_from_slice(b"{\"id\":\"seven\",\"text\":\"Last.\"}");
    fs::write(&path, bytes).unwrap();
    let (articles, errors) = read(std::slice::from_ref(&path));
    let ids: Vec<&str> = articles.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["one", "seven"]);
    assert_eq!(articles[0].meta.year(), Some(2021));
    let lines: Vec<Option<usize>> = errors.iter().map(|e| e.origin.line).collect();
    assert_eq!(lines, [Some(2), Some(4), Some(5), Some(6), Some(7)]);
    let messages: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert!(messages[0].starts_with(&format!("{}:2: malformed JSONL", path.display())));
    assert!(
        messages[1].contains("\"id\" must be a string"),
        "{}",
        messages[1]
    );
    assert!(messages[2].contains("has no \"text\""), "{}", messages[2]);
    assert!(messages[3].contains("empty article"), "{}", messages[3]);
    assert!(messages[4].contains("invalid UTF-8"), "{}", messages[4]);
}

#[test]
fn bad_txt_files_are_reported_and_do_not_stop_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a_empty.txt"), "  \n").unwrap();
    fs::write(
        dir.path().join("b_latin1.txt"),
        b"Line one.\nLine two caf\xe9.\n",
    )
    .unwrap();
    fs::write(dir.path().join("c_good.txt"), "A good article.").unwrap();
    let missing = dir.path().join("missing.txt");
    let (articles, errors) = read(&[dir.path().to_path_buf(), missing.clone()]);
    assert_eq!(articles.len(), 1);
    assert_eq!(articles[0].id, "c_good");
    assert_eq!(errors.len(), 3);
    assert!(errors[0].to_string().contains("a_empty.txt: empty article"));
    assert_eq!(errors[1].origin.line, Some(2), "the bad byte is on line 2");
    assert!(errors[1].to_string().contains("invalid UTF-8 at byte"));
    assert_eq!(errors[2].origin.path, missing);
    assert!(errors[2].to_string().contains("cannot read"));
}

#[test]
fn a_bad_metadata_file_is_reported_once_and_its_articles_still_read() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("metadata.csv"),
        "id,title\n\"unterminated\n",
    )
    .unwrap();
    fs::write(dir.path().join("a.txt"), "One.").unwrap();
    fs::write(dir.path().join("b.txt"), "Two.").unwrap();
    let (articles, errors) = read(&[dir.path().to_path_buf()]);
    assert_eq!(articles.len(), 2);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].to_string().contains("metadata.csv"));
}
