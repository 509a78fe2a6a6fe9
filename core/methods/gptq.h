#pragma once
// GPTQ as a block method: the block's linears are quantized in the official
// "true sequential" order ([q,k,v], [o], [gate,up], [down]), each group's
// Hessian taken from inputs that already pass through the quantized earlier
// groups.

#include "core/quant/method.h"

namespace qs::methods {

class GptqMethod final : public quant::Method {
 public:
  std::string name() const override { return "gptq"; }
  std::string description() const override { return "GPTQ: second-order error compensation (Frantar et al. 2022)"; }
  std::vector<quant::ParamSpec> param_specs() const override;
  void quantize_block(methods::BlockContext& ctx, const quant::MethodParams& params) const override;
};

}  // namespace qs::methods
