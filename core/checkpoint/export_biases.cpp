#include "core/checkpoint/export_biases.h"

#include "core/error.h"

namespace qs::checkpoint {

using model::LinearRole;

ExportBiases::ExportBiases(const model::Decoder& decoder) : decoder_(decoder), config_(decoder.config()) {
  const bool qwen2 = config_.architecture == "qwen2";
  for (int64_t l = 0; l < decoder.num_layers(); ++l)
    for (auto r : model::kLinearRoles) {
      if (!decoder.linear(l, r)->bias().defined() || model::has_bias(config_, r)) continue;
      if (qwen2)  // q/k/v have theirs already
        throw ArgumentError("export: " + model::linear_name(l, r) +
                            " has a bias, which a Qwen2 checkpoint has no place for (AffineQuant's shifts leave "
                            "one; quantize with shifts off to export)");
      switch (r) {
        case LinearRole::Q:
        case LinearRole::K:
        case LinearRole::V:
        case LinearRole::O:
          config_.attention_bias = config_.output_bias = true;
          break;
        default:
          config_.mlp_bias = true;
      }
    }
}

torch::Tensor ExportBiases::bias(int64_t layer, LinearRole role) const {
  if (!model::has_bias(config_, role)) return {};
  const auto& op = decoder_.linear(layer, role);
  const auto b = op->bias();
  return b.defined() ? b.to(torch::kCPU, torch::kFloat32) : torch::zeros({op->out_features()});
}

}  // namespace qs::checkpoint
