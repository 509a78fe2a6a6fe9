#pragma once
// AWQ (Lin et al. 2024), following mit-han-lab/llm-awq: per block, search a
// per-input-channel scale s = mean|x|^α for each (previous op → linears)
// pair by the output error of the module they feed, fold s into the previous
// op, then shrink each group's range (clip search) and round to nearest. In a
// Mixture-of-Experts block the norm in front of the MLP scales every expert's
// gate and up and the router with them (AutoAWQ's MoE recipes), each expert's
// up its own down, searched on the tokens routed to it.
// With quantizer "lwc" the scaled, clipped weights are LWC's starting point
// instead (OmniQuant's learnable clipping, trained on the block output against
// the FP trajectory): the "AWQ scales, then LWC" composition.

#include <torch/torch.h>

#include "core/quant/method.h"
#include "core/quant/quant_spec.h"

namespace qs::methods {

class AwqMethod final : public quant::Method {
 public:
  std::string name() const override { return "awq"; }
  std::string description() const override { return "AWQ: activation-aware weight scaling and clipping (Lin et al. 2024)"; }
  std::vector<quant::ParamSpec> param_specs() const override;
  int stage() const override { return 0; }
  bool uses_fp_trajectory(const quant::MethodParams& params) const override;
  void quantize_block(methods::BlockContext& ctx, const quant::MethodParams& params) const override;
};

struct AwqClipOptions {
  int64_t n_grid = 20;
  double max_shrink = 0.5;
  int64_t n_tokens = 512;
};

// llm-awq's auto_clip_layer: for each group, the largest |w| bound in
// {max · (1 - i/n_grid)} that minimises the group's partial output error on
// ~n_tokens strided input rows. w: float32 [out, in]; x: [..., in].
// Returns the bounds, float32 [out, groups].
torch::Tensor awq_clip_bounds(const torch::Tensor& w, const torch::Tensor& x, const quant::QuantSpec& spec,
                              const AwqClipOptions& options);

}  // namespace qs::methods
