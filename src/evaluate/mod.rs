//! Evaluation against a gold set: alignment by span, agreement metrics,
//! baselines and reports.

pub mod agreement;
pub mod align;
pub mod attribution;
pub mod html;
pub mod report;
pub mod run;

pub use align::Prediction;
pub use report::{score_predictions, ClassifierReport, EvalReport, GoldSummary, Setting};
