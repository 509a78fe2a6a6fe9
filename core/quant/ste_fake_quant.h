#pragma once
// Group-wise quantize-dequantize with straight-through rounding as one
// autograd node: one pass over the weight forward, one back. Written out as
// tensor ops, the expression and its autograd graph made some twenty
// weight-sized temporaries per linear and step, which cost the learned methods
// (LWC, LSI, AffineQuant) on a CPU more time than their block's matmuls
// (docs/benchmarks.md, "Fused fake quantization").

#include <torch/torch.h>

namespace qs::quant {

// w [out, in]; scale, zero [out, groups] (zero is a constant of the step, as
// the learned methods detach it); groups of `group` columns, the last possibly
// shorter:
//   code = clamp(round(w / s) + z, 0, qmax),  result = (code − z) · s
// Gradients, with round's taken as 1: to w, g where round(w / s) + z lies in
// [0, qmax], else 0; to scale, per group Σ g · ((code − z) − [inside] · w / s).
// float32 CPU tensors take a fused loop; other devices and dtypes the same
// formulas as tensor ops.
torch::Tensor fake_quantize_ste(const torch::Tensor& w, const torch::Tensor& scale, const torch::Tensor& zero,
                                int64_t group, int64_t qmax);

}  // namespace qs::quant
