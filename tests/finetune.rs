//! Fine-tuning on the real encoder, fetched the way the product fetches it
//! (`provision::ensure`, downloading on first use).

use std::path::PathBuf;
use std::sync::OnceLock;

use candle_core::Device;
use candle_nn::VarBuilder;
use indicatif::ProgressBar;
use stance::classify::finetune::model::{weights_sha256, TrainableBert};
use stance::classify::finetune::{fine_tune, pair_loss, pairs, Base, SetFitConfig, TrainingInputs};
use stance::embed::{BertEncoder, Encoder, EncoderOptions};
use stance::infra::provision::{self, FetchOptions, Manifest};
use stance::Stance;

fn model_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let manifest = Manifest::builtin("minilm").unwrap();
        let opts = FetchOptions {
            offline: false,
            progress: true,
            index_url: None,
        };
        provision::ensure(&manifest, &opts).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// A handful of labelled sentences, two of each stance and two neutral.
fn handful() -> (Vec<&'static str>, Vec<Stance>) {
    let data = [
        (
            "The government should open talks with the armed groups.",
            Stance::Pro,
        ),
        (
            "Dialogue with the jihadists is the only way to end the war.",
            Stance::Pro,
        ),
        (
            "There will be no negotiation with terrorists, the minister said.",
            Stance::Anti,
        ),
        (
            "Talking to the jihadists would only reward their violence.",
            Stance::Anti,
        ),
        (
            "The attack killed twelve soldiers near Mopti on Sunday.",
            Stance::Neutral,
        ),
        (
            "The conference was held in Bamako in December.",
            Stance::Neutral,
        ),
    ];
    data.iter().copied().unzip()
}

#[test]
fn trainable_model_gives_the_encoders_vectors() {
    let dir = model_dir();
    let (texts, _) = handful();
    let reference = BertEncoder::load(dir, EncoderOptions::default())
        .unwrap()
        .encode(&texts)
        .unwrap();
    let base = Base::load(dir, 256).unwrap();
    let model = TrainableBert::new(&base.varmap, &base.config, &Device::Cpu).unwrap();
    let ids = base.tokenizer.token_ids(&texts).unwrap();
    let seqs: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
    let (tokens, mask) = base.tokenizer.pad(&seqs, &Device::Cpu).unwrap();
    let got = model
        .embed(&tokens, &mask, None)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    let mut max_diff = 0f32;
    for (i, row) in got.iter().enumerate() {
        for (a, b) in row.iter().zip(reference.row(i)) {
            max_diff = max_diff.max((a - b).abs());
        }
    }
    assert!(max_diff < 1e-5, "max component difference {max_diff}");

    // Starting from the cached output of frozen lower layers gives the same
    // vectors as running the whole model.
    let everything: Vec<usize> = (0..texts.len()).collect();
    let full = TrainingInputs::new(&model, &base.tokenizer, &texts, 0, &Device::Cpu)
        .unwrap()
        .embed(&model, &base.tokenizer, &everything, None)
        .unwrap();
    let from_layer_4 = TrainingInputs::new(&model, &base.tokenizer, &texts, 4, &Device::Cpu)
        .unwrap()
        .embed(&model, &base.tokenizer, &everything, None)
        .unwrap();
    let diff = (full - from_layer_4)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(diff < 1e-5, "frozen-prefix vectors differ by {diff}");

    // The same weights through the encoder's fast path (candle-transformers'
    // BertModel on the VarMap) give the same vectors too.
    let via_varmap = BertEncoder::with_weights(
        "varmap".into(),
        dir,
        VarBuilder::from_varmap(&base.varmap, candle_core::DType::F32, &Device::Cpu),
        EncoderOptions::default(),
    )
    .unwrap()
    .encode(&texts)
    .unwrap();
    assert_eq!(via_varmap, reference);
}

