#include "core/analysis/layer_analysis.h"

#include <algorithm>

#include "core/analysis/grid_histogram.h"
#include "core/error.h"

namespace qs::analysis {
namespace {

// Max over consecutive runs of `run` entries of the last dimension; the last
// run may be shorter. Padding with zeros is neutral for absolute values.
torch::Tensor max_runs(const torch::Tensor& t, int64_t run) {
  const int64_t n = t.size(1);
  const int64_t cells = (n + run - 1) / run;
  const auto padded = torch::constant_pad_nd(t, {0, cells * run - n});
  return padded.reshape({t.size(0), cells, run}).amax(2);
}

// Pools the last dimension so that at most `limit` entries remain.
torch::Tensor pool_to(const torch::Tensor& t, int64_t limit) {
  return t.size(1) <= limit ? t : max_runs(t, (t.size(1) + limit - 1) / limit);
}

}  // namespace

void ChannelStats::add(const torch::Tensor& x) {
  const auto a = x.detach().reshape({-1, x.size(-1)}).abs().to(torch::kCPU, torch::kFloat64);
  const auto mx = a.amax(0);
  const auto sum = a.sum(0);
  if (count_ == 0) {
    abs_max_ = mx;
    abs_sum_ = sum;
  } else {
    if (mx.size(0) != abs_max_.size(0)) throw ArgumentError("ChannelStats: channel count changed");
    abs_max_ = torch::maximum(abs_max_, mx);
    abs_sum_ = abs_sum_ + sum;
  }
  count_ += a.size(0);
}

torch::Tensor ChannelStats::abs_max() const { return abs_max_.to(torch::kFloat32); }
torch::Tensor ChannelStats::mean_abs() const { return (abs_sum_ / static_cast<double>(count_)).to(torch::kFloat32); }

torch::Tensor error_map(const torch::Tensor& error, int64_t group_size, int64_t max_rows, int64_t max_cols) {
  if (error.dim() != 2 || group_size <= 0 || max_rows <= 0 || max_cols <= 0)
    throw ArgumentError("error_map: needs a 2-D error and positive sizes");
  const auto cells = max_runs(error.abs().to(torch::kFloat32), group_size);
  return pool_to(pool_to(cells, max_cols).t(), max_rows).t().contiguous();
}

std::map<std::string, torch::Tensor> analyze_layer(const torch::Tensor& weight, const quant::QuantizedLinear& q,
                                                   const ChannelStats& inputs, const LayerAnalysisOptions& options) {
  const auto w = weight.detach().to(torch::kCPU, torch::kFloat32);
  if (w.dim() != 2 || w.size(0) != q.out_features || w.size(1) != q.in_features)
    throw ArgumentError("analyze_layer: weight shape differs from the record's");
  // The layer's whole error: a side branch (LQER, RILQ) or an input transform
  // (AffineQuant) is part of what the layer computes, as in the weight MSE.
  const auto e = w - q.effective_weight().to(torch::kCPU);
  std::map<std::string, torch::Tensor> out;
  out["weight_abs_max"] = w.abs().amax(0).contiguous();
  // ‖·‖² through the norm, which squares as it sums: a 4096 × 14336 matrix's
  // squares would be 235 MB more to fill on every preview.
  const auto energy = [](const torch::Tensor& m) { return torch::linalg_vector_norm(m, 2).square().reshape({1}); };
  const auto error_energy = energy(e);
  out["weight_mse"] = error_energy / static_cast<double>(e.numel());
  out["sv_weight"] = singular_values(w, options.spectrum);
  out["sv_error"] = singular_values(e, options.spectrum);
  const bool truncated = spectrum_is_truncated(w.size(0), w.size(1), options.spectrum);
  if (truncated) {
    out["sv_rank"] = torch::tensor({static_cast<float>(std::min(w.size(0), w.size(1)))});
    out["sv_weight_energy"] = energy(w);
    out["sv_error_energy"] = error_energy;
  }
  out["error_map"] = error_map(e, q.spec.effective_group(q.in_features), options.max_rows, options.max_cols);
  out.merge(grid_histogram(w, q));
  if (!inputs.empty()) {
    out["act_abs_max"] = inputs.abs_max().contiguous();
    out["act_mean_abs"] = inputs.mean_abs().contiguous();
    const auto scaled = e * out["act_mean_abs"].unsqueeze(0);
    out["sv_scaled_error"] = singular_values(scaled, options.spectrum);
    if (truncated) out["sv_scaled_error_energy"] = energy(scaled);
  }
  return out;
}

}  // namespace qs::analysis
