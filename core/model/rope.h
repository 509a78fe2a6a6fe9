#pragma once
// Rotary position embedding in the Hugging Face layout (rotate_half over the
// two halves of each head), with Llama 3 and linear frequency scaling.

#include <torch/torch.h>

#include "core/model/model_config.h"

namespace qs::model {

// Inverse frequencies [head_dim / 2], float32, scaled as the config says.
torch::Tensor rope_inv_freq(const ModelConfig& c);

class RotaryTable {
 public:
  RotaryTable(const ModelConfig& c, torch::Device device, torch::ScalarType dtype);
  // cos and sin [T, head_dim] for positions 0..T-1, grown on demand.
  std::pair<torch::Tensor, torch::Tensor> get(int64_t T);

 private:
  torch::Tensor inv_freq_;
  torch::ScalarType dtype_;
  torch::Tensor cos_, sin_;
};

// x: [B, H, T, D]; cos/sin: [T, D].
torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

}  // namespace qs::model
