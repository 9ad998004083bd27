//! MPNet (all-mpnet-base-v2) on the fast path: [`FastBert`]'s stack, dense
//! layers and kernels, with what sets [`crate::embed::mpnet`] (candle, the
//! reference) apart from BERT:
//!
//! - positions counted from `padding_idx + 1`, and no token types;
//! - a learnt bias per head and relative-position bucket added to every
//!   layer's attention scores. It depends on `key - query` only, so it is
//!   tabled once per forward pass, per head and distance, for the longest
//!   sentence ([`RelativePositionBias::up_to`]); each query's row of it is
//!   one contiguous slice, added in the attention kernel
//!   ([`super::ops::attention`]). Sentences are back to back without
//!   padding, so distances never cross from one sentence into another.
//!
//! The query/key/value, attention-output, intermediate and output weights
//! play the roles of BERT's, under other names ([`MPNET_LAYER`]).

use candle_core::Tensor;
use candle_nn::VarBuilder;
use candle_transformers::models::bert::HiddenAct;

use super::ops::DistanceBias;
use super::{get, linear, FastBert, FastPrecision, LayerNames, Shape};
use crate::embed::mpnet::{
    base_model, relative_position_bucket, Config, MpnetModel, RELATIVE_BUCKETS,
    RELATIVE_MAX_DISTANCE,
};
use crate::embed::sentence::{Backbone, SentenceEncoder};
use crate::embed::Precision;

/// A sentence-transformers MPNet model on [`FastMpnet`] in f32.
pub type FastMpnetEncoder = SentenceEncoder<FastMpnet<f32>>;
/// A sentence-transformers MPNet model on [`FastMpnet`] with bf16 dense layers.
pub type Bf16MpnetEncoder = SentenceEncoder<FastMpnet<linear::Bf16Pair>>;
/// A sentence-transformers MPNet model on [`FastMpnet`] with int8 dense layers.
pub type Int8MpnetEncoder = SentenceEncoder<FastMpnet<linear::I8Quad>>;

/// MPNet's names for BERT's layer tensors (transformers' `MPNetLayer`).
const MPNET_LAYER: LayerNames = LayerNames {
    query: "attention.attn.q",
    key: "attention.attn.k",
    value: "attention.attn.v",
    attention_out: "attention.attn.o",
    attention_norm: "attention.LayerNorm",
    intermediate: "intermediate.dense",
    output: "output.dense",
    output_norm: "output.LayerNorm",
};

/// The learnt relative position bias shared by all layers: one value per
/// bucket and head (`encoder.relative_attention_bias.weight`).
pub struct RelativePositionBias {
    /// `buckets × heads`.
    table: Vec<f32>,
    heads: usize,
}

impl RelativePositionBias {
    /// Every head's bias for every distance of sentences up to `longest`
    /// tokens, bucketed as [`relative_position_bucket`] (the reference's)
    /// does.
    pub fn up_to(&self, longest: usize) -> DistanceBias {
        DistanceBias::new(self.heads, longest, |distance, head| {
            let bucket =
                relative_position_bucket(distance, RELATIVE_BUCKETS, RELATIVE_MAX_DISTANCE);
            self.table[bucket as usize * self.heads + head]
        })
    }
}

/// MPNet's encoder on plain buffers: a [`FastBert`] with MPNet's positions
/// and relative position bias; `E` is the precision of the dense layers.
pub struct FastMpnet<E: linear::Packed>(FastBert<E>);

impl<E: FastPrecision> Backbone for FastMpnet<E> {
    const ARCHITECTURE: &'static str = "MPNet";
    const PRECISION: Precision = E::PRECISION;
    type Config = Config;

    fn load(vb: VarBuilder, c: &Config) -> candle_core::Result<Self> {
        let shape = bert_shape!(c);
        shape.check(matches!(c.hidden_act, HiddenAct::Gelu), &c.hidden_act)?;
        c.check_relative_buckets()?;
        let vb = base_model(vb);
        let relative_bias = RelativePositionBias {
            table: get(
                &vb.pp("encoder"),
                &[c.relative_attention_num_buckets, c.num_attention_heads],
                "relative_attention_bias.weight",
            )?,
            heads: c.num_attention_heads,
        };
        let stack = FastBert::load_stack(
            &vb,
            &shape,
            &MPNET_LAYER,
            None,
            c.pad_token_id + 1,
            Some(relative_bias),
        )?;
        Ok(FastMpnet(stack))
    }

    fn hidden_size(c: &Config) -> usize {
        <MpnetModel as Backbone>::hidden_size(c)
    }

    fn max_positions(c: &Config) -> usize {
        <MpnetModel as Backbone>::max_positions(c)
    }

    fn pad_token_id(c: &Config) -> u32 {
        <MpnetModel as Backbone>::pad_token_id(c)
    }

    fn forward(&self, input_ids: &Tensor, attention_mask: &Tensor) -> candle_core::Result<Tensor> {
        self.0.forward(input_ids, attention_mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bias_table_follows_the_buckets_of_each_distance() {
        // Two heads; bucket b's bias is b for head 0 and -b for head 1.
        let bias = RelativePositionBias {
            table: (0..RELATIVE_BUCKETS)
                .flat_map(|b| [b as f32, -(b as f32)])
                .collect(),
            heads: 2,
        };
        let longest = 200;
        let table = bias.up_to(longest);
        for distance in [-199i64, -64, -8, -1, 0, 1, 7, 130, 199] {
            let bucket =
                relative_position_bucket(distance, RELATIVE_BUCKETS, RELATIVE_MAX_DISTANCE);
            for (head, sign) in [(0, 1.0), (1, -1.0)] {
                assert_eq!(
                    table.value(head, distance),
                    sign * bucket as f32,
                    "head {head}, distance {distance}"
                );
            }
        }
    }
}
