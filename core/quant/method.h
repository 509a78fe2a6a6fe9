#pragma once
// The Method contract. A method quantizes the linears of one decoder block
// that the plan assigns to it, through a BlockContext that gives it the
// block's captured inputs, FP targets, current weights and a feedback sink,
// and commits exactly one QuantizedLinear per assigned linear. Methods never
// modify tensors in place (they replace them through the context), so a
// cancelled run can restore the model exactly.

#include <string>
#include <vector>

#include "core/quant/method_params.h"

namespace qs::methods {
class BlockContext;
}

namespace qs::quant {

class Method {
 public:
  virtual ~Method() = default;
  virtual std::string name() const = 0;         // "gptq"
  virtual std::string description() const = 0;  // one line for menus and --help
  // Typed hyper-parameters with the official code's defaults.
  virtual std::vector<ParamSpec> param_specs() const = 0;
  // Methods that rewrite FP weights and norms of the block before anything is
  // quantized (AWQ's scaling) run at stage 0, per-linear methods at stage 1.
  virtual int stage() const { return 1; }
  // Methods that fit the quantized block to the FP model's own outputs (the
  // FP trajectory, as OmniQuant does) ask the pipeline to carry the FP
  // model's activations beside the quantized ones: one more activation set
  // and one more FP forward per block. Asked with the call's parameters: a
  // method may train only under some of them (AWQ with quantizer "lwc").
  virtual bool uses_fp_trajectory(const MethodParams&) const { return false; }
  // Whether the method quantizes the experts of a Mixture-of-Experts block
  // (each sees only the tokens routed to it). Methods that fold scales into the
  // norm in front of the MLP do not: that norm feeds the router as well.
  virtual bool handles_experts() const { return true; }
  virtual void quantize_block(methods::BlockContext& ctx, const MethodParams& params) const = 0;

  MethodParams default_params() const { return MethodParams(param_specs()); }
};

}  // namespace qs::quant
