//! `stance annotate` over HTTP (no browser): saving, carrying on, refusing a
//! labels file made on another version of an article, two servers writing
//! one file, a busy port, the uncertainty order; and `stance agree` on the
//! project's own two annotation passes.

mod common;

use common::{assert_success, corpus_dir, stance};
use serde_json::{json, Value};
use stance::gold::{article_texts, GoldSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running `stance annotate`, ended when dropped.
pub struct Annotator {
    child: Child,
    pub url: String,
}

impl Annotator {
    /// Starts `stance annotate ARGS... --port 0 --classifier keyword` and
    /// reads the page's address from its first line.
    pub fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stance"))
            .arg("annotate")
            .args(args)
            .args(["--port", "0", "--classifier", "keyword", "--quiet"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("stance runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://127.0.0.1:"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .trim_end_matches('/')
            .to_string();
        Annotator { child, url }
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into()
    }

    pub fn get(&self, path: &str) -> Value {
        Self::agent()
            .get(format!("{}{path}", self.url))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .map(|s| serde_json::from_str(&s).unwrap())
            .unwrap()
    }

    /// Posts a decision; the status and the answer.
    pub fn post(&self, record: &Value) -> (u16, Value) {
        let mut response = Self::agent()
            .post(format!("{}/api/label", self.url))
            .header("Content-Type", "application/json")
            .send(record.to_string())
            .unwrap();
        let status = response.status().as_u16();
        (
            status,
            serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap(),
        )
    }
}

impl Drop for Annotator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two bundled articles copied into a fresh directory.
fn two_articles(dir: &Path) -> PathBuf {
    let articles = dir.join("articles");
    std::fs::create_dir(&articles).unwrap();
    for id in ["002_164b338d48ad01ba", "003_f9edf75673bbe520"] {
        let name = format!("{id}.txt");
        std::fs::copy(corpus_dir().join(&name), articles.join(&name)).unwrap();
    }
    articles
}

/// The decision a page sends for a queue item.
fn decision(item: &Value, stance: &str, holder: &str) -> Value {
    let claims = if stance == "neutral" {
        json!([])
    } else {
        json!([{"holder": holder, "stance": stance, "target": "jihadists"}])
    };
    json!({
        "doc": item["doc"], "start": item["start"], "end": item["end"], "text": item["text"],
        "stance": stance, "mixed": false, "claims": claims, "note": ""
    })
}

fn load_strictly(labels: &Path, articles: &Path) -> GoldSet {
    let texts = article_texts(&[articles.to_path_buf()]).unwrap();
    GoldSet::load(labels, &texts).unwrap_or_else(|e| panic!("{e:?}"))
}

#[test]
fn decisions_are_saved_at_once_checked_and_carried_on_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let articles = two_articles(dir.path());
    let labels = dir.path().join("labels.jsonl");
    let args = [
        articles.to_str().unwrap(),
        "--out",
        labels.to_str().unwrap(),
    ];
    let annotator = Annotator::start(&args);
    let session = annotator.get("/api/session");
    let queue = session["queue"].as_array().unwrap();
    assert_eq!(session["articles"].as_array().unwrap().len(), 2);
    assert!(queue.len() > 40, "{}", queue.len());
    assert_eq!(session["holders"][0], "france");
    assert!(!labels.exists(), "nothing written before a decision");

    let (status, saved) = annotator.post(&decision(&queue[1], "anti-dialogue", "france"));
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved.as_array().unwrap().len(), 1);
    // On disk before the answer came back.
    assert_eq!(load_strictly(&labels, &articles).records.len(), 1);

    // A decision that breaks the standard or the article is refused and the
    // file kept as it was.
    let before = std::fs::read(&labels).unwrap();
    let mut wrong_text = decision(&queue[2], "neutral", "");
    wrong_text["text"] = json!("Something else entirely.");
    let (status, answer) = annotator.post(&wrong_text);
    assert_eq!(status, 400);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("text is not the span"),
        "{answer}"
    );
    let mut no_claim = decision(&queue[2], "pro-dialogue", "mali");
    no_claim["claims"] = json!([]);
    assert_eq!(annotator.post(&no_claim).0, 400);
    assert_eq!(std::fs::read(&labels).unwrap(), before);

    // Killed and started again on the same file: the decision is there.
    drop(annotator);
    let annotator = Annotator::start(&args);
    let saved = annotator.get("/api/labels");
    assert_eq!(saved.as_array().unwrap().len(), 1);
    assert_eq!(saved[0]["stance"], "anti-dialogue");
    assert_eq!(saved[0]["claims"][0]["holder"], "france");
    // A later decision on the same sentence replaces the earlier one.
    let (status, saved) = annotator.post(&decision(&queue[1], "neutral", ""));
    assert_eq!(status, 200);
    assert_eq!(saved.as_array().unwrap().len(), 1);
    assert_eq!(saved[0]["stance"], "neutral");
}

