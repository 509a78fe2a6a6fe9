#pragma once
// Round-to-nearest on each group's min/max grid: the baseline every method is
// compared against.

#include "core/quant/method.h"

namespace qs::methods {

class RtnMethod final : public quant::Method {
 public:
  std::string name() const override { return "rtn"; }
  std::string description() const override { return "round to nearest, min/max per group"; }
  std::vector<quant::ParamSpec> param_specs() const override { return {}; }
  void quantize_block(methods::BlockContext& ctx, const quant::MethodParams& params) const override;
};

}  // namespace qs::methods
