#pragma once
// Rotary position embedding in the Hugging Face layout (rotate_half over the
// two halves of the rotated channels), with Llama 3, linear and LongRoPE
// frequency scaling and partial rotation (the first rotary_dim channels of
// each head; the rest pass through).

#include <torch/torch.h>

#include "core/model/model_config.h"

namespace qs::model {

// LongRoPE's factor on cos and sin: the config's attention_factor, or
// sqrt(1 + ln(factor) / ln(original context)) as the paper suggests (1 when
// the context is not extended).
double longrope_attention_factor(const RopeScaling& rs);

// Inverse frequencies [rotary_dim / 2], float32, scaled as the config says;
// for LongRoPE, with the long factors when `long_context`, else the short ones.
torch::Tensor rope_inv_freq(const ModelConfig& c, bool long_context = false);

class RotaryTable {
 public:
  RotaryTable(const ModelConfig& c, torch::Device device, torch::ScalarType dtype);
  // cos and sin [T, rotary_dim] for positions 0..T-1, grown on demand. A
  // LongRoPE table switches to its long factors when T passes the original
  // context, as transformers does for the whole sequence.
  std::pair<torch::Tensor, torch::Tensor> get(int64_t T);

 private:
  struct Cache {
    torch::Tensor inv_freq, cos, sin;
  };
  Cache short_, long_;        // long_ only for LongRoPE
  int64_t switch_after_ = 0;  // T past which long_ is used; 0: never
  double attention_factor_ = 1.0;
  torch::ScalarType dtype_;
};

// x: [B, H, T, D]; cos/sin: [T, R] with R <= D rotating x's first R channels.
torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

}  // namespace qs::model
