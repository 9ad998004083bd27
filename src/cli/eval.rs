//! `stance eval`: every classifier against the gold set, side by side.

use super::{EvalArgs, Sink};
use crate::aggregate::{actor_table, SentenceClaims};
use crate::attribute::Attributor;
use crate::classify::linear::{FeatureConfig, LinearConfig, LinearTrainer};
use crate::classify::train::{embed_labelled, LabelledSentence, MajorityTrainer, Trainer};
use crate::classify::Classifier;
use crate::corpus::{Article, ArticleReader};
use crate::embed::Encoder;
use crate::evaluate::attribution::{
    attribute_gold, attributed_sentence_claims, comparison_error, gold_sentence_claims,
    score_attribution, AttributionSection,
};
use crate::evaluate::run::{
    evaluate_trained, evaluate_untrained, Evaluated, GoldExamples, Yardstick,
};
use crate::evaluate::{score_predictions, EvalReport, GoldSummary, Prediction, Setting};
use crate::gold::{GoldSet, Texts};
use crate::pipeline::{attribute, Embedded, ScoredSentence, TextClassifier};
use crate::pipeline::{
    load_classifier, needs_encoder, set_threads, setfit_supported, setfit_trainer,
};
use crate::segment::RuleSegmenter;
use anyhow::{bail, Context, Result};
use ndarray::Array2;
use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::Arc;

/// Classifiers that need no training, then the trained floors.
const UNTRAINED: &[&str] = &["zero-shot", "keyword"];
const TRAINED: &[&str] = &[
    "majority",
    "linear",
    "linear+context",
    "linear+cues",
    "linear+context+cues",
    "setfit",
];

/// Report format of `stance eval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Json,
    Md,
    Html,
}

/// The trainer behind a trained classifier's name; `encoder` names the
/// encoder whose vectors it learns from.
fn trainer(name: &str, encoder: Option<&str>, args: &EvalArgs) -> Result<Option<Box<dyn Trainer>>> {
    Ok(match name {
        "majority" => Some(Box::new(MajorityTrainer)),
        "setfit" => Some(Box::new(setfit_trainer(
            &args.model.choice(args.quiet),
            &args.setfit.setfit_config,
        )?)),
        _ => linear_features(name).map(|features| {
            Box::new(LinearTrainer {
                name: name.to_string(),
                encoder: encoder.unwrap_or_default().to_string(),
                config: LinearConfig {
                    features,
                    ..LinearConfig::default()
                },
                sources: vec![],
            }) as Box<dyn Trainer>
        }),
    })
}

/// The features of a linear-head variant named `linear[+context][+cues]`.
pub(crate) fn linear_features(name: &str) -> Option<FeatureConfig> {
    let mut parts = name.split('+');
    if parts.next() != Some("linear") {
        return None;
    }
    let mut features = FeatureConfig::default();
    for part in parts {
        match part {
            "context" => features.context = true,
            "cues" => features.cues = true,
            _ => return None,
        }
    }
    Some(features)
}

/// Reads a JSONL file of predictions (e.g. `stance score` output).
fn read_predictions(path: &Path) -> Result<Vec<Prediction>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("{}:{}: cannot read", path.display(), i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let p: Prediction = serde_json::from_str(&line)
            .with_context(|| format!("{}:{}: not a prediction record", path.display(), i + 1))?;
        out.push(p);
    }
    Ok(out)
}

