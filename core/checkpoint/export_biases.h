#pragma once
// The biases an export writes. HF's Llama config switches biases on by group
// (attention_bias: q/k/v/o; mlp_bias: gate/up/down), and HF and vLLM then
// expect one on every linear of the group; Qwen2 has q/k/v's and no others.
// A model whose linears carry biases elsewhere (AffineQuant's shifts end as
// biases of q/k/v/o/gate/up) is exported with its groups switched on and
// zeros where a linear of a group has none.

#include <torch/torch.h>

#include "core/model/decoder.h"

namespace qs::checkpoint {

class ExportBiases {
 public:
  // Throws qs::ArgumentError naming the first linear whose bias the
  // architecture has no place for.
  explicit ExportBiases(const model::Decoder& decoder);

  // The decoder's config with the bias groups the export needs.
  const model::ModelConfig& config() const { return config_; }
  // The bias to write for a linear (float32, CPU): its own, zeros when its
  // group is on and it has none, undefined when its group is off.
  torch::Tensor bias(int64_t layer, model::LinearRole role) const;

 private:
  const model::Decoder& decoder_;
  model::ModelConfig config_;
};

}  // namespace qs::checkpoint