#[test]
fn two_servers_writing_one_file_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let articles = two_articles(dir.path());
    let labels = dir.path().join("labels.jsonl");
    let args = [
        articles.to_str().unwrap(),
        "--out",
        labels.to_str().unwrap(),
    ];
    let (first, second) = (Annotator::start(&args), Annotator::start(&args));
    let queue = first.get("/api/session")["queue"]
        .as_array()
        .unwrap()
        .clone();
    let n = 24;
    std::thread::scope(|scope| {
        // Interleaved: the even sentences through one server, the odd through the other.
        for (parity, annotator) in [(0, &first), (1, &second)] {
            let queue = &queue;
            scope.spawn(move || {
                for item in queue.iter().take(n).skip(parity).step_by(2) {
                    let (status, answer) = annotator.post(&decision(item, "neutral", ""));
                    assert_eq!(status, 200, "{answer}");
                }
            });
        }
    });
    let gold = load_strictly(&labels, &articles);
    assert_eq!(gold.records.len(), n);
    // Each page sees the other's decisions.
    assert_eq!(second.get("/api/labels").as_array().unwrap().len(), n);
}

#[test]
fn a_labels_file_made_on_another_version_of_an_article_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let articles = two_articles(dir.path());
    // Labels of the article as it was, then the article is edited.
    let labels = dir.path().join("labels.jsonl");
    let gold = std::fs::read_to_string("labels/gold.jsonl").unwrap();
    let kept: String = gold
        .lines()
        .filter(|l| l.contains("\"003_f9edf75673bbe520\""))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&labels, &kept).unwrap();
    let article = articles.join("003_f9edf75673bbe520.txt");
    let text = std::fs::read_to_string(&article).unwrap();
    std::fs::write(&article, format!("Updated: {text}")).unwrap();

    let out = stance(&[
        "annotate",
        articles.to_str().unwrap(),
        "--out",
        labels.to_str().unwrap(),
        "--port",
        "0",
        "--classifier",
        "keyword",
        "--quiet",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:1: text is not the span", labels.display())),
        "{stderr}"
    );
    assert!(stderr.contains("left untouched"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&labels).unwrap(), kept);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        2,
        "no lock or temporary file"
    );
}

#[test]
fn a_busy_port_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let labels = dir.path().join("labels.jsonl");
    let out = stance(&[
        "annotate",
        "eval/corpus/002_164b338d48ad01ba.txt",
        "--out",
        labels.to_str().unwrap(),
        "--port",
        &port,
        "--classifier",
        "keyword",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot listen on 127.0.0.1:{port}: the port is in use"
        )),
        "{stderr}"
    );
    assert!(!labels.exists());
}

