//! Evaluation against a gold set: alignment by span, agreement metrics,
//! baselines and reports.

pub mod align;
pub mod metrics;
pub mod report;
