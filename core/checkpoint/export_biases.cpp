#include "core/checkpoint/export_biases.h"

#include "core/error.h"
#include "core/model/architecture.h"

namespace qs::checkpoint {

using model::LinearRole;

ExportBiases::ExportBiases(const model::Decoder& decoder) : decoder_(decoder), config_(decoder.config()) {
  const model::Architecture* arch = model::find_architecture(config_.architecture);
  QS_ASSERT(arch, "a decoder's architecture is registered");
  for (int64_t l = 0; l < decoder.num_layers(); ++l)
    for (auto r : decoder.linear_roles(l)) {
      if (!decoder.linear(l, r)->bias().defined() || model::has_bias(config_, r)) continue;
      if (!(r.in_mlp() ? arch->mlp_bias_switch : arch->attention_bias_switch))
        throw ArgumentError("export: " + model::linear_name(l, r) + " has a bias, which a " + config_.architecture +
                            " checkpoint has no place for (AffineQuant's shifts leave one; quantize with shifts off "
                            "to export)");
      (r.in_mlp() ? config_.mlp_bias : config_.attention_bias) = true;
      if (!r.in_mlp()) config_.output_bias = true;
    }
}

torch::Tensor ExportBiases::bias(int64_t layer, LinearRole role) const {
  if (!model::has_bias(config_, role)) return {};
  const auto& op = decoder_.linear(layer, role);
  const auto b = op->bias();
  return b.defined() ? b.to(torch::kCPU, torch::kFloat32) : torch::zeros({op->out_features()});
}

}  // namespace qs::checkpoint
