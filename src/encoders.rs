//! The built-in encoders, as data: one entry per `--encoder` name, with its
//! manifest (files, sha256, source, licence), the head shipped for it and
//! its architecture; and per architecture, whether our fast forward pass
//! runs it and whether SetFit fine-tunes it. Provisioning, the encoder
//! loader, the shipped-head lookup and SetFit read this table and nothing
//! else, so a fourth encoder is its manifest in `models/`, an entry here and,
//! for a new architecture, a backbone file in `embed/` (see ARCHITECTURE.md).
//!
//! Plain data with no imports: every stage and `infra/` may read it.

/// The encoder commands use unless told otherwise: EmbeddingGemma-300M,
/// whose shipped head has the best leave-one-document-out macro-F1 averaged
/// over the English and French gold (README, "Stance accuracy"). `minilm` is
/// the fast mode for large batches.
pub const DEFAULT_ENCODER: &str = "gemma";

/// A file built into the binary, with the path it was read from.
#[derive(Debug, Clone, Copy)]
pub struct Shipped {
    /// Where it lives in the repository (named in errors).
    pub path: &'static str,
    pub text: &'static str,
}

/// The architectures the backbones in `embed/` implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// `embed/bert.rs` (candle) and `embed/fast/` (ours).
    Bert,
    /// `embed/mpnet.rs` (candle) and `embed/fast/mpnet.rs` (ours).
    Mpnet,
    /// `embed/gemma.rs` (candle) and `embed/fast/gemma.rs` (ours).
    Gemma3,
}

impl Architecture {
    pub const ALL: &'static [Architecture] = &[
        Architecture::Bert,
        Architecture::Mpnet,
        Architecture::Gemma3,
    ];

    /// The `model_type` a model's `config.json` names for it.
    pub fn model_type(self) -> &'static str {
        match self {
            Architecture::Bert => "bert",
            Architecture::Mpnet => "mpnet",
            Architecture::Gemma3 => "gemma3_text",
        }
    }

    /// The architecture a `config.json` `model_type` names, if one is built in.
    pub fn from_model_type(model_type: &str) -> Option<Self> {
        Architecture::ALL
            .iter()
            .copied()
            .find(|a| a.model_type() == model_type)
    }

    /// Whether SetFit fine-tunes it (`classify/finetune/` trains BERT).
    pub fn fine_tunable(self) -> bool {
        self == Architecture::Bert
    }
}

/// One built-in encoder.
#[derive(Debug, Clone, Copy)]
pub struct EncoderFamily {
    /// The `--encoder` name; the manifest's `alias`.
    pub alias: &'static str,
    /// The model's name: the manifest's `name`, `Encoder::name`, the
    /// `encoder` a trained head records.
    pub name: &'static str,
    pub architecture: Architecture,
    /// The manifest `infra::provision` fetches and verifies it by.
    pub manifest: Shipped,
    /// The linear head `--classifier linear` uses on its vectors (see
    /// `models/heads/README.md`).
    pub head: Shipped,
}

/// Every built-in encoder, in the order `stance models list` shows them.
pub const ENCODERS: &[EncoderFamily] = &[
    EncoderFamily {
        alias: "minilm",
        name: "all-MiniLM-L6-v2",
        architecture: Architecture::Bert,
        manifest: Shipped {
            path: "models/all-MiniLM-L6-v2.toml",
            text: include_str!("../models/all-MiniLM-L6-v2.toml"),
        },
        head: Shipped {
            path: "models/heads/linear-minilm.json",
            text: include_str!("../models/heads/linear-minilm.json"),
        },
    },
    EncoderFamily {
        alias: "mpnet",
        name: "all-mpnet-base-v2",
        architecture: Architecture::Mpnet,
        manifest: Shipped {
            path: "models/all-mpnet-base-v2.toml",
            text: include_str!("../models/all-mpnet-base-v2.toml"),
        },
        head: Shipped {
            path: "models/heads/linear-mpnet.json",
            text: include_str!("../models/heads/linear-mpnet.json"),
        },
    },
    EncoderFamily {
        alias: "gemma",
        name: "embeddinggemma-300m",
        architecture: Architecture::Gemma3,
        manifest: Shipped {
            path: "models/embeddinggemma-300m.toml",
            text: include_str!("../models/embeddinggemma-300m.toml"),
        },
        head: Shipped {
            path: "models/heads/linear-gemma.json",
            text: include_str!("../models/heads/linear-gemma.json"),
        },
    },
];

/// The built-in encoder whose model name is `name`.
pub fn by_name(name: &str) -> Option<&'static EncoderFamily> {
    ENCODERS.iter().find(|e| e.name == name)
}
