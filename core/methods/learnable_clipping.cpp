#include "core/methods/learnable_clipping.h"

#include "core/error.h"
#include "core/quant/ste_fake_quant.h"

namespace qs::methods {

LearnableClipping::LearnableClipping(int64_t out, int64_t in, const quant::QuantSpec& spec, torch::Device device,
                                     bool learnable)
    : spec_(spec), groups_(spec.num_groups(in)) {
  spec_.group_size = spec.effective_group(in);
  if (learnable) {
    auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(device);
    gamma_ = torch::full({out, groups_}, kInitialFactor, opts).requires_grad_(true);
    beta_ = torch::full({out, groups_}, kInitialFactor, opts).requires_grad_(true);
  }
}

std::vector<torch::Tensor> LearnableClipping::parameters() const {
  if (!gamma_.defined()) return {};
  return {gamma_, beta_};
}

std::pair<torch::Tensor, torch::Tensor> LearnableClipping::scale_and_zero(const torch::Tensor& w) const {
  QS_ASSERT(w.dim() == 2 && spec_.num_groups(w.size(1)) == groups_, "weight does not match the clipping");
  auto [wmin, wmax] = quant::group_min_max(w, spec_.group_size);
  wmin = wmin * spec_.clip_ratio;
  wmax = wmax * spec_.clip_ratio;
  if (gamma_.defined()) {
    wmax = wmax * torch::sigmoid(gamma_);
    wmin = wmin * torch::sigmoid(beta_);
  }
  const double qmax = static_cast<double>(spec_.max_code());
  if (spec_.symmetric) {
    const double half = static_cast<double>(int64_t{1} << (spec_.bits - 1));
    auto scale = torch::maximum(wmax.abs(), wmin.abs()).clamp_min(1e-5) / (half - 1.0);
    return {scale, torch::full_like(scale, half).detach()};
  }
  auto scale = (wmax - wmin).clamp_min(1e-5) / qmax;
  return {scale, (-torch::round(wmin / scale)).clamp(0.0, qmax).detach()};
}

torch::Tensor LearnableClipping::fake_quantize(const torch::Tensor& w) const {
  const auto [scale, zero] = scale_and_zero(w);
  return quant::fake_quantize_ste(w, scale, zero, spec_.group_size, spec_.max_code());
}

quant::GroupParams LearnableClipping::grid(const torch::Tensor& w) const {
  torch::NoGradGuard no_grad;
  auto [scale, zero] = scale_and_zero(w);
  return {scale.detach(), zero.to(torch::kInt32)};
}

quant::QuantizedLinear LearnableClipping::quantize(const torch::Tensor& w) const {
  torch::NoGradGuard no_grad;
  const auto wf = w.detach().to(torch::kFloat32);
  quant::QuantizedLinear q;
  q.spec = spec_;
  q.out_features = wf.size(0);
  q.in_features = wf.size(1);
  auto p = grid(wf);
  q.codes = quant::quantize_codes(wf, p, spec_.group_size, spec_.bits);
  q.scales = p.scales;
  q.zeros = p.zeros;
  return q;
}

}  // namespace qs::methods
