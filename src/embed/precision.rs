//! The arithmetic an encoder's forward pass runs in.

use std::fmt;
use std::str::FromStr;

use crate::encoders::Architecture;

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
    /// The same with the dense layers in int8 (weights scaled per output,
    /// inputs per token, asymmetric), summed exactly in i32 (AVX-512 VNNI
    /// where the CPU has it), each token's few outlier inputs multiplied in
    /// f32 and a second int8 pass on the rounding errors of the query/key/
    /// value and output weights; cosine ≥ 0.999 to fp32 on the corpus
    /// sentences, and no zero-shot label of the gold sentences changed.
    Int8,
}

impl Precision {
    /// Every precision, in the order the command line lists them.
    pub const ALL: &'static [Precision] = &[
        Precision::Int8,
        Precision::Bf16,
        Precision::Fp32,
        Precision::Reference,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Reference => "reference",
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
            Precision::Int8 => "int8",
        }
    }

    /// The fastest precision that meets the bounds (cosine ≥ 0.999 to
    /// sentence-transformers, or ≥ 0.99 to fp32 with the zero-shot labels of
    /// ≥ 99% of the gold sentences unchanged) on this CPU: int8 where
    /// AVX-512 VNNI runs its kernels (about 1.8× fp32's speed; cosine ≥
    /// 0.999 to fp32, no gold label changed), fp32 where only AVX-512 F
    /// does, else candle's BERT, whose matrix kernels dispatch to AVX2 and
    /// which the portable fallbacks were not measured against.
    ///
    /// bf16 meets the bounds but is slower than fp32 here (`vdpbf16ps` does
    /// twice an FMA's work at half its rate). fp32 and bf16 stay one flag
    /// away.
    pub fn fastest() -> Precision {
        let cpu = super::fast::kernels::Cpu::detect();
        if cpu.avx512vnni {
            Precision::Int8
        } else if cpu.avx512f {
            Precision::Fp32
        } else {
            Precision::Reference
        }
    }

    /// The precision `architecture`'s encoder runs in unless told
    /// otherwise, on this CPU: the fastest one that meets its bounds.
    ///
    /// - BERT (MiniLM): [`Precision::fastest`].
    /// - Gemma 3 (EmbeddingGemma): bf16 where AVX-512 BF16 runs its kernels,
    ///   else fp32 where AVX-512 F does, else candle's pass. bf16 keeps
    ///   cosine ≥ 0.9999 to fp32 and every label of the shipped head on the
    ///   corpus (263 of 263); int8, faster still, changed 3 of the 263
    ///   (98.9%, under the 99% bound: all three within 0.005 of a tie), and
    ///   stays one flag away. On the AMD EPYC this was measured on, bf16 is
    ///   1.8× fp32; on Intel Xeons without AMX kernels `vdpbf16ps` runs at
    ///   about fp32's speed (MiniLM's table in the README).
    /// - MPNet: Gemma's rule. Its int8 keeps cosine ≥ 0.999 to fp32, and
    ///   kept every label of the English-only head it shipped with; the head
    ///   trained on the articles (2026-12-03) is sharper, and int8 changed 3
    ///   of its 263 corpus labels (98.9%, each a three-way tie, top
    ///   probability 0.34 to 0.36) where bf16 and fp32 changed none.
    ///   (`tests/reduced_precision.rs`; the shipped head is trained on the
    ///   default's vectors.)
    pub fn default_for(architecture: Architecture) -> Precision {
        let cpu = super::fast::kernels::Cpu::detect();
        match architecture {
            Architecture::Bert => Precision::fastest(),
            Architecture::Gemma3 | Architecture::Mpnet if cpu.avx512bf16 => Precision::Bf16,
            Architecture::Gemma3 | Architecture::Mpnet if cpu.avx512f => Precision::Fp32,
            Architecture::Gemma3 | Architecture::Mpnet => Precision::Reference,
        }
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
