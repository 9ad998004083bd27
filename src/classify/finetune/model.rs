//! A BERT whose weights are trainable: every parameter is a `Var` of a
//! `candle_nn::VarMap`, read through `VarBuilder::from_varmap`.
//!
//! Why not candle-transformers' `BertModel` built on the same `VarBuilder`:
//! its layer norms call `candle_nn::ops::layer_norm`, a fused kernel applied
//! with `apply_op3_no_bwd`, so its output is cut from the graph and no
//! gradient reaches any weight below the last layer norm (that is, none: a
//! BERT layer ends with one). This module is the same network (same
//! parameter names, so the same safetensors load into it) with layer norm
//! GELU and softmax as fused kernels that have gradients (`super::ops`),
//! and with dropout. Inference of a
//! fine-tuned model still goes through `embed::BertEncoder`, which builds
//! candle-transformers' fast model from the same `VarMap`; the tests check
//! that both give the same vectors.

use std::path::Path;

use anyhow::{ensure, Context, Result};
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use candle_transformers::models::bert::{Config, HiddenAct};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::embed::sentence::mean_pool_normalised;

/// Loads the `model_dir/model.safetensors` tensors that a BERT of `config`
/// uses into a fresh `VarMap` (pooler and buffers such as `position_ids`
/// are left out), as trainable variables.
pub fn load_varmap(model_dir: &Path, config: &Config, device: &Device) -> Result<VarMap> {
    let path = model_dir.join("model.safetensors");
    let tensors = candle_core::safetensors::load(&path, device)
        .with_context(|| format!("loading {}", path.display()))?;
    let wanted = parameter_names(config);
    let varmap = VarMap::new();
    {
        let mut data = varmap.data().lock().expect("fresh VarMap lock");
        for name in &wanted {
            // Checkpoints saved from BertForX prefix every name with "bert.".
            let tensor = tensors
                .get(name)
                .or_else(|| tensors.get(&format!("bert.{name}")))
                .with_context(|| format!("{} has no tensor {name}", path.display()))?;
            data.insert(
                name.clone(),
                Var::from_tensor(&tensor.to_dtype(DType::F32)?)?,
            );
        }
    }
    Ok(varmap)
}

