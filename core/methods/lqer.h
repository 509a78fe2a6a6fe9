#pragma once
// LQER / L²QER (Zhang et al. 2024): training-free low-rank reconstruction of
// the quantization error. The weight is quantized by a base method (RTN or
// GPTQ), then the error E = W − Q(W) is approximated at rank k by a side
// branch: with L²QER's activation-induced scale s_j = mean|x_j| / sqrt(min·max)
// over the input channels, E·diag(s) = U Σ Vᵀ and
//   lora_b = U_k Σ_k,  lora_a = V_kᵀ diag(1/s),
// so the rank-k branch is the best one for the error as the inputs weigh it.
// The factors stay in float32 (the paper's 8-bit factors are an export choice).

#include "core/quant/method.h"
#include "core/quant/quantized_linear.h"

namespace qs::methods {

class LqerMethod final : public quant::Method {
 public:
  std::string name() const override { return "lqer"; }
  std::string description() const override {
    return "LQER/L²QER: low-rank side branch for the quantization error (Zhang et al. 2024)";
  }
  std::vector<quant::ParamSpec> param_specs() const override;
  void quantize_block(methods::BlockContext& ctx, const quant::MethodParams& params) const override;
};

// The side branch of `q` for weight `w` [out, in]: lora_a [k, in], lora_b
// [out, k] set on `q`. `channel_scale` [in] (positive) weighs the input
// channels; undefined for plain LQER. k is capped at min(out, in).
void add_error_branch(quant::QuantizedLinear& q, const torch::Tensor& w, int64_t rank,
                      const torch::Tensor& channel_scale);

}  // namespace qs::methods
