//! Files written all at once: to a temporary file beside the target, then
//! renamed over it, so a failure never leaves a half-written output.

use anyhow::{bail, Context, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// A file being written; it appears at its path only on [`AtomicFile::commit`].
/// Dropped without commit, the temporary file is removed.
///
/// The temporary file exists only from the first write to the commit: a
/// command that computes for minutes and writes its report at the end
/// (`eval`, `compare`) leaves nothing behind when a signal ends it while it
/// computes. `stance score` writes as it goes, and catches SIGINT and SIGTERM
/// to remove it (`crate::infra::signals`).
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    /// Open from the first write (or the commit) on.
    file: Option<BufWriter<File>>,
    done: bool,
}

impl AtomicFile {
    /// Starts writing `path`. Fails at once, naming `path`, when it cannot
    /// be written (no such directory, not a directory, no permission, a
    /// directory in the way), so a long run never ends on a lost result.
    pub fn create(path: &Path) -> Result<Self> {
        let name = path
            .file_name()
            .with_context(|| format!("cannot write {}: not a file name", path.display()))?;
        if path.is_dir() {
            bail!("cannot write {}: it is a directory", path.display());
        }
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if !parent.is_dir() {
            bail!(
                "cannot write {}: {} is not a directory",
                path.display(),
                parent.display()
            );
        }
        let tmp = path.with_file_name(format!(
            ".{}.tmp-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        // The check that it can be written: create the temporary file, then
        // remove it until there is something to write.
        File::create(&tmp).with_context(|| format!("cannot write {}", path.display()))?;
        let _ = std::fs::remove_file(&tmp);
        Ok(AtomicFile {
            path: path.to_path_buf(),
            tmp,
            file: None,
            done: false,
        })
    }

    fn open(&mut self) -> std::io::Result<&mut BufWriter<File>> {
        assert!(!self.done, "not committed yet");
        if self.file.is_none() {
            self.file = Some(BufWriter::new(File::create(&self.tmp)?));
        }
        Ok(self.file.as_mut().expect("just opened"))
    }

    /// Flushes, syncs and renames the temporary file onto the target path.
    /// On failure the temporary file is removed and the target left as it was.
    pub fn commit(mut self) -> Result<()> {
        let result = self
            .open()
            .map(|_| ())
            .with_context(|| format!("cannot write {}", self.path.display()));
        let file = self.file.take();
        self.done = true;
        let result = result
            .and_then(|()| {
                file.expect("opened")
                    .into_inner()
                    .map_err(|e| e.into_error())
                    .and_then(|file| file.sync_all())
                    .with_context(|| format!("cannot write {}", self.path.display()))
            })
            .and_then(|()| {
                std::fs::rename(&self.tmp, &self.path).with_context(|| {
                    format!(
                        "cannot rename {} to {}",
                        self.tmp.display(),
                        self.path.display()
                    )
                })
            });
        if result.is_err() {
            let _ = std::fs::remove_file(&self.tmp);
        }
        result
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.open()?.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.done {
            drop(self.file.take());
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appears_only_on_commit_and_leaves_nothing_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let mut f = AtomicFile::create(&path).unwrap();
        // Nothing on disk until the first write.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        f.write_all(b"half").unwrap();
        assert!(!path.exists());
        drop(f);
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        std::fs::write(&path, b"old").unwrap();
        write(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // Committed with nothing written: an empty file.
        AtomicFile::create(&path).unwrap().commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"");
    }

    #[test]
    fn unwritable_targets_are_refused_up_front_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no/such/dir/out.json");
        let err = format!("{:#}", AtomicFile::create(&missing).err().unwrap());
        assert!(err.contains("out.json"), "{err}");
        assert!(err.contains("is not a directory"), "{err}");
        let file = dir.path().join("plain");
        std::fs::write(&file, b"x").unwrap();
        let under_file = file.join("out.json");
        assert!(AtomicFile::create(&under_file).is_err());
        let err = format!("{:#}", AtomicFile::create(dir.path()).err().unwrap());
        assert!(err.contains("it is a directory"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_failed_commit_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        let mut f = AtomicFile::create(&path).unwrap();
        f.write_all(b"report").unwrap();
        // A directory appears where the output should go: the rename fails.
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("keep"), b"").unwrap();
        assert!(f.commit().is_err());
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "only the directory: {left:?}");
    }
}
