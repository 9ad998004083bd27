//! Scores a text from Rust: `cargo run --release --example score_text -- "TEXT"`.
//! Uses the fast encoder (MiniLM; fetched into the cache on first use) and
//! its shipped head; `PipelineOptions::default()` takes the CLI's defaults.
use stance::pipeline::{EncoderChoice, Pipeline, PipelineOptions};

fn main() -> anyhow::Result<()> {
    let text = std::env::args().nth(1).unwrap_or_else(|| {
        "Bamako says it is ready to talk to the JNIM. Paris rejects any negotiation with terrorists."
            .to_string()
    });
    let encoder = EncoderChoice {
        name: "minilm".into(),
        ..EncoderChoice::default()
    };
    let pipeline = Pipeline::load(&PipelineOptions {
        encoder,
        ..PipelineOptions::default()
    })?;
    for s in pipeline.score_text("example", &text)? {
        let holder = s.holder.map_or("-", |h| h.as_str());
        println!(
            "{:<14} {:<8} {}",
            s.stance.to_string(),
            holder,
            s.sentence.text
        );
    }
    Ok(())
}