#[test]
fn one_fine_tuning_step_lowers_the_loss_and_changes_the_weights() {
    let dir = model_dir();
    let (texts, labels) = handful();
    let config = SetFitConfig {
        pairs_per_sentence: 2,
        batch_pairs: 24,
        max_steps: Some(1),
        warmup: 0.0,
        learning_rate: 1e-4,
        dropout: 0.0,
        ..SetFitConfig::default()
    };
    let base = Base::load(dir, config.max_tokens).unwrap();
    let before = weights_sha256(&base.varmap).unwrap();
    let all_pairs = pairs::generate(&labels, config.pairs_per_sentence, config.seed);
    assert_eq!(all_pairs.len(), 24);
    let loss_of = |base: &Base| -> f32 {
        let model = TrainableBert::new(&base.varmap, &base.config, &Device::Cpu).unwrap();
        let inputs = TrainingInputs::new(&model, &base.tokenizer, &texts, 0, &Device::Cpu).unwrap();
        pair_loss(&model, &base.tokenizer, &inputs, &all_pairs, None)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    };
    let loss_before = loss_of(&base);

    let tuned = fine_tune(base, &texts, &labels, &config, &ProgressBar::hidden()).unwrap();
    assert_eq!(tuned.losses.len(), 1);
    assert!(
        (tuned.losses[0] - loss_before).abs() < 1e-6,
        "no dropout: the step saw the same loss"
    );
    let after = weights_sha256(&tuned.varmap).unwrap();
    assert_ne!(before, after, "the weights changed");

    let tokenizer = Base::load(dir, config.max_tokens).unwrap().tokenizer;
    let reloaded = Base {
        config: stance::embed::bert::read_config(dir).unwrap(),
        tokenizer,
        varmap: tuned.varmap,
    };
    let loss_after = loss_of(&reloaded);
    assert!(
        loss_after < loss_before,
        "loss {loss_before} before the step, {loss_after} after"
    );
}

/// CPU seconds (user + system) this process has used so far: on a shared
/// machine, a steadier measure than the wall clock.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Timings, not checks: `cargo test --release --test finetune -- --ignored --nocapture`.
/// Prints the wall and CPU time of the forward pass, the backward pass and
/// the optimiser step for batches of 16 pairs of the synthetic training set.
#[test]
#[ignore = "timing; run explicitly in release"]
fn step_timing() {
    use candle_nn::{AdamW, Optimizer, ParamsAdamW};
    use std::time::Instant;
    let dir = model_dir();
    let data = stance::classify::train::read_labelled(&[PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/labels/train"
    ))])
    .unwrap();
    let texts: Vec<&str> = data.iter().map(|d| d.text.as_str()).collect();
    let labels: Vec<Stance> = data.iter().map(|d| d.stance).collect();
    let all_pairs = pairs::generate(&labels, 1, 42);
    for train_words in [true, false] {
        let base = Base::load(dir, 128).unwrap();
        let mut model = TrainableBert::new(&base.varmap, &base.config, &Device::Cpu).unwrap();
        model.set_train_word_embeddings(train_words);
        let inputs = TrainingInputs::new(&model, &base.tokenizer, &texts, 0, &Device::Cpu).unwrap();
        let vars: Vec<candle_core::Var> = {
            let data = base.varmap.data().lock().unwrap();
            data.iter()
                .filter(|(n, _)| train_words || !n.contains("word_embeddings"))
                .map(|(_, v)| v.clone())
                .collect()
        };
        let mut opt = AdamW::new(vars, ParamsAdamW::default()).unwrap();
        let mut dropout = stance::classify::finetune::model::Dropout::new(
            0.1,
            <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0),
        );
        let mut phases = [[0f64; 2]; 3];
        let steps = 4;
        for batch in all_pairs.chunks(16).take(steps) {
            let (w, c) = (Instant::now(), cpu_seconds());
            let loss =
                pair_loss(&model, &base.tokenizer, &inputs, batch, Some(&mut dropout)).unwrap();
            phases[0][0] += w.elapsed().as_secs_f64();
            phases[0][1] += cpu_seconds() - c;
            let (w, c) = (Instant::now(), cpu_seconds());
            let grads = loss.backward().unwrap();
            phases[1][0] += w.elapsed().as_secs_f64();
            phases[1][1] += cpu_seconds() - c;
            let (w, c) = (Instant::now(), cpu_seconds());
            opt.step(&grads).unwrap();
            phases[2][0] += w.elapsed().as_secs_f64();
            phases[2][1] += cpu_seconds() - c;
        }
        for (name, [wall, cpu]) in ["forward", "backward", "optimiser"].iter().zip(phases) {
            eprintln!(
                "train_word_embeddings {train_words}: {name}: {:.2} s wall, {:.2} s CPU per step",
                wall / steps as f64,
                cpu / steps as f64
            );
        }
    }
}

