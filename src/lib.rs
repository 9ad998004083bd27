//! stance: sentence-level stance toward dialogue with armed groups in Mali.
//!
//! The pipeline runs one way, a module per stage:
//! corpus → segment → embed → classify → attribute → aggregate → report.
//! [`pipeline::Pipeline`] loads the stages from plain options and runs
//! them; `gold` and `evaluate` measure the classifiers against
//! hand-labelled sentences; `infra` holds what every stage stands on (model
//! provisioning, atomic files, streaming and `--resume`, signals). The map
//! is in ARCHITECTURE.md.

pub mod adversarial;
pub mod aggregate;
pub mod annotate;
pub mod attribute;
pub mod classify;
pub mod cli;
pub mod corpus;
pub mod embed;
pub mod encoders;
pub mod evaluate;
pub mod gold;
pub mod infra;
pub mod metrics;
pub mod pipeline;
pub mod report;
pub mod segment;
pub mod stance;

pub use stance::{Scores, Stance};
