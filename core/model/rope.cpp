#include "core/model/rope.h"

#include <cmath>

namespace qs::model {

double longrope_attention_factor(const RopeScaling& rs) {
  if (rs.attention_factor > 0.0) return rs.attention_factor;
  if (rs.factor <= 1.0) return 1.0;
  return std::sqrt(1.0 + std::log(rs.factor) / std::log(static_cast<double>(rs.original_max_position_embeddings)));
}

torch::Tensor rope_inv_freq(const ModelConfig& c, bool long_context) {
  const int64_t dim = c.rotary_dim();
  const int64_t half = dim / 2;
  auto idx = torch::arange(0, half, torch::kFloat64) * 2.0 / static_cast<double>(dim);
  auto inv = 1.0 / torch::pow(c.rope_theta, idx);
  const auto& rs = c.rope_scaling;
  if (rs.type == "longrope") {
    const auto& factors = long_context ? rs.long_factor : rs.short_factor;
    inv = inv / torch::tensor(factors, torch::kFloat64);
  } else if (rs.type == "linear") {
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
        const double smooth = (old_ctx / wavelen - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
        acc[i] = (1.0 - smooth) * f / rs.factor + smooth * f;
      }
    }
  }
  return inv.to(torch::kFloat32);
}

RotaryTable::RotaryTable(const ModelConfig& c, torch::Device device, torch::ScalarType dtype) : dtype_(dtype) {
  short_.inv_freq = rope_inv_freq(c).to(device);
  const auto& rs = c.rope_scaling;
  if (rs.type == "longrope") {
    long_.inv_freq = rope_inv_freq(c, /*long_context=*/true).to(device);
    switch_after_ = rs.original_max_position_embeddings;
    attention_factor_ = longrope_attention_factor(rs);
  }
}

std::pair<torch::Tensor, torch::Tensor> RotaryTable::get(int64_t T) {
  Cache& t = switch_after_ > 0 && T > switch_after_ ? long_ : short_;
  if (!t.cos.defined() || t.cos.size(0) < T) {
    // Angles in float32 as HF does, then cast: fp16 angles lose position accuracy.
    auto pos = torch::arange(T, t.inv_freq.options());
    auto freqs = torch::outer(pos, t.inv_freq);
    auto emb = torch::cat({freqs, freqs}, -1);
    t.cos = (emb.cos() * attention_factor_).to(dtype_);
    t.sin = (emb.sin() * attention_factor_).to(dtype_);
  }
  return {t.cos.narrow(0, 0, T), t.sin.narrow(0, 0, T)};
}

torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const int64_t dim = cos.size(-1);
  if (dim < x.size(-1)) {
    const auto rotated = apply_rope(x.narrow(-1, 0, dim), cos, sin);
    return torch::cat({rotated, x.narrow(-1, dim, x.size(-1) - dim)}, -1);
  }
  const int64_t half = dim / 2;
  auto x1 = x.narrow(-1, 0, half);
  auto x2 = x.narrow(-1, half, half);
  auto rotated = torch::cat({-x2, x1}, -1);
  return x * cos + rotated * sin;
}

}  // namespace qs::model
