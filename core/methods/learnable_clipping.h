#pragma once
// OmniQuant's learnable weight clipping (LWC, Shao et al. 2024) for one weight
// matrix: per group the range is [σ(β)·min, σ(γ)·max] with γ, β learned
// (initialised to 4, so σ ≈ 0.982), and rounding passes gradients straight
// through. The grid conventions are those of quant/uniform_quantizer.h, so a
// clipping whose factors are exactly 1 is round-to-nearest, and the committed
// QuantizedLinear dequantizes to exactly the matrix the training saw.
// (OmniQuant leaves the zero point unclamped; here it stays in [0, 2^b − 1]
// because every packed format stores it in `bits` bits.)

#include <torch/torch.h>

#include <vector>

#include "core/quant/quant_spec.h"
#include "core/quant/quantized_linear.h"
#include "core/quant/uniform_quantizer.h"

namespace qs::methods {

class LearnableClipping {
 public:
  static constexpr double kInitialFactor = 4.0;

  // learnable = false: the factors are fixed at 1 (plain min/max grid, still
  // differentiable in the weight), for methods that learn something else.
  LearnableClipping(int64_t out, int64_t in, const quant::QuantSpec& spec, torch::Device device, bool learnable);

  // γ and β, float32 [out, groups]; empty when not learnable.
  std::vector<torch::Tensor> parameters() const;
  // w float32 [out, in] → its fake-quantized copy, differentiable in w and in
  // the factors (straight-through rounding).
  torch::Tensor fake_quantize(const torch::Tensor& w) const;
  // The grid of w under the current factors, without gradients.
  quant::GroupParams grid(const torch::Tensor& w) const;
  // w on that grid as a QuantizedLinear (CPU or w's device).
  quant::QuantizedLinear quantize(const torch::Tensor& w) const;

 private:
  // scale (differentiable) and zero (float, no gradient), [out, groups].
  std::pair<torch::Tensor, torch::Tensor> scale_and_zero(const torch::Tensor& w) const;

  quant::QuantSpec spec_;  // group_size is the effective group
  int64_t groups_;
  torch::Tensor gamma_;  // upper-bound factor logits
  torch::Tensor beta_;   // lower-bound factor logits
};

}  // namespace qs::methods