pub fn run(args: EvalArgs) -> Result<u8> {
    set_threads(args.threads)?;
    // Opened first, so an unwritable --out fails before minutes of work.
    let mut sink = Sink::open(args.out.as_deref())?;
    let english = GoldDocuments::load("en", &args.corpus, &args.gold, None)?;
    let french = if args.english_only
        || (args.gold_fr == Path::new(super::DEFAULT_GOLD_FR) && !args.gold_fr.exists())
    {
        None
    } else {
        Some(GoldDocuments::load(
            "fr",
            &args.corpus_fr,
            &args.gold_fr,
            Some(&english.stories),
        )?)
        .filter(|f| !f.articles.is_empty())
    };

    let extra = crate::classify::train::read_labelled(&args.train_extra)?;
    let names: Vec<&str> = if args.predictions.is_some() {
        vec![]
    } else if args.classifier == "all" {
        // SetFit fine-tunes BERT encoders only: on another encoder `all`
        // leaves it out and says so, rather than failing after the rest.
        let setfit = setfit_supported(&args.model.choice(args.quiet))?;
        if !setfit {
            eprintln!(
                "note: SetFit left out of `all`: it fine-tunes BERT encoders only (--encoder minilm)"
            );
        }
        UNTRAINED
            .iter()
            .chain(TRAINED)
            .copied()
            .filter(|&n| setfit || n != "setfit")
            .collect()
    } else {
        args.classifier.split(',').map(str::trim).collect()
    };
    // With gold stances, clauses of two-holder sentences are judged by the
    // evaluated classifier when it needs no training, else by zero-shot: a
    // model trained on the gold set would judge its own training sentences.
    let clause_name = args.clause_classifier.clone().unwrap_or_else(|| {
        if names.len() == 1 && UNTRAINED.contains(&names[0]) {
            names[0].to_string()
        } else {
            "zero-shot".to_string()
        }
    });
    let encoder = if names.iter().any(|n| needs_encoder(n)) || needs_encoder(&clause_name) {
        Some(super::load_encoder(
            &args.model.choice(args.quiet),
            crate::pipeline::PipelineOptions::default().batch_size,
        )?)
    } else {
        None
    };
    let encoder_ref = encoder.as_deref();
    let segmenter = RuleSegmenter::default();
    let mut reports = Vec::new();
    let mut evaluated: Vec<Evaluated> = Vec::new();
    let mut file_predictions: Option<Vec<Prediction>> = None;
    if let Some(path) = &args.predictions {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let predictions = read_predictions(path)?;
        reports.push(score_predictions(
            &name,
            Setting::PredictionsFile,
            &english.gold,
            &predictions,
        ));
        file_predictions = Some(predictions);
    }
    let languages: Vec<&GoldDocuments> = std::iter::once(&english).chain(&french).collect();
    let embedded: Vec<Embedded> = if names.is_empty() && !needs_encoder(&clause_name) {
        Vec::new()
    } else {
        let used = encoder_ref
            .filter(|_| names.iter().any(|n| needs_encoder(n)) || needs_encoder(&clause_name));
        languages
            .iter()
            .map(|l| Embedded::new(&segmenter, used, &l.articles))
            .collect::<Result<_>>()?
    };
    let yardsticks: Vec<Yardstick> = languages
        .iter()
        .zip(&embedded)
        .map(|(l, embedded)| Yardstick {
            language: l.language,
            gold: &l.gold,
            embedded,
            stories: &l.stories,
        })
        .collect();
    // The gold sentences of every language, grouped by story, as training
    // examples of the trained classifiers.
    let gold_examples: Vec<LabelledSentence> = languages
        .iter()
        .flat_map(|l| {
            LabelledSentence::from_gold(&l.gold)
                .into_iter()
                .map(|mut s| {
                    s.group = l.story_of(&s.group).to_string();
                    s
                })
                .collect::<Vec<_>>()
        })
        .collect();
    // The training sentences are embedded once, for every trainer that
    // reads the encoder's vectors; trainers that read none get zero columns.
    type Vectors = (Array2<f32>, Array2<f32>);
    let mut training_vectors: Option<(Vectors, Vectors)> = None;
    let no_vectors = |n: usize| (Array2::zeros((n, 0)), Array2::zeros((n, 0)));
    let (no_gold, no_extra): (Vectors, Vectors) =
        (no_vectors(gold_examples.len()), no_vectors(extra.len()));
    // Each classifier's English figures come first, then its translations'.
    for name in &names {
        if let Some(trainer) = trainer(name, encoder_ref.map(|e| e.name()), &args)? {
            let ((embeddings, previous), (extra_embeddings, extra_previous)) =
                match (trainer.encoder(), encoder_ref) {
                    (None, _) => (&no_gold, &no_extra),
                    (Some(_), Some(enc)) => {
                        if training_vectors.is_none() {
                            training_vectors = Some((
                                embed_labelled(enc, &gold_examples)?,
                                embed_labelled(enc, &extra)?,
                            ));
                        }
                        let (gold, extra) = training_vectors.as_ref().expect("embedded above");
                        (gold, extra)
                    }
                    (Some(needed), None) => bail!("{name} needs encoder {needed}"),
                };
            let examples = GoldExamples {
                gold: &gold_examples,
                embeddings: embeddings.view(),
                previous: previous.view(),
                extra: &extra,
                extra_embeddings: extra_embeddings.view(),
                extra_previous: extra_previous.view(),
            };
            evaluated.extend(evaluate_trained(
                &examples,
                &yardsticks,
                trainer.as_ref(),
                args.cv,
            )?);
        } else {
            let classifier: Arc<dyn Classifier> =
                load_classifier(name, encoder_ref, &args.model.choice(args.quiet))?.into();
            for yardstick in &yardsticks {
                evaluated.push(evaluate_untrained(yardstick, classifier.clone())?);
            }
        }
    }
    // Each classifier's own predictions (out of fold for trained ones) feed
    // the actor comparison, so its error against gold is the one a user of
    // that classifier would see on articles it never trained on. The
    // comparison is made on the English gold.
    let mut predicted: Vec<PredictedStances> = Vec::new();
    for Evaluated {
        report,
        scored,
        models,
    } in evaluated
    {
        if report.language == english.language {
            let name = match report.setting {
                Setting::LeaveOneDocOut => format!("{} stances (out of fold)", report.classifier),
                Setting::TrainingSet => format!("{} stances (training set)", report.classifier),
                _ => format!("{} stances", report.classifier),
            };
            predicted.push(PredictedStances {
                name,
                scored,
                models,
            });
        }
        reports.push(report);
    }

    let mut report = EvalReport::new(&args.gold.display().to_string(), &english.gold, reports);
    report.translations = french
        .iter()
        .map(|f| GoldSummary::new(f.language, &args.gold_fr.display().to_string(), &f.gold))
        .collect();
    report.attribution = Some(attribution_section(
        &args,
        &clause_name,
        encoder_ref,
        &english.gold,
        &english.texts,
        &english.articles,
        predicted,
        file_predictions.as_deref(),
    )?);
    let mut texts = english.texts.clone();
    if let Some(f) = &french {
        texts.extend(f.texts.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let rendered = match args.format {
        ReportFormat::Json => report.to_json(),
        ReportFormat::Md => report.to_markdown(),
        ReportFormat::Html => crate::evaluate::html::render(&report, &texts),
    };
    sink.write_all(rendered.as_bytes())?;
    sink.commit()?;
    Ok(0)
}

/// A gold set in one language and the documents it labels.
struct GoldDocuments {
    language: &'static str,
    gold: GoldSet,
    /// The labelled documents, sorted by id.
    articles: Vec<Article>,
    texts: Texts,
    /// The story of each article (same order): the original's id.
    stories: Vec<String>,
}

impl GoldDocuments {
    /// Reads the articles under `corpus` and the gold set `gold_path`
    /// (strictly). With `originals`, the set is a translation: each
    /// article's `translation_of` names its original, and only the
    /// translations of those originals are kept.
    fn load(
        language: &'static str,
        corpus: &Path,
        gold_path: &Path,
        originals: Option<&[String]>,
    ) -> Result<Self> {
        let mut articles: Vec<Article> = Vec::new();
        for article in ArticleReader::new(&[corpus.to_path_buf()]) {
            articles.push(article?);
        }
        let texts: Texts = articles
            .iter()
            .map(|a| (a.id.clone(), a.text.clone()))
            .collect();
        let mut gold = match GoldSet::load(gold_path, &texts) {
            Ok(gold) => gold,
            Err(errors) => {
                for e in &errors {
                    eprintln!("error: {e}");
                }
                bail!(
                    "{} gold record(s) refused; nothing was evaluated",
                    errors.len()
                );
            }
        };
        let story = |a: &Article| -> Result<String> {
            match originals {
                None => Ok(a.id.clone()),
                Some(_) => a.meta.translation_of.clone().with_context(|| {
                    format!(
                        "{}: a translated gold document needs `translation_of` (the original's id) in {}",
                        a.origin,
                        crate::corpus::METADATA_FILE
                    )
                }),
            }
        };
        let gold_docs = gold.docs();
        articles.retain(|a| gold_docs.contains(&a.id.as_str()));
        let mut stories = Vec::new();
        let mut kept = Vec::new();
        for article in articles {
            let s = story(&article)?;
            if originals.is_none_or(|o| o.contains(&s)) {
                stories.push(s);
                kept.push(article);
            }
        }
        let kept_ids: Vec<&str> = kept.iter().map(|a| a.id.as_str()).collect();
        gold.records.retain(|r| kept_ids.contains(&r.doc.as_str()));
        let mut order: Vec<usize> = (0..kept.len()).collect();
        order.sort_by(|&a, &b| kept[a].id.cmp(&kept[b].id));
        let articles: Vec<Article> = order.iter().map(|&i| kept[i].clone()).collect();
        let stories: Vec<String> = order.iter().map(|&i| stories[i].clone()).collect();
        Ok(GoldDocuments {
            language,
            gold,
            articles,
            texts,
            stories,
        })
    }

    /// The story of document `doc`.
    fn story_of<'a>(&'a self, doc: &'a str) -> &'a str {
        self.articles
            .iter()
            .position(|a| a.id == doc)
            .map_or(doc, |i| &self.stories[i])
    }
}

/// One evaluated classifier's stances on the gold documents, and the model
/// that gave each document's (for its clauses).
struct PredictedStances {
    name: String,
    scored: Vec<Vec<ScoredSentence>>,
    models: Vec<Arc<dyn Classifier>>,
}

/// Holders and targets given the gold stances, and the actor comparison
/// against the one from gold claims: with gold stances (attribution error
/// only), and with the stances of each evaluated classifier and of a
/// predictions file.
#[allow(clippy::too_many_arguments)]
fn attribution_section(
    args: &EvalArgs,
    clause_name: &str,
    encoder: Option<&dyn Encoder>,
    gold: &GoldSet,
    texts: &Texts,
    articles: &[Article],
    predicted: Vec<PredictedStances>,
    file_predictions: Option<&[Prediction]>,
) -> Result<AttributionSection> {
    let attributor = args.actors.attributor()?;
    let clause_classifier = load_classifier(clause_name, encoder, &args.model.choice(args.quiet))?;
    let clauses = TextClassifier {
        encoder,
        classifier: clause_classifier.as_ref(),
    };
    let pairs = attribute_gold(&attributor, gold, texts, &clauses)?;
    let scores = score_attribution(clause_name, &pairs);
    let docs: Vec<String> = gold.docs().iter().map(|d| d.to_string()).collect();
    let gold_table = actor_table(&gold_sentence_claims(gold), &docs);
    let mut comparisons = vec![comparison_error(
        "gold stances",
        &actor_table(&attributed_sentence_claims(&pairs), &docs),
        &gold_table,
    )];
    if let Some(predictions) = file_predictions {
        let sentences = prediction_claims(&attributor, articles, predictions, &clauses)?;
        comparisons.push(comparison_error(
            "predictions file",
            &actor_table(&sentences, &docs),
            &gold_table,
        ));
    }
    for PredictedStances {
        name,
        mut scored,
        models,
    } in predicted
    {
        // Each document's clauses are judged by the model that scored it.
        for ((article, doc), model) in articles.iter().zip(scored.iter_mut()).zip(&models) {
            let judge = TextClassifier {
                encoder,
                classifier: model.as_ref(),
            };
            attribute(
                &attributor,
                std::slice::from_ref(article),
                std::slice::from_mut(doc),
                &judge,
            )?;
        }
        let claims: Vec<SentenceClaims> =
            scored.iter().flatten().map(SentenceClaims::from).collect();
        comparisons.push(comparison_error(
            &name,
            &actor_table(&claims, &docs),
            &gold_table,
        ));
    }
    Ok(AttributionSection {
        scores,
        gold_net: gold_table.actors.iter().map(|(h, r)| (*h, r.net)).collect(),
        comparisons,
    })
}

/// Sentences with claims from a predictions file: the records' own claims
/// when they carry them (`stance score` output), else attributed here.
fn prediction_claims(
    attributor: &Attributor,
    articles: &[Article],
    predictions: &[Prediction],
    clauses: &dyn crate::attribute::ClauseStance,
) -> Result<Vec<SentenceClaims>> {
    let to_claims =
        |p: &Prediction, claims: Vec<crate::stance::SpokenClaim>, voice| SentenceClaims {
            doc: p.doc.clone(),
            start: p.start,
            end: p.end,
            text: p.text.clone(),
            stance: p.stance,
            boilerplate: p.boilerplate,
            claims,
            voice,
            scores: None,
            story: None,
        };
    if predictions.iter().any(|p| p.claims.is_some()) {
        return Ok(predictions
            .iter()
            .map(|p| {
                to_claims(
                    p,
                    p.claims.clone().unwrap_or_default(),
                    p.holder
                        .filter(|_| p.stance == crate::stance::Stance::Neutral),
                )
            })
            .collect());
    }
    let mut out = Vec::new();
    for article in articles {
        let mut mine: Vec<&Prediction> =
            predictions.iter().filter(|p| p.doc == article.id).collect();
        mine.sort_by_key(|p| p.start);
        let doc = crate::attribute::DocIn {
            text: &article.text,
            sentences: mine
                .iter()
                .map(|p| crate::attribute::SentenceIn {
                    start: p.start,
                    end: p.end,
                    text: &p.text,
                    stance: p.stance,
                    boilerplate: p.boilerplate,
                })
                .collect(),
        };
        let attributions = attributor.attribute(std::slice::from_ref(&doc), clauses)?;
        for (p, a) in mine.iter().zip(attributions.into_iter().flatten()) {
            let voice = if a.stance == crate::stance::Stance::Neutral {
                a.holder
            } else {
                None
            };
            let mut s = to_claims(p, a.spoken_claims(), voice);
            s.stance = a.stance;
            out.push(s);
        }
    }
    Ok(out)
}