/// Every parameter name of a BERT encoder of `config`, sorted.
pub fn parameter_names(config: &Config) -> Vec<String> {
    let mut names: Vec<String> = [
        "embeddings.word_embeddings.weight",
        "embeddings.position_embeddings.weight",
        "embeddings.token_type_embeddings.weight",
        "embeddings.LayerNorm.weight",
        "embeddings.LayerNorm.bias",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for layer in 0..config.num_hidden_layers {
        for part in [
            "attention.self.query",
            "attention.self.key",
            "attention.self.value",
            "attention.output.dense",
            "attention.output.LayerNorm",
            "intermediate.dense",
            "output.dense",
            "output.LayerNorm",
        ] {
            for p in ["weight", "bias"] {
                names.push(format!("encoder.layer.{layer}.{part}.{p}"));
            }
        }
    }
    names.sort();
    names
}

/// sha256 over the weights of `varmap`: for each variable, sorted by name,
/// its name, shape and little-endian f32 bytes. Independent of how a file
/// lays the tensors out, so a saved model can be checked after a reload.
pub fn weights_sha256(varmap: &VarMap) -> Result<String> {
    use sha2::{Digest, Sha256};
    let data = varmap.data().lock().expect("VarMap lock");
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    let mut h = Sha256::new();
    for name in names {
        let t = data[name].as_tensor();
        h.update(name.as_bytes());
        h.update([0]);
        for d in t.dims() {
            h.update((*d as u64).to_le_bytes());
        }
        let values = t.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?;
        for v in values {
            h.update(v.to_le_bytes());
        }
    }
    Ok(hex::encode(h.finalize()))
}

/// Dropout with its own seeded generator, so a training run is reproducible
/// bit for bit (candle cannot seed its CPU generator).
pub struct Dropout {
    p: f32,
    rng: ChaCha8Rng,
}

impl Dropout {
    pub fn new(p: f32, rng: ChaCha8Rng) -> Self {
        Dropout { p, rng }
    }

    /// Zeroes each element with probability p and scales the rest by
    /// 1/(1-p), as torch's dropout does in training mode.
    fn apply(&mut self, x: &Tensor) -> Result<Tensor> {
        if self.p <= 0.0 {
            return Ok(x.clone());
        }
        let keep = 1.0 - self.p;
        let n = x.elem_count();
        let mask: Vec<f32> = (0..n)
            .map(|_| {
                if self.rng.random::<f32>() < keep {
                    1.0 / keep
                } else {
                    0.0
                }
            })
            .collect();
        let mask = Tensor::from_vec(mask, x.shape(), x.device())?;
        Ok(x.mul(&mask)?)
    }
}

/// Applies `dropout` when training, nothing otherwise.
fn maybe_dropout(x: Tensor, dropout: &mut Option<&mut Dropout>) -> Result<Tensor> {
    match dropout {
        Some(d) => d.apply(&x),
        None => Ok(x),
    }
}

/// `x W^T + b` over the last dimension of a `rows × width × in` tensor,
/// as one matrix product (cheaper to differentiate than a batched one).
struct Linear {
    weight: Tensor,
    bias: Tensor,
}

impl Linear {
    fn load(vb: VarBuilder, inputs: usize, outputs: usize) -> Result<Self> {
        Ok(Linear {
            weight: vb.get((outputs, inputs), "weight")?,
            bias: vb.get(outputs, "bias")?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (rows, width, inputs) = x.dims3()?;
        let y = x
            .reshape((rows * width, inputs))?
            .matmul(&self.weight.t()?)?
            .broadcast_add(&self.bias)?;
        Ok(y.reshape((rows, width, ()))?)
    }
}

/// Layer norm with a gradient (candle's own fused kernel has none).
struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl LayerNorm {
    fn load(vb: VarBuilder, size: usize, eps: f64) -> Result<Self> {
        Ok(LayerNorm {
            weight: vb.get(size, "weight")?,
            bias: vb.get(size, "bias")?,
            eps: eps as f32,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(super::ops::layer_norm(
            x,
            &self.weight,
            &self.bias,
            self.eps,
        )?)
    }
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

impl Layer {
    fn load(vb: VarBuilder, c: &Config) -> Result<Self> {
        let h = c.hidden_size;
        let attention = vb.pp("attention");
        Ok(Layer {
            query: Linear::load(attention.pp("self").pp("query"), h, h)?,
            key: Linear::load(attention.pp("self").pp("key"), h, h)?,
            value: Linear::load(attention.pp("self").pp("value"), h, h)?,
            attention_out: Linear::load(attention.pp("output").pp("dense"), h, h)?,
            attention_norm: LayerNorm::load(
                attention.pp("output").pp("LayerNorm"),
                h,
                c.layer_norm_eps,
            )?,
            intermediate: Linear::load(vb.pp("intermediate").pp("dense"), h, c.intermediate_size)?,
            output: Linear::load(vb.pp("output").pp("dense"), c.intermediate_size, h)?,
            output_norm: LayerNorm::load(vb.pp("output").pp("LayerNorm"), h, c.layer_norm_eps)?,
        })
    }
}

/// BERT's encoder stack with trainable weights; see the module documentation.
pub struct TrainableBert {
    word_embeddings: Tensor,
    position_embeddings: Tensor,
    token_type_embeddings: Tensor,
    embeddings_norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    /// Whether the word embedding table (most of the parameters) receives
    /// gradients.
    train_word_embeddings: bool,
}

impl TrainableBert {
    /// Builds the network on `varmap`'s variables (see [`load_varmap`]).
    /// Fails, rather than initialising anything at random, when a weight is
    /// missing or has the wrong shape.
    pub fn new(varmap: &VarMap, config: &Config, device: &Device) -> Result<Self> {
        ensure!(
            matches!(config.hidden_act, HiddenAct::Gelu),
            "only BERT models with erf GELU are supported, not {:?}",
            config.hidden_act
        );
        let before = varmap.all_vars().len();
        let vb = VarBuilder::from_varmap(varmap, DType::F32, device);
        let h = config.hidden_size;
        let emb = vb.pp("embeddings");
        let model = TrainableBert {
            word_embeddings: emb
                .pp("word_embeddings")
                .get((config.vocab_size, h), "weight")?,
            position_embeddings: emb
                .pp("position_embeddings")
                .get((config.max_position_embeddings, h), "weight")?,
            token_type_embeddings: emb
                .pp("token_type_embeddings")
                .get((config.type_vocab_size, h), "weight")?,
            embeddings_norm: LayerNorm::load(emb.pp("LayerNorm"), h, config.layer_norm_eps)?,
            layers: (0..config.num_hidden_layers)
                .map(|i| Layer::load(vb.pp("encoder").pp("layer").pp(i), config))
                .collect::<Result<_>>()?,
            heads: config.num_attention_heads,
            train_word_embeddings: true,
        };
        // A `VarMap` builder creates (randomly initialised) variables for
        // names it does not hold; none may have been needed.
        ensure!(
            varmap.all_vars().len() == before,
            "the weights lack {} of the model's tensors",
            varmap.all_vars().len() - before
        );
        Ok(model)
    }

    /// Freezes (or unfreezes) the word embedding table: frozen, it gets no
    /// gradient, which saves the cost of a dense 30k × d update per step.
    pub fn set_train_word_embeddings(&mut self, train: bool) {
        self.train_word_embeddings = train;
    }

    /// Number of encoder layers.
    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// Token vectors (`rows × width × hidden`) for padded `ids` and `mask`
    /// (both `rows × width`, u32); `dropout` is `Some` in training.
    pub fn forward(
        &self,
        ids: &Tensor,
        mask: &Tensor,
        mut dropout: Option<&mut Dropout>,
    ) -> Result<Tensor> {
        let x = self.embed_tokens(ids, &mut dropout)?;
        self.run_layers(x, mask, 0..self.layers.len(), dropout)
    }

    /// The embedding layer: word, position and token-type vectors, summed
    /// and normalised.
    fn embed_tokens(&self, ids: &Tensor, dropout: &mut Option<&mut Dropout>) -> Result<Tensor> {
        let (rows, width) = ids.dims2()?;
        let words = if self.train_word_embeddings {
            self.word_embeddings.clone()
        } else {
            self.word_embeddings.detach()
        };
        let flat = ids.flatten_all()?;
        let tokens = words.index_select(&flat, 0)?.reshape((rows, width, ()))?;
        let positions = self.position_embeddings.narrow(0, 0, width)?;
        // Every token has type 0 (single sentences).
        let token_type = self.token_type_embeddings.narrow(0, 0, 1)?;
        let x = tokens
            .broadcast_add(&positions)?
            .broadcast_add(&token_type)?;
        maybe_dropout(self.embeddings_norm.forward(&x)?, dropout)
    }

    /// Runs encoder layers `layers` on token vectors `x` (`rows × width ×
    /// hidden`) under `mask`. Starting past layer 0 takes the output of the
    /// layers below, computed earlier (see [`Self::lower_layers`]).
    pub fn run_layers(
        &self,
        mut x: Tensor,
        mask: &Tensor,
        layers: std::ops::Range<usize>,
        mut dropout: Option<&mut Dropout>,
    ) -> Result<Tensor> {
        let (rows, width) = mask.dims2()?;
        // Padding gets a large negative score before the softmax, as in
        // candle-transformers and Hugging Face (the dtype's minimum).
        let additive_mask = ((mask.to_dtype(DType::F32)? - 1.0)? * f64::from(f32::MAX))?
            .reshape((rows, 1, 1, width))?;
        for layer in &self.layers[layers] {
            x = self.layer_forward(layer, &x, &additive_mask, &mut dropout)?;
        }
        Ok(x)
    }

    /// The output of the embeddings and the first `layers` layers, without
    /// dropout and cut from the graph: what frozen lower layers give, to be
    /// computed once per sentence.
    pub fn lower_layers(&self, ids: &Tensor, mask: &Tensor, layers: usize) -> Result<Tensor> {
        let x = self.embed_tokens(ids, &mut None)?;
        Ok(self.run_layers(x, mask, 0..layers, None)?.detach())
    }

    fn layer_forward(
        &self,
        layer: &Layer,
        x: &Tensor,
        additive_mask: &Tensor,
        dropout: &mut Option<&mut Dropout>,
    ) -> Result<Tensor> {
        let (rows, width, hidden) = x.dims3()?;
        let head_dim = hidden / self.heads;
        let split_heads = |t: Tensor| -> Result<Tensor> {
            Ok(t.reshape((rows, width, self.heads, head_dim))?
                .transpose(1, 2)?
                .contiguous()?)
        };
        let q = split_heads(layer.query.forward(x)?)?;
        let k = split_heads(layer.key.forward(x)?)?;
        let v = split_heads(layer.value.forward(x)?)?;
        let scores = (q.matmul(&k.t()?.contiguous()?)? / (head_dim as f64).sqrt())?
            .broadcast_add(additive_mask)?;
        let probs = maybe_dropout(super::ops::softmax_last_dim(&scores)?, dropout)?;
        let context = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((rows, width, hidden))?;
        let attended = maybe_dropout(layer.attention_out.forward(&context)?, dropout)?;
        let attended = layer.attention_norm.forward(&(attended + x)?)?;
        let inner = super::ops::gelu_erf(&layer.intermediate.forward(&attended)?)?;
        let out = maybe_dropout(layer.output.forward(&inner)?, dropout)?;
        layer.output_norm.forward(&(out + attended)?)
    }

    /// Mean-pooled, L2-normalised sentence vectors, as `embed::BertEncoder`
    /// computes them.
    pub fn embed(
        &self,
        ids: &Tensor,
        mask: &Tensor,
        dropout: Option<&mut Dropout>,
    ) -> Result<Tensor> {
        let hidden = self.forward(ids, mask, dropout)?;
        mean_pool_normalised(&hidden, mask)
    }
}
