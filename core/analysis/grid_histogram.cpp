#include "core/analysis/grid_histogram.h"

#include <algorithm>

#include "core/error.h"
#include "core/quant/uniform_quantizer.h"

namespace qs::analysis {
namespace {

// Per-group values [out, groups] spread to their columns [out, in] through an
// act-order record's g_idx.
torch::Tensor per_column(const torch::Tensor& per_group, const quant::QuantizedLinear& q) {
  return per_group.index_select(1, q.g_idx.to(torch::kLong));
}

}  // namespace

int64_t code_bins_per_level(int bits) { return std::max<int64_t>(2, 512 >> bits); }

std::map<std::string, torch::Tensor> grid_histogram(const torch::Tensor& weight, const quant::QuantizedLinear& q,
                                                    int64_t bins) {
  const auto w = weight.detach().to(torch::kCPU, torch::kFloat32);
  if (w.dim() != 2 || w.size(0) != q.out_features || w.size(1) != q.in_features || bins < 1)
    throw ArgumentError("grid_histogram: weight shape differs from the record's");
  std::map<std::string, torch::Tensor> out;
  const auto [min, max] = torch::aminmax(w);
  double lo = min.item<double>(), hi = max.item<double>();
  if (hi <= lo) hi = lo + 1e-12;
  out["hist_weight"] = torch::histc(w, bins, lo, hi);
  out["hist_weight_range"] = torch::tensor({lo, hi}, torch::kFloat32);

  const int64_t levels = int64_t{1} << q.spec.bits;
  const auto scales = q.scales.to(torch::kCPU, torch::kFloat32);
  const auto zeros = q.zeros.to(torch::kCPU, torch::kFloat32);
  const int64_t widest = scales.argmax().item<int64_t>();
  const int64_t row = widest / scales.size(1), group = widest % scales.size(1);
  out["hist_grid"] =
      ((torch::arange(levels, torch::kFloat32) - zeros[row][group]) * scales[row][group]).contiguous();
  out["hist_grid_group"] = torch::tensor({static_cast<float>(row), static_cast<float>(group)}, torch::kFloat32);

  const double edge = 0.5 - 1e-6;  // clipped positions land inside the end bins
  const auto grid = [](const torch::Tensor& x, const torch::Tensor& s, const torch::Tensor& z) {
    return x / s.clamp_min(1e-30) + z;
  };
  const auto position =
      (q.g_idx.defined() ? grid(w, per_column(scales, q), per_column(zeros, q))
                         : quant::apply_per_group(w.contiguous(), scales, zeros, q.spec.effective_group(q.in_features), grid))
          .clamp(-edge, levels - 1 + edge);
  out["hist_code"] = torch::histc(position, levels * code_bins_per_level(q.spec.bits), -0.5, levels - 0.5);
  return out;
}

}  // namespace qs::analysis
