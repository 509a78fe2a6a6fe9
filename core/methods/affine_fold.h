#pragma once
// The algebra of AffineQuant's equivalent transforms on one Llama block,
// apart from any training, so it can be checked on its own.
//
//  - after each RMSNorm, an invertible A (hidden×hidden, or a diagonal given
//    as a vector): the linears it feeds quantize W·Aᵀ and see the input
//    A⁻ᵀ·x, so W·x is unchanged. A diagonal folds into the norm's weight; a
//    dense A stays as the linears' input transform (QuantizedLinear::transform).
//  - between v_proj and o_proj, a block-diagonal A with one d×d block per KV
//    head: v_proj's rows become A⁻ᵀ·W_v and every query head's columns of
//    o_proj become W_o·Aᵀ of its KV head. Attention mixes each head's values
//    linearly, so this folds into the two weights exactly.
//  - channel shifts δ (AffineQuant's, learned from zero): the linears after
//    a norm see T(x − δ) and add W·δ; v_proj subtracts δ_v before its
//    transform and o_proj adds W_o·δ_v (attention keeps a constant, its
//    weights summing to 1). An identity in FP; once the weights are
//    quantized, Ŵ·T(x − δ) + W·δ = Ŵ·T·x + (W − Ŵ·T)·δ leaves a learned
//    correction of the error in the bias.
// Inverses come from a solve, never an explicit inverse of a sum.

#include <torch/torch.h>

#include <map>
#include <string>

#include "core/model/decoder.h"

namespace qs::methods {

struct BlockAffine {
  torch::Tensor input_norm;      // [H, H] or diagonal [H]; undefined: none
  torch::Tensor post_attention;  // [H, H] or diagonal [H]; undefined: none
  torch::Tensor values;          // [kv_heads, d, d]; undefined: none
  torch::Tensor input_shift;     // [H]; undefined: none
  torch::Tensor post_shift;      // [H] after the post-attention norm; undefined: none
  torch::Tensor value_shift;     // [kv_heads·d]; undefined: none
};

// The weight linear `role` quantizes under the transforms ([out, in],
// float32), from its FP weight w; a linear no transform touches keeps w.
torch::Tensor transformed_weight(model::LinearRole role, const torch::Tensor& w, const BlockAffine& affine,
                                 const model::ModelConfig& config);
// The transform in front of linear `role` (A of the norm feeding it);
// undefined for o_proj and down_proj.
const torch::Tensor& input_affine(model::LinearRole role, const BlockAffine& affine);
// transformed_weight for every linear of `weights`.
std::map<model::LinearRole, torch::Tensor> transformed_weights(
    const std::map<model::LinearRole, torch::Tensor>& weights, const BlockAffine& affine,
    const model::ModelConfig& config);

// The shift subtracted from linear `role`'s input (δ of the norm feeding
// it); undefined for o_proj and down_proj.
const torch::Tensor& input_shift(model::LinearRole role, const BlockAffine& affine);
// The bias linear `role` adds under the shifts, from its FP weight w and its
// own bias b (either may be undefined: none); undefined when it has neither
// a bias nor a shift to make up for.
torch::Tensor shifted_bias(model::LinearRole role, const torch::Tensor& w, const torch::Tensor& b,
                           const BlockAffine& affine, const model::ModelConfig& config);

// A⁻ᵀ for a matrix A [n, n] (by a solve), 1/a for a diagonal a [n].
torch::Tensor input_transform(const torch::Tensor& a);

// The band mask AffineQuant grows over training: at epoch e of E the
// diagonals |i − j| < ⌊(n − 1)·e / (E − 1)⌋ + 1 are free, the diagonal with
// weight 1 and the others with `stability` (the paper's stability factor).
torch::Tensor gradual_mask(int64_t n, int64_t epoch, int64_t epochs, double stability, torch::Device device);

// Moves every non-zero entry of p closer to zero than `least` out to ±least
// (its sign kept; zeros stay zero), in place: the official code's truncation
// of its transforms before each step, under which a diagonal entry never
// crosses zero and a transform never passes through a singular one.
void keep_away_from_zero(torch::Tensor& p, double least);

// The rows (counting through the blocks of a [b, n, n] stack) where
// |a_ii| ≤ Σ_{j≠i} |a_ij|, i.e. where strict diagonal dominance, which
// guarantees invertibility (Lévy–Desplanques), fails; int64, empty when it holds.
torch::Tensor non_dominant_rows(const torch::Tensor& a);

}  // namespace qs::methods
