#pragma once
// The Refinement contract: a method that runs after every block has been
// quantized and improves the whole quantized model at once (RILQ's LoRA
// error compensation), where a Method sees one block at a time. The plan
// composes them per linear: {"method": "awq", "then": "rilq"}. A refinement
// sees the model through a ModelContext and commits one new QuantizedLinear
// per linear it was given, replacing the block stage's record.

#include <string>
#include <vector>

#include "core/quant/method_params.h"

namespace qs::methods {
class ModelContext;
}

namespace qs::quant {

class Refinement {
 public:
  virtual ~Refinement() = default;
  virtual std::string name() const = 0;
  virtual std::string description() const = 0;
  virtual std::vector<ParamSpec> param_specs() const = 0;
  // Throws qs::Cancelled with the model as it found it.
  virtual void refine(methods::ModelContext& ctx, const MethodParams& params) const = 0;

  MethodParams default_params() const { return MethodParams(param_specs()); }
};

}  // namespace qs::quant
