#include "core/model/rope.h"

#include <cmath>

namespace qs::model {

torch::Tensor rope_inv_freq(const ModelConfig& c) {
  const int64_t half = c.head_dim / 2;
  auto idx = torch::arange(0, half, torch::kFloat64) * 2.0 / static_cast<double>(c.head_dim);
  auto inv = 1.0 / torch::pow(c.rope_theta, idx);
  const auto& rs = c.rope_scaling;
  if (rs.type == "linear") {
    inv = inv / rs.factor;
  } else if (rs.type == "llama3") {
    // Long wavelengths are divided by the factor, short ones kept, and the band
    // between blended smoothly (Llama 3.1's _compute_llama3_parameters).
    const double old_ctx = static_cast<double>(rs.original_max_position_embeddings);
    const double low_wavelen = old_ctx / rs.low_freq_factor;
    const double high_wavelen = old_ctx / rs.high_freq_factor;
    auto acc = inv.accessor<double, 1>();
    for (int64_t i = 0; i < half; ++i) {
      const double f = acc[i];
      const double wavelen = 2.0 * M_PI / f;
      if (wavelen > low_wavelen) {
        acc[i] = f / rs.factor;
      } else if (wavelen >= high_wavelen) {
        const double smooth =
            (old_ctx / wavelen - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
        acc[i] = (1.0 - smooth) * f / rs.factor + smooth * f;
      }
    }
  }
  return inv.to(torch::kFloat32);
}

RotaryTable::RotaryTable(const ModelConfig& c, torch::Device device, torch::ScalarType dtype)
    : inv_freq_(rope_inv_freq(c).to(device)), dtype_(dtype) {}

std::pair<torch::Tensor, torch::Tensor> RotaryTable::get(int64_t T) {
  if (!cos_.defined() || cos_.size(0) < T) {
    // Angles in float32 as HF does, then cast: fp16 angles lose position accuracy.
    auto pos = torch::arange(T, inv_freq_.options());
    auto freqs = torch::outer(pos, inv_freq_);
    auto emb = torch::cat({freqs, freqs}, -1);
    cos_ = emb.cos().to(dtype_);
    sin_ = emb.sin().to(dtype_);
  }
  return {cos_.narrow(0, 0, T), sin_.narrow(0, 0, T)};
}

torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  auto x1 = x.narrow(-1, 0, half);
  auto x2 = x.narrow(-1, half, half);
  auto rotated = torch::cat({-x2, x1}, -1);
  return x * cos + rotated * sin;
}

}  // namespace qs::model
