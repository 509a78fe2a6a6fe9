#pragma once
// RILQ (Lee et al. 2025, aiha-lab/RILQ): rank-insensitive LoRA-based
// quantization error compensation. Over an already-quantized model, LoRA
// adapters on the assigned linears (q, k, v, o, gate, up, down by default)
// are trained jointly, with the quantized weights frozen, on
//   hidden_weight · MSE(last hidden state, FP model's) + ce_weight · next-token CE
// over the calibration sequences; Adam, one sequence per step, gradients
// accumulated over grad_accum steps; the first val_fraction of the sequences
// are held out and scored every eval_every optimizer steps, training stops
// after `patience` evaluations without improvement and the best adapters are
// kept (the untrained, zero adapters included, so the validation loss never
// ends worse than it started). Defaults: the official LLaMA-2 script.
//
// The adapters stay a low-rank side branch of each QuantizedLinear
// (lora_b carries the alpha/rank scaling), appended to a branch the linear
// already has (LQER's); with `merge` they are added to the dequantized weight
// and the sum re-quantized on the same grid, and the log says what that costs.

#include "core/quant/refinement.h"

namespace qs::methods {

class RilqRefinement final : public quant::Refinement {
 public:
  std::string name() const override { return "rilq"; }
  std::string description() const override {
    return "RILQ: LoRA error compensation trained over the whole quantized model (Lee et al. 2025)";
  }
  std::vector<quant::ParamSpec> param_specs() const override;
  void refine(methods::ModelContext& ctx, const quant::MethodParams& params) const override;
};

}  // namespace qs::methods