#[test]
fn the_uncertainty_order_puts_the_least_certain_sentences_first_across_articles() {
    let dir = tempfile::tempdir().unwrap();
    let articles = two_articles(dir.path());
    let labels = dir.path().join("labels.jsonl");
    let doc_order = Annotator::start(&[
        articles.to_str().unwrap(),
        "--out",
        labels.to_str().unwrap(),
    ])
    .get("/api/session")["queue"]
        .as_array()
        .unwrap()
        .clone();
    let uncertain = Annotator::start(&[
        articles.to_str().unwrap(),
        "--out",
        labels.to_str().unwrap(),
        "--order",
        "uncertainty",
    ])
    .get("/api/session")["queue"]
        .as_array()
        .unwrap()
        .clone();
    let key = |v: &Value| (v["doc"].to_string(), v["start"].as_u64().unwrap());
    let mut a: Vec<_> = doc_order.iter().map(key).collect();
    let mut b: Vec<_> = uncertain.iter().map(key).collect();
    assert_ne!(a, b);
    a.sort();
    b.sort();
    assert_eq!(a, b, "the same sentences");
    let margin = |v: &Value| {
        let mut p: Vec<f64> = ["pro-dialogue", "anti-dialogue", "neutral"]
            .iter()
            .map(|l| v["scores"][l].as_f64().unwrap())
            .collect();
        p.sort_by(|x, y| y.total_cmp(x));
        p[0] - p[1]
    };
    let content: Vec<&Value> = uncertain
        .iter()
        .take_while(|v| v["boilerplate"] == false)
        .collect();
    assert!(content.len() > 20);
    assert!(uncertain[content.len()..]
        .iter()
        .all(|v| v["boilerplate"] == true));
    for pair in content.windows(2) {
        assert!(margin(pair[0]) <= margin(pair[1]) + 1e-4);
    }
    // The first few come from both articles.
    let docs: std::collections::BTreeSet<String> = content
        .iter()
        .take(20)
        .map(|v| v["doc"].to_string())
        .collect();
    assert_eq!(docs.len(), 2, "{docs:?}");
}

#[test]
fn agreement_of_the_two_annotation_passes_matches_the_labels_readme() {
    let out = stance(&[
        "agree",
        "labels/passes/pass-a.jsonl",
        "labels/passes/pass-b.jsonl",
        "--format",
        "json",
    ]);
    assert_success(&out);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["shared"], 262);
    assert!(
        (report["kappa"].as_f64().unwrap() - 0.955).abs() < 5e-4,
        "{report}"
    );
    assert!((report["observed"].as_f64().unwrap() - 256.0 / 262.0).abs() < 1e-9);
    let counts: Vec<(u64, u64, u64)> = report["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["a"].as_u64().unwrap(),
                l["b"].as_u64().unwrap(),
                l["both"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts, [(69, 66, 65), (25, 26, 25), (168, 170, 166)]);
    assert_eq!(report["mixed_agree"], 262);
    assert_eq!(report["claims_agree"], 254);
    let disagreements = report["disagreements"].as_array().unwrap();
    assert_eq!(disagreements.len(), 8);
    let on_stance = disagreements
        .iter()
        .filter(|d| d["on"].as_array().unwrap().contains(&json!("stance")))
        .count();
    assert_eq!(on_stance, 6);

    let md = stance(&[
        "agree",
        "labels/passes/pass-a.jsonl",
        "labels/passes/pass-b.jsonl",
    ]);
    assert_success(&md);
    let md = String::from_utf8(md.stdout).unwrap();
    assert!(md.contains("Cohen's kappa 0.955"), "{md}");
    assert!(
        md.contains("| pro-dialogue | 69 | 66 | 65 | 0.963 |"),
        "{md}"
    );
}

#[test]
fn agree_refuses_a_file_that_does_not_match_the_articles() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.jsonl");
    let line = std::fs::read_to_string("labels/passes/pass-a.jsonl")
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .replace("As French forces", "As Malian forces");
    std::fs::write(&bad, format!("{line}\n")).unwrap();
    let out = stance(&["agree", "labels/passes/pass-a.jsonl", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:1: text is not the span", bad.display())),
        "{stderr}"
    );
}
