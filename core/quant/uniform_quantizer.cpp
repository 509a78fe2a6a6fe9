#include "core/quant/uniform_quantizer.h"

#include <functional>
#include <utility>
#include <vector>

#include "core/error.h"

namespace qs::quant {
namespace {

// min/max → (scale, zero) on tensors shaped [..., 1].
GroupParams params_from_range(torch::Tensor wmin, torch::Tensor wmax, const QuantSpec& spec) {
  const double qmax = static_cast<double>(spec.max_code());
  GroupParams p;
  if (spec.symmetric) {
    const double half = static_cast<double>(int64_t{1} << (spec.bits - 1));
    auto amax = torch::maximum(wmax.abs(), wmin.abs()).clamp_min(1e-5);
    p.scales = amax / (half - 1.0);
    p.zeros = torch::full_like(p.scales, half, torch::kInt32);
  } else {
    p.scales = (wmax - wmin).clamp_min(1e-5) / qmax;
    p.zeros = (-torch::round(wmin / p.scales)).clamp(0.0, qmax).to(torch::kInt32);
  }
  return p;
}

}  // namespace

torch::Tensor pad_to_groups(const torch::Tensor& w, int64_t group) {
  const int64_t in = w.size(1), padded = (in + group - 1) / group * group;
  if (padded == in) return w;
  return torch::cat({w, w.narrow(1, in - 1, 1).expand({w.size(0), padded - in})}, 1);
}

std::pair<torch::Tensor, torch::Tensor> group_min_max(const torch::Tensor& w, int64_t group) {
  QS_ASSERT(w.dim() == 2 && group > 0, "group_min_max: w must be [out, in] with a positive group");
  const int64_t out = w.size(0), in = w.size(1), full = in / group, rest = in - full * group;
  std::vector<torch::Tensor> mins, maxs;
  if (full > 0) {
    const auto whole = w.narrow(1, 0, full * group).reshape({out, full, group});
    mins.push_back(whole.amin(-1));
    maxs.push_back(whole.amax(-1));
  }
  if (rest > 0) {
    const auto last = w.narrow(1, full * group, rest);
    mins.push_back(last.amin(-1, /*keepdim=*/true));
    maxs.push_back(last.amax(-1, /*keepdim=*/true));
  }
  if (mins.size() == 1) return {mins[0], maxs[0]};
  return {torch::cat(mins, 1), torch::cat(maxs, 1)};
}

torch::Tensor expand_groups(const torch::Tensor& per_group, int64_t group, int64_t in) {
  return per_group.repeat_interleave(group, 1).narrow(1, 0, in);
}

torch::Tensor apply_per_group(const torch::Tensor& x, const torch::Tensor& a, const torch::Tensor& b, int64_t group,
                              const std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&,
                                                                const torch::Tensor&)>& fn) {
  const int64_t out = x.size(0), in = x.size(1);
  if (in % group != 0 || !x.is_contiguous())
    return fn(x, expand_groups(a, group, in), expand_groups(b, group, in));
  return fn(x.view({out, in / group, group}), a.unsqueeze(2), b.unsqueeze(2)).reshape({out, in});
}

GroupParams compute_group_params(const torch::Tensor& w, const QuantSpec& spec) {
  QS_ASSERT(w.dim() == 2, "weight must be [out, in]");
  spec.validate("quantizer");
  auto [wmin, wmax] = group_min_max(w.to(torch::kFloat32), spec.effective_group(w.size(1)));
  return params_from_range(wmin * spec.clip_ratio, wmax * spec.clip_ratio, spec);
}

GroupParams compute_slice_params(const torch::Tensor& w_slice, const QuantSpec& spec) {
  QS_ASSERT(w_slice.dim() == 2, "slice must be [out, g]");
  auto wf = w_slice.to(torch::kFloat32);
  auto wmin = std::get<0>(wf.min(1, /*keepdim=*/true)) * spec.clip_ratio;
  auto wmax = std::get<0>(wf.max(1, /*keepdim=*/true)) * spec.clip_ratio;
  return params_from_range(wmin, wmax, spec);
}

torch::Tensor quantize_codes(const torch::Tensor& w, const GroupParams& p, int64_t group, int bits) {
  QS_ASSERT(w.dim() == 2, "weight must be [out, in]");
  const int64_t out = w.size(0), in = w.size(1), groups = (in + group - 1) / group;
  QS_ASSERT(p.scales.size(0) == out && p.scales.size(1) == groups, "params do not match the weight");
  const auto zeros = p.zeros.to(torch::kFloat32);
  auto q = apply_per_group(w.to(torch::kFloat32).contiguous(), p.scales, zeros, group,
                           [](const torch::Tensor& x, const torch::Tensor& s, const torch::Tensor& z) {
                             return torch::round(x / s) + z;
                           });
  return q.clamp(0.0, static_cast<double>((int64_t{1} << bits) - 1)).to(torch::kUInt8);
}

torch::Tensor dequantize(const torch::Tensor& codes, const torch::Tensor& scales, const torch::Tensor& zeros,
                         int64_t group, const torch::Tensor& g_idx) {
  auto c = codes.to(torch::kFloat32);
  if (g_idx.defined()) {
    auto idx = g_idx.to(codes.device(), torch::kLong);
    return (c - zeros.to(torch::kFloat32).index_select(1, idx)) * scales.to(torch::kFloat32).index_select(1, idx);
  }
  return apply_per_group(c, zeros.to(torch::kFloat32), scales.to(torch::kFloat32), group,
                         [](const torch::Tensor& x, const torch::Tensor& z, const torch::Tensor& s) { return (x - z) * s; });
}

torch::Tensor fake_quantize_columns(const torch::Tensor& w, const torch::Tensor& scale, const torch::Tensor& zero,
                                    int bits) {
  const double qmax = static_cast<double>((int64_t{1} << bits) - 1);
  auto z = zero.to(w.scalar_type());
  auto s = scale.to(w.scalar_type());
  return (torch::clamp(torch::round(w / s) + z, 0.0, qmax) - z) * s;
}

torch::Tensor fake_quantize(const torch::Tensor& w, const QuantSpec& spec) {
  auto p = compute_group_params(w, spec);
  const int64_t g = spec.effective_group(w.size(1));
  return dequantize(quantize_codes(w, p, g, spec.bits), p.scales, p.zeros, g);
}

}  // namespace qs::quant
