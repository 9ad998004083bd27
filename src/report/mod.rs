//! The last stage: what the run writes. Sentence records as JSONL, CSV or a
//! table ([`output`]), and what the reports share, whichever stage prints
//! them (the eval report, the comparison by actor): a table built once and
//! shown as Markdown or HTML ([`table`]).

pub mod output;
pub mod table;
