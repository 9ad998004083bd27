//! `stance split`: sentences with spans and boilerplate flags, as JSONL.

use super::{report_input_error, warn_about_article, Sink, SplitArgs, EXIT_SOME_FAILED};
use crate::corpus::ArticleReader;
use crate::pipeline::split_article;
use crate::report::output::write_split_jsonl;
use crate::segment::RuleSegmenter;
use anyhow::Result;

pub fn run(args: SplitArgs) -> Result<u8> {
    let segmenter = RuleSegmenter::default();
    if args.out.is_some() {
        crate::infra::signals::install();
    }
    let mut sink = Sink::open(args.out.as_deref())?;
    let mut failed = 0usize;
    for article in ArticleReader::new(&args.input.paths) {
        crate::infra::signals::check()?;
        match article {
            Ok(article) => {
                warn_about_article(&article);
                write_split_jsonl(&mut sink, &split_article(&segmenter, &article))?
            }
            Err(e) => {
                report_input_error(&e);
                failed += 1;
            }
        }
    }
    sink.commit()?;
    Ok(if failed > 0 { EXIT_SOME_FAILED } else { 0 })
}
