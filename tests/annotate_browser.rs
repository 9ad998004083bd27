//! `stance annotate` in a real browser: headless Chromium, driven over
//! WebDriver (chromedriver) by keyboard and mouse, labels sentences of two
//! articles; the saved file must then pass `stance eval --gold` and
//! `stance train --gold`. Skips, saying why, only where Chromium or
//! chromedriver is not installed (`.ci/run` installs them from Debian's
//! packages).

mod common;

use common::{assert_success, corpus_dir, stance};
use serde_json::{json, Value};
use stance::gold::{article_texts, GoldSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A child process ended when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// A WebDriver session in headless Chromium.
struct Browser {
    base: String,
    session: String,
    _driver: Running,
}

impl Browser {
    fn start(profile: &Path) -> Self {
        let port = free_port();
        let driver = Running(
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver starts"),
        );
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while agent().get(format!("{base}/status")).call().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not answer");
            std::thread::sleep(Duration::from_millis(100));
        }
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1280,900",
            &format!("--user-data-dir={}", profile.display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args}
        }}});
        let answer = call(&format!("{base}/session"), Some(caps));
        let session = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_string();
        Browser {
            base,
            session,
            _driver: driver,
        }
    }

    fn command(&self, path: &str, body: Option<Value>) -> Value {
        call(
            &format!("{}/session/{}{path}", self.base, self.session),
            body,
        )
    }

    fn open(&self, url: &str) {
        self.command("/url", Some(json!({ "url": url })));
        self.wait_for("return document.body.dataset.ready === 'true'");
    }

    fn script(&self, script: &str) -> Value {
        self.command("/execute/sync", Some(json!({"script": script, "args": []})))
    }

    fn wait_for(&self, script: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.script(script) != json!(true) {
            assert!(Instant::now() < deadline, "timed out waiting for: {script}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Presses and releases one key, as a person at the keyboard.
    fn press(&self, key: &str) {
        let actions = json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
            {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}
        ]}]});
        self.command("/actions", Some(actions));
    }

    /// Clicks the element `css` finds, with the mouse.
    fn click(&self, css: &str) {
        let found = self.command(
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        let id = found["element-6066-11e4-a52e-4f735466cecf"]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_string();
        self.command(&format!("/element/{id}/click"), Some(json!({})));
    }

    fn text(&self, id: &str) -> String {
        self.script(&format!(
            "return document.getElementById('{id}').textContent"
        ))
        .as_str()
        .unwrap()
        .to_string()
    }

    fn screenshot(&self, path: &Path) {
        let png = self.command("/screenshot", None);
        std::fs::write(path, base64_decode(png.as_str().unwrap())).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = agent()
            .delete(format!("{}/session/{}", self.base, self.session))
            .call();
    }
}

