#pragma once
// The GPTQ column solver (Frantar et al. 2022, IST-DASLab/gptq fasterquant):
// quantizes W one input column at a time in lazy blocks, spreading each
// column's rounding error over the columns not yet quantized through the
// Cholesky factor of the inverse Hessian.

#include <torch/torch.h>

#include "core/feedback.h"
#include "core/quant/quant_spec.h"
#include "core/quant/quantized_linear.h"

namespace qs::methods {

struct GptqOptions {
  double damp_percent = 0.01;   // added to H's diagonal, as a fraction of its mean
  int64_t block_size = 128;     // lazy-batch width
  bool act_order = false;       // quantize columns in order of decreasing H diagonal
  bool static_groups = false;   // fix every group's grid from W before any update
};

// Accumulates H = 2/n · Σ x xᵀ over calibration inputs of one linear.
class HessianAccumulator {
 public:
  explicit HessianAccumulator(int64_t in_features, torch::Device device);
  void add(const torch::Tensor& x);  // [..., in_features], any float dtype
  // 2/n Σ x xᵀ in float32; throws qs::Error when nothing was added.
  torch::Tensor hessian() const;
  // The same, scaled in the sum's own storage: a 14336-wide Hessian is 0.8 GB,
  // so the accumulator hands it over instead of copying. Empty afterwards.
  torch::Tensor take_hessian();
  int64_t samples() const { return n_; }

 private:
  torch::Tensor sum_;
  int64_t n_ = 0;
};

// w: [out, in] float32, h: [in, in]. Both on the same device. Throws qs::Error
// when H stays indefinite after raising the damping, qs::Cancelled on cancel.
// Works on a copy of h.
quant::QuantizedLinear gptq_quantize(const torch::Tensor& w, const torch::Tensor& h, const quant::QuantSpec& spec,
                                     const GptqOptions& options, Feedback* feedback = nullptr);

// The same solve in h's storage: pass a float32 contiguous Hessian no one
// else holds. The solve then needs one more in×in matrix (the factor of H⁻¹,
// built in place), not four.
quant::QuantizedLinear gptq_quantize_consuming(const torch::Tensor& w, torch::Tensor&& h, const quant::QuantSpec& spec,
                                               const GptqOptions& options, Feedback* feedback = nullptr);

}  // namespace qs::methods
