//! `stance train`: learn a classifier from labelled sentences and save it.

use super::score::{load_encoder, set_threads};
use super::TrainArgs;
use crate::atomic::AtomicFile;
use crate::classify::linear::{LinearConfig, LinearTrainer};
use crate::classify::train::{embed_labelled, read_labelled, Examples};
use crate::stance::Stance;
use anyhow::{bail, Result};
use std::io::Write;

pub fn run(args: TrainArgs) -> Result<u8> {
    set_threads(args.threads)?;
    if args.classifier != "linear" {
        bail!("cannot train {:?} (trainable: linear)", args.classifier);
    }
    // Opened before any work, so an unwritable --out fails at once; the head
    // appears only when it is complete.
    let mut out = AtomicFile::create(&args.out)?;
    let data = read_labelled(&args.gold)?;
    if data.is_empty() {
        bail!("no labelled sentences in {:?}", args.gold);
    }
    let encoder = load_encoder(&args.model, 32, args.quiet)?;
    let texts: Vec<&str> = data.iter().map(|d| d.text.as_str()).collect();
    let labels: Vec<Stance> = data.iter().map(|d| d.stance).collect();
    let groups: Vec<&str> = data.iter().map(|d| d.group.as_str()).collect();
    let (embeddings, previous) = embed_labelled(encoder.as_ref(), &data)?;
    let trainer = LinearTrainer {
        name: args.classifier.clone(),
        encoder: encoder.name().to_string(),
        config: LinearConfig::default(),
        sources: args.gold.iter().map(|p| p.display().to_string()).collect(),
    };
    let head = trainer.train_grouped(
        Examples {
            texts: &texts,
            embeddings: embeddings.view(),
            labels: &labels,
            previous: Some(previous.view()),
            groups: None,
        },
        &groups,
    )?;
    out.write_all(head.to_json()?.as_bytes())?;
    out.commit()?;
    eprintln!(
        "trained {} on {} sentences ({} groups), lambda {} chosen by grouped CV {:?}; saved {}",
        head.name,
        head.meta.examples,
        {
            let mut g = groups.clone();
            g.sort();
            g.dedup();
            g.len()
        },
        head.meta.lambda,
        head.meta.cv_macro_f1,
        args.out.display()
    );
    Ok(0)
}