/// A WebDriver call: GET without a body, POST with one; the answer's `value`.
fn call(url: &str, body: Option<Value>) -> Value {
    let mut response = match body {
        Some(body) => agent()
            .post(url)
            .header("Content-Type", "application/json")
            .send(body.to_string()),
        None => agent().get(url).call(),
    }
    .unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = response.status().as_u16();
    let answer: Value =
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(status, 200, "{url}: {answer}");
    answer["value"].clone()
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Standard base64 (a screenshot), without a crate for it.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = text.bytes().filter(|&c| c != b'=').map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut n = 0u32;
        for (i, &d) in chunk.iter().enumerate() {
            n |= u32::from(d) << (18 - 6 * i);
        }
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

fn saved(labels: &Path) -> usize {
    std::fs::read_to_string(labels)
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

fn wait_saved(labels: &Path, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while saved(labels) < n {
        assert!(Instant::now() < deadline, "decision {n} was not saved");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_person_labels_sentences_by_keyboard_and_mouse_and_the_file_trains_and_evaluates() {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        eprintln!(
            "skipped: {CHROMIUM} or {CHROMEDRIVER} is not installed \
             (apt-get install -y chromium chromium-driver)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let articles = dir.path().join("articles");
    std::fs::create_dir(&articles).unwrap();
    for id in ["002_164b338d48ad01ba", "003_f9edf75673bbe520"] {
        let name = format!("{id}.txt");
        std::fs::copy(corpus_dir().join(&name), articles.join(&name)).unwrap();
    }
    let labels = dir.path().join("labels.jsonl");
    let mut server = Command::new(env!("CARGO_BIN_EXE_stance"))
        .args(["annotate", articles.to_str().unwrap(), "--out"])
        .arg(&labels)
        .args(["--port", "0", "--classifier", "keyword", "--quiet"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("stance runs");
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _server = Running(server);
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();

    let browser = Browser::start(&dir.path().join("profile"));
    browser.open(&url);
    assert!(browser.text("position").starts_with("sentence 1 of "));

    // Keyboard: the headline is neutral (3); the page moves on to sentence 2.
    browser.press("3");
    wait_saved(&labels, 1);
    browser.wait_for(
        "return document.getElementById('position').textContent.startsWith('sentence 2 ')",
    );
    // Sentence 2 (Le Drian rejects talks): the holder picked with the
    // mouse, the stance by key.
    browser.click("#holder-a option[value='france']");
    browser.click("#target-a option[value='jihadists']");
    browser.press("2");
    wait_saved(&labels, 2);
    // j and k move without labelling: forward two, back one.
    browser.wait_for(
        "return document.getElementById('position').textContent.startsWith('sentence 3 ')",
    );
    browser.press("j");
    browser.press("j");
    browser.press("k");
    browser.wait_for(
        "return document.getElementById('position').textContent.startsWith('sentence 4 ')",
    );
    // Sentence 4: mixed, by key (pro claim: the holder cycled with h from
    // france to mali; anti claim: the page's default).
    browser.click("#holder-a option[value='france']");
    browser.press("h");
    browser.press("m");
    wait_saved(&labels, 3);
    // Mouse: a sentence of the article clicked, then a stance button.
    browser.click(".s[data-index='7']");
    browser.click("#stance-buttons button[data-stance='pro-dialogue']");
    wait_saved(&labels, 4);
    // Enter accepts the model's suggestion for the next sentence.
    browser.wait_for(
        "return document.getElementById('position').textContent.startsWith('sentence 9 ')",
    );
    browser.press("\u{E007}");
    wait_saved(&labels, 5);
    browser.wait_for("return document.querySelectorAll('.s.done').length === 5");
    assert!(browser.text("progress").starts_with("5 / "));
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("annotate-page.png");
    browser.screenshot(&shot);
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);
    eprintln!("screenshot: {}", shot.display());

    // The file is a gold set of these articles, with the decisions made.
    let texts = article_texts(std::slice::from_ref(&articles)).unwrap();
    let gold = GoldSet::load(&labels, &texts).unwrap_or_else(|e| panic!("{e:?}"));
    let got: Vec<(usize, &str, bool, Vec<String>)> = gold
        .records
        .iter()
        .map(|r| {
            (
                r.start,
                r.stance.as_str(),
                r.mixed,
                r.claims
                    .iter()
                    .map(|c| format!("{} {} {}", c.holder, c.stance, c.target))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(got[0], (0, "neutral", false, vec![]));
    assert_eq!(
        got[1],
        (
            130,
            "anti-dialogue",
            false,
            vec!["france anti-dialogue jihadists".to_string()]
        )
    );
    assert_eq!(got[2].1, "neutral");
    assert!(got[2].2, "mixed");
    assert!(
        got[2].3[0].starts_with("mali pro-dialogue "),
        "{:?}",
        got[2]
    );
    assert!(got[2].3[1].contains(" anti-dialogue "), "{:?}", got[2]);
    assert_eq!(got[3].1, "pro-dialogue");
    assert_eq!(gold.records.len(), 5);

    // It evaluates and trains as any gold file does.
    let eval = stance(&[
        "eval",
        "--gold",
        labels.to_str().unwrap(),
        "--corpus",
        articles.to_str().unwrap(),
        "--english-only",
        "--classifier",
        "keyword",
        "--format",
        "json",
    ]);
    assert_success(&eval);
    let report: Value = serde_json::from_slice(&eval.stdout).unwrap();
    assert_eq!(report["gold_sentences"], 5, "{report}");
    let head = dir.path().join("head.json");
    let train = stance(&[
        "train",
        "--gold",
        labels.to_str().unwrap(),
        "--out",
        head.to_str().unwrap(),
        "--quiet",
    ]);
    assert_success(&train);
    let head: Value = serde_json::from_slice(&std::fs::read(&head).unwrap()).unwrap();
    assert_eq!(head["meta"]["examples"], 5, "{head}");
}
