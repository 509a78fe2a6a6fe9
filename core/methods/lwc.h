#pragma once
// LWC: OmniQuant's learnable weight clipping (Shao et al. 2024) in its
// weight-only form (the official W2/W3/W4A16 scripts run LWC without LET).
// Per block, every assigned linear gets per-group clipping factors (see
// learnable_clipping.h) trained jointly on the block-output MSE against the
// FP model's trajectory (block_training.h); AdamW, lr 1e-2, no weight decay,
// one sequence per step, 20 epochs (40 with the augmented loss at 2 bits).

#include <torch/torch.h>

#include <map>
#include <string>

#include "core/model/decoder.h"
#include "core/quant/method.h"
#include "core/quant/quantized_linear.h"

namespace qs::methods {

class LwcMethod final : public quant::Method {
 public:
  std::string name() const override { return "lwc"; }
  std::string description() const override {
    return "LWC: OmniQuant's learnable weight clipping, trained per block (Shao et al. 2024)";
  }
  std::vector<quant::ParamSpec> param_specs() const override;
  bool uses_fp_trajectory(const quant::MethodParams&) const override { return true; }
  void quantize_block(methods::BlockContext& ctx, const quant::MethodParams& params) const override;
};

// The training parameters LWC, LSI and the methods built on them share.
std::vector<quant::ParamSpec> training_param_specs();

// LWC on given weights: trains clipping factors for `weights` (float32
// [out, in] per assigned linear; the block's own, or AWQ's scaled and clipped
// ones) with training_param_specs()'s parameters from `params`, and returns
// the records. `method` names the loss curve and log lines.
std::map<model::LinearRole, quant::QuantizedLinear> train_clipping(
    methods::BlockContext& ctx, const std::map<model::LinearRole, torch::Tensor>& weights,
    const quant::MethodParams& params, const std::string& method);

}  // namespace qs::methods
