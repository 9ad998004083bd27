//! A fine-tuned encoder is kept as its recipe, not its weights: 90 MB of
//! weights per model cannot be committed, but base model + data + settings +
//! seed determine them bit for bit (on one kind of machine). A saved model
//! records the recipe and the sha256 of the weights it produced; the first
//! use rebuilds them into the cache, under a directory named by the
//! recipe's hash, and checks the result against the recorded sha256.

use std::path::{Path, PathBuf};

use anyhow::{ensure, Context, Result};
use candle_core::Device;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::model::{load_varmap, weights_sha256};
use super::SetFitConfig;
use crate::classify::train::LabelledSentence;
use crate::embed::bert::read_config;
use crate::infra::provision::{unique_suffix, TempPath};

/// Bumped whenever a change to the training code changes the weights a
/// recipe gives, so old recipes get new cache keys instead of failing
/// their weight check.
pub const TRAINER_VERSION: u32 = 1;

/// What determines a fine-tuned encoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    pub trainer_version: u32,
    /// The base model's name (its manifest in `models/`).
    pub base_model: String,
    /// sha256 of the base model's `model.safetensors`, from its manifest.
    pub base_weights_sha256: String,
    pub config: SetFitConfig,
    /// sha256 over the training sentences and labels in canonical order
    /// (see [`canonical_order`]).
    pub training_sha256: String,
    pub examples: usize,
}

impl Recipe {
    /// sha256 of the recipe's JSON (fields in declaration order).
    pub fn sha256(&self) -> String {
        let json = serde_json::to_vec(self).expect("a recipe serialises");
        hex::encode(Sha256::digest(json))
    }

    /// The fine-tuned encoder's name, which is also its cache directory.
    pub fn encoder_name(&self) -> String {
        format!("{}-setfit-{}", self.base_model, &self.sha256()[..16])
    }

    /// Where the fine-tuned encoder lives in the cache at `cache_root`.
    pub fn cache_dir(&self, cache_root: &Path) -> PathBuf {
        cache_root.join("finetuned").join(self.encoder_name())
    }
}

/// Sorts labelled sentences by text, then label, then group: training sees
/// them in this order whatever order the files list them in, so the same
/// sentences always give the same weights.
pub fn canonical_order(data: &mut [LabelledSentence]) {
    data.sort_by(|a, b| {
        (a.text.as_str(), a.stance, a.group.as_str()).cmp(&(
            b.text.as_str(),
            b.stance,
            b.group.as_str(),
        ))
    });
}

/// Files of a fine-tuned encoder copied from its base model unchanged.
/// (The sentence-transformers files are what `embed::SentenceEncoder`
/// checks the pipeline against.)
const COPIED_FILES: &[&str] = &[
    "config.json",
    "tokenizer.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
];

/// Writes a fine-tuned encoder (`varmap` over the base model in `base_dir`)
/// into `dest` as a model directory `embed::BertEncoder::load` reads, with
/// its recipe beside it. The directory is staged and renamed into place, so
/// a crash never leaves half a model. Returns the weights' sha256.
pub fn store(
    varmap: &candle_nn::VarMap,
    base_dir: &Path,
    recipe: &Recipe,
    dest: &Path,
) -> Result<String> {
    let parent = dest
        .parent()
        .with_context(|| format!("{}: no parent directory", dest.display()))?;
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let staging = TempPath(parent.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        unique_suffix()
    )));
    std::fs::create_dir(&staging.0)
        .with_context(|| format!("cannot create {}", staging.0.display()))?;
    for file in COPIED_FILES {
        let to = staging.0.join(file);
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::copy(base_dir.join(file), &to)
            .with_context(|| format!("cannot copy {} from {}", file, base_dir.display()))?;
    }
    let weights = staging.0.join("model.safetensors");
    varmap
        .save(&weights)
        .with_context(|| format!("cannot write {}", weights.display()))?;
    std::fs::write(
        staging.0.join("recipe.json"),
        serde_json::to_string_pretty(recipe)? + "\n",
    )?;
    let digest = weights_sha256(varmap)?;
    // What was written must read back as the same weights.
    verify(&staging.0, &digest)?;
    if dest.exists() {
        if verify(dest, &digest).is_ok() {
            return Ok(digest);
        }
        std::fs::remove_dir_all(dest)
            .with_context(|| format!("cannot replace {}", dest.display()))?;
    }
    if let Err(e) = std::fs::rename(&staging.0, dest) {
        // Another process may have stored the same model meanwhile.
        if verify(dest, &digest).is_ok() {
            return Ok(digest);
        }
        return Err(e).with_context(|| format!("cannot move the model into {}", dest.display()));
    }
    Ok(digest)
}

/// Checks that the weights in model directory `dir` have sha256 `expected`
/// (as [`weights_sha256`] computes it).
pub fn verify(dir: &Path, expected: &str) -> Result<()> {
    let config = read_config(dir)?;
    let varmap = load_varmap(dir, &config, &Device::Cpu)?;
    let found = weights_sha256(&varmap)?;
    ensure!(
        found == expected,
        "{}: weights have sha256 {found}, expected {expected}",
        dir.join("model.safetensors").display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stance::Stance;

    fn recipe() -> Recipe {
        Recipe {
            trainer_version: TRAINER_VERSION,
            base_model: "all-MiniLM-L6-v2".into(),
            base_weights_sha256: "ab".repeat(32),
            config: SetFitConfig::default(),
            training_sha256: "cd".repeat(32),
            examples: 10,
        }
    }

    #[test]
    fn the_hash_covers_every_ingredient_and_nothing_else() {
        let r = recipe();
        assert_eq!(r.sha256(), recipe().sha256());
        assert_eq!(r.sha256().len(), 64);
        let variants = [
            Recipe {
                trainer_version: TRAINER_VERSION + 1,
                ..recipe()
            },
            Recipe {
                base_weights_sha256: "ef".repeat(32),
                ..recipe()
            },
            Recipe {
                training_sha256: "00".repeat(32),
                ..recipe()
            },
            Recipe {
                examples: 11,
                ..recipe()
            },
            Recipe {
                config: SetFitConfig {
                    seed: 43,
                    ..SetFitConfig::default()
                },
                ..recipe()
            },
            Recipe {
                config: SetFitConfig {
                    learning_rate: 2.0000001e-5,
                    ..SetFitConfig::default()
                },
                ..recipe()
            },
        ];
        for v in &variants {
            assert_ne!(v.sha256(), r.sha256(), "{v:?}");
        }
        let root = Path::new("/cache");
        assert!(r.cache_dir(root).ends_with(format!(
            "finetuned/all-MiniLM-L6-v2-setfit-{}",
            &r.sha256()[..16]
        )));
        // A recipe read back from JSON has the same hash.
        let back: Recipe =
            serde_json::from_str(&serde_json::to_string_pretty(&r).unwrap()).unwrap();
        assert_eq!(back.sha256(), r.sha256());
    }

    #[test]
    fn canonical_order_ignores_the_input_order() {
        let s = |text: &str, stance, group: &str| LabelledSentence {
            text: text.into(),
            stance,
            previous: None,
            group: group.into(),
        };
        let mut a = vec![
            s("b", Stance::Pro, "x"),
            s("a", Stance::Neutral, "y"),
            s("a", Stance::Anti, "z"),
        ];
        let mut b = a.clone();
        b.reverse();
        canonical_order(&mut a);
        canonical_order(&mut b);
        assert_eq!(a, b);
        assert_eq!(a[0], s("a", Stance::Anti, "z"));
    }
}