/// A SetFit trainer for tests: the handful of sentences, two small steps.
fn tiny_trainer() -> stance::classify::setfit::SetFitTrainer {
    let manifest = Manifest::builtin("minilm").unwrap();
    stance::classify::setfit::SetFitTrainer {
        name: "setfit".into(),
        base: stance::classify::setfit::BaseModel::new(&manifest, model_dir().clone()).unwrap(),
        config: SetFitConfig {
            pairs_per_sentence: 1,
            batch_pairs: 4,
            max_steps: Some(2),
            learning_rate: 1e-4,
            warmup: 0.0,
            head: stance::classify::linear::LinearConfig {
                lambdas: vec![1e-3, 1e-2],
                steps: 100,
                balanced: true,
                ..Default::default()
            },
            ..SetFitConfig::default()
        },
        sources: vec![],
        progress: false,
    }
}

/// The handful as a training file in `dir`.
fn write_handful(dir: &std::path::Path) -> PathBuf {
    let (texts, labels) = handful();
    let path = dir.join("handful.jsonl");
    let lines: String = texts
        .iter()
        .zip(&labels)
        .map(|(t, l)| serde_json::json!({"id": "x", "text": t, "stance": l}).to_string() + "\n")
        .collect();
    std::fs::write(&path, lines).unwrap();
    path
}

fn scores(classifier: &dyn stance::classify::Classifier, texts: &[&str]) -> Vec<[f32; 3]> {
    let none = ndarray::Array2::<f32>::zeros((texts.len(), 0));
    classifier
        .classify(stance::classify::Batch {
            texts,
            embeddings: none.view(),
            previous: None,
        })
        .unwrap()
        .iter()
        .map(|s| s.0)
        .collect()
}

#[test]
fn training_twice_gives_the_same_model_and_a_rebuild_matches_its_recorded_hash() {
    use stance::classify::finetune::recipe;
    use stance::classify::setfit::SetFitFile;
    let work = tempfile::tempdir().unwrap();
    let data = write_handful(work.path());
    let (cache_a, cache_b) = (work.path().join("cache-a"), work.path().join("cache-b"));
    let trainer = tiny_trainer();
    let first = SetFitFile::train(&trainer, std::slice::from_ref(&data), &cache_a).unwrap();
    let second = SetFitFile::train(&trainer, std::slice::from_ref(&data), &cache_b).unwrap();
    assert_eq!(
        first.weights_sha256, second.weights_sha256,
        "same recipe, same weights"
    );
    assert_eq!(
        first.head.weights, second.head.weights,
        "same recipe, same head"
    );
    assert_eq!(first.head.bias, second.head.bias);
    assert_eq!(first.recipe_sha256, second.recipe_sha256);
    let base_sha = stance::classify::finetune::model::weights_sha256(
        &Base::load(model_dir(), 128).unwrap().varmap,
    )
    .unwrap();
    assert_ne!(
        first.weights_sha256, base_sha,
        "fine-tuning changed the weights"
    );

    // Saved and loaded, the model scores as the one just trained.
    let saved = work.path().join("setfit.json");
    first.save(&saved).unwrap();
    let loaded = SetFitFile::load(&saved).unwrap();
    let (texts, _) = handful();
    let classifier = loaded.classifier(&trainer.base, &cache_a, false).unwrap();
    let reference = scores(&classifier, &texts);

    // Without the cache, the first use rebuilds the encoder and checks it
    // against the recorded sha256 (a mismatch is an error).
    let dir = loaded.recipe.cache_dir(&cache_a);
    std::fs::remove_dir_all(&dir).unwrap();
    let rebuilt = loaded.classifier(&trainer.base, &cache_a, false).unwrap();
    recipe::verify(&dir, &loaded.weights_sha256).unwrap();
    assert_eq!(scores(&rebuilt, &texts), reference);

    // A damaged cache is rebuilt too.
    std::fs::write(dir.join("model.safetensors"), b"not weights").unwrap();
    let repaired = loaded.classifier(&trainer.base, &cache_a, false).unwrap();
    assert_eq!(scores(&repaired, &texts), reference);

    // Changed training data cannot rebuild the recorded model.
    std::fs::remove_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(&data).unwrap();
    std::fs::write(&data, text.replace("twelve", "eleven")).unwrap();
    let err = format!(
        "{:#}",
        loaded
            .classifier(&trainer.base, &cache_a, false)
            .err()
            .unwrap()
    );
    assert!(err.contains("have changed"), "{err}");

    // An edited recipe is refused on load.
    let json = std::fs::read_to_string(&saved).unwrap();
    std::fs::write(&saved, json.replacen("\"seed\":42", "\"seed\":41", 1)).unwrap();
    let err = format!("{:#}", SetFitFile::load(&saved).unwrap_err());
    assert!(err.contains("recipe"), "{err}");
}
