//! stance: sentence-level stance toward dialogue with armed groups in Mali.
//!
//! The pipeline runs one way, a module per stage:
//! corpus → segment → embed → classify → attribute → aggregate → report.

pub mod embed;
pub mod segment;
pub mod stance;

pub use stance::{Scores, Stance};
