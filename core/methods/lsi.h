#pragma once
// LSI: learnable singular-value increment. Each assigned linear is written as
// W = U·diag(S)·Vᵀ and learns an increment I (initialised to 0), so that
//   W′ = U·(diag(S + I) + P)·Vᵀ
// quantizes with the least block-output error; P is an optional learnable
// k×k block at the top-left (for group-wise settings, where mixing the
// leading singular directions helps), zero at the start. Trained per block as
// LWC is (block_training.h), by default together with LWC's clipping
// factors. W′ is materialized and quantized at the end, so there is no
// inference overhead; the layer's reference for the metrics stays W.

#include <torch/torch.h>

#include <vector>

#include "core/quant/method.h"

namespace qs::methods {

class LsiMethod final : public quant::Method {
 public:
  std::string name() const override { return "lsi"; }
  std::string description() const override {
    return "LSI: learnable singular-value increments, trained per block (with LWC by default)";
  }
  std::vector<quant::ParamSpec> param_specs() const override;
  bool uses_fp_trajectory(const quant::MethodParams&) const override { return true; }
  void quantize_block(methods::BlockContext& ctx, const quant::MethodParams& params) const override;
};

// W′ of one linear as a function of its learnable parts.
class SingularIncrement {
 public:
  // w: float32 [out, in]; top_block: k of the k×k block (0: none, capped at the rank).
  SingularIncrement(const torch::Tensor& w, int64_t top_block);
  std::vector<torch::Tensor> parameters() const;
  torch::Tensor weight() const;  // differentiable float32 [out, in]

 private:
  torch::Tensor u_;          // [out, r]
  torch::Tensor s_;          // [r]
  torch::Tensor vh_;         // [r, in]
  torch::Tensor increment_;  // [r], learned
  torch::Tensor block_;      // [k, k], learned; undefined when k = 0
};

}  // namespace qs::methods
