//! `stance train`: learn a classifier from labelled sentences and save it.

use super::TrainArgs;
use crate::classify::linear::{FeatureConfig, LinearConfig, LinearTrainer};
use crate::classify::setfit::SetFitFile;
use crate::classify::train::{embed_labelled, read_labelled, Examples};
use crate::infra::atomic::AtomicFile;
use crate::pipeline::{set_threads, setfit_trainer, PipelineOptions};
use crate::stance::Stance;
use anyhow::{bail, Result};
use std::io::Write;

pub fn run(args: TrainArgs) -> Result<u8> {
    set_threads(args.threads)?;
    // Opened before any work, so an unwritable --out fails at once; the head
    // appears only when it is complete.
    let out = AtomicFile::create(&args.out)?;
    if args.classifier == "setfit" {
        return train_setfit(args, out);
    }
    match super::eval::linear_features(&args.classifier) {
        Some(features) => train_linear(args, out, features),
        None => bail!(
            "cannot train {:?} (trainable: linear, linear+context, linear+cues, \
             linear+context+cues, setfit)",
            args.classifier
        ),
    }
}

/// SetFit: fine-tune the encoder (its weights go into the cache) and save
/// the head with the recipe that rebuilds the encoder.
fn train_setfit(args: TrainArgs, mut out: AtomicFile) -> Result<u8> {
    let trainer = setfit_trainer(&args.model.choice(args.quiet), &args.setfit.setfit_config)?;
    let file = SetFitFile::train(&trainer, &args.gold, &crate::infra::provision::cache_dir()?)?;
    out.write_all(file.to_json()?.as_bytes())?;
    out.commit()?;
    eprintln!(
        "trained {} on {} sentences from {:?}: encoder {} (weights sha256 {}, in the cache), \
         head lambda {}; saved {}",
        file.head.name,
        file.recipe.examples,
        file.sources,
        file.recipe.encoder_name(),
        file.weights_sha256,
        file.head.meta.lambda,
        args.out.display()
    );
    Ok(0)
}

/// A linear head on the frozen encoder's vectors.
fn train_linear(args: TrainArgs, mut out: AtomicFile, features: FeatureConfig) -> Result<u8> {
    let data = read_labelled(&args.gold)?;
    if data.is_empty() {
        bail!("no labelled sentences in {:?}", args.gold);
    }
    let encoder = super::load_encoder(
        &args.model.choice(args.quiet),
        PipelineOptions::default().batch_size,
    )?;
    let texts: Vec<&str> = data.iter().map(|d| d.text.as_str()).collect();
    let labels: Vec<Stance> = data.iter().map(|d| d.stance).collect();
    let groups: Vec<&str> = data.iter().map(|d| d.group.as_str()).collect();
    let (embeddings, previous) = embed_labelled(encoder.as_ref(), &data)?;
    let trainer = LinearTrainer {
        name: args.classifier.clone(),
        encoder: encoder.name().to_string(),
        config: LinearConfig {
            features,
            ..LinearConfig::default()
        },
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
