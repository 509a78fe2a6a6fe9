#include "core/methods/gptq_solver.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/quant/uniform_quantizer.h"

namespace qs::methods {

HessianAccumulator::HessianAccumulator(int64_t in_features, torch::Device device)
    : sum_(torch::zeros({in_features, in_features}, torch::TensorOptions().device(device).dtype(torch::kFloat32))) {}

void HessianAccumulator::add(const torch::Tensor& x) {
  auto x2 = x.reshape({-1, x.size(-1)}).to(torch::kFloat32);
  sum_.addmm_(x2.t(), x2);
  n_ += x2.size(0);
}

torch::Tensor HessianAccumulator::hessian() const {
  if (n_ == 0) throw Error("GPTQ: no calibration input reached this linear");
  return sum_ * (2.0 / static_cast<double>(n_));
}

torch::Tensor HessianAccumulator::take_hessian() {
  if (n_ == 0) throw Error("GPTQ: no calibration input reached this linear");
  sum_.mul_(2.0 / static_cast<double>(n_));
  n_ = 0;
  return std::move(sum_);
}

namespace {

// Upper Cholesky factor of H⁻¹ after damping; raises the damping tenfold when
// H is not positive definite (a dead or near-collinear input), as AutoGPTQ does.
// h is damped in place and keeps its values otherwise, so a retry starts from
// it. The factor, H⁻¹ and its factor share one column-major matrix: that is
// LAPACK's layout, so each step runs in that storage without a temporary.
torch::Tensor inverse_hessian_factor(torch::Tensor& h, double damp, Feedback* feedback) {
  auto diag = h.diagonal();
  const auto undamped = diag.clone();
  // Summed over the strided view: the contiguous copy sums in another order,
  // which would move the damping, and so every code, by an ulp.
  const auto mean_diag = diag.mean().item<double>();
  auto factor = torch::empty_like(h).t();
  auto info = torch::empty({}, h.options().dtype(torch::kInt32));
  for (int attempt = 0; attempt < 4; ++attempt, damp *= 10.0) {
    diag.copy_(undamped).add_(damp * mean_diag);
    torch::linalg_cholesky_ex_out(factor, info, h);
    if (info.item<int64_t>() != 0) {
      if (feedback)
        feedback->log("GPTQ: Hessian not positive definite at damping " + std::to_string(damp) + ", retrying");
      continue;
    }
    torch::cholesky_inverse_out(factor, factor);
    torch::linalg_cholesky_ex_out(factor, info, factor, /*upper=*/true);
    if (info.item<int64_t>() == 0) return factor;
  }
  throw Error("GPTQ: the Hessian stays indefinite after damping " + std::to_string(damp / 10.0));
}

}  // namespace

quant::QuantizedLinear gptq_quantize(const torch::Tensor& w, const torch::Tensor& h, const quant::QuantSpec& spec,
                                     const GptqOptions& o, Feedback* feedback) {
  return gptq_quantize_consuming(w, h.to(torch::kFloat32, false, /*copy=*/true, torch::MemoryFormat::Contiguous), spec,
                                 o, feedback);
}

quant::QuantizedLinear gptq_quantize_consuming(const torch::Tensor& w_in, torch::Tensor&& h_in,
                                               const quant::QuantSpec& spec, const GptqOptions& o,
                                               Feedback* feedback) {
  torch::NoGradGuard no_grad;
  const int64_t out = w_in.size(0), in = w_in.size(1);
  QS_ASSERT(h_in.size(0) == in && h_in.size(1) == in, "Hessian does not match the weight");
  QS_ASSERT(h_in.scalar_type() == torch::kFloat32 && h_in.is_contiguous(), "a consumed Hessian is float32 and contiguous");
  spec.validate("GPTQ");
  const int64_t g = spec.effective_group(in), groups = spec.num_groups(in);
  const double qmax = static_cast<double>(spec.max_code());

  auto w = w_in.to(torch::kFloat32).clone();
  auto h = std::move(h_in);
  auto dead = h.diagonal() == 0;
  h.diagonal().masked_fill_(dead, 1.0);
  w.index_put_({torch::indexing::Slice(), dead}, 0.0);

  auto scales = torch::zeros({out, groups}, w.options());
  auto zeros = torch::zeros({out, groups}, w.options().dtype(torch::kInt32));
  if (o.static_groups) {
    for (int64_t k = 0; k < groups; ++k) {
      auto p = quant::compute_slice_params(w.narrow(1, k * g, std::min(g, in - k * g)), spec);
      scales.narrow(1, k, 1).copy_(p.scales);
      zeros.narrow(1, k, 1).copy_(p.zeros);
    }
  }
  torch::Tensor perm, invperm;
  if (o.act_order) {
    perm = torch::argsort(h.diagonal(), /*stable=*/true, /*dim=*/0, /*descending=*/true);
    w = w.index_select(1, perm);
    h = h.index_select(0, perm).index_select(1, perm);
    invperm = torch::argsort(perm);
  }
  const auto perm_cpu = o.act_order ? perm.to(torch::kCPU) : torch::Tensor();
  auto hinv = inverse_hessian_factor(h, o.damp_percent, feedback);
  h = torch::Tensor();

  // The column sweep runs on raw float rows: per column it is a few vector
  // operations over `out`, and as torch ops their dispatch overhead would
  // dominate on a CPU. Rows of the transposed block are the weight's columns.
  auto codes_t = torch::empty({in, out}, torch::kUInt8);
  std::vector<int32_t> g_idx_perm(static_cast<size_t>(in));
  torch::Tensor sf, zf;  // current grid as contiguous float [out] (CPU)
  const auto* perm_p = o.act_order ? perm_cpu.data_ptr<int64_t>() : nullptr;
  for (int64_t i1 = 0; i1 < in; i1 += o.block_size) {
    if (feedback) feedback->check_cancelled();
    const int64_t i2 = std::min(i1 + o.block_size, in), count = i2 - i1;
    auto w1t = w.narrow(1, i1, count).t().to(torch::kCPU).contiguous();
    auto err1t = torch::empty({count, out}, w1t.options());
    auto hinv1 = hinv.narrow(0, i1, count).narrow(1, i1, count).to(torch::kCPU).contiguous();
    float* w1p = w1t.data_ptr<float>();
    float* ep = err1t.data_ptr<float>();
    const float* hp = hinv1.data_ptr<float>();
    uint8_t* cp = codes_t.data_ptr<uint8_t>();
    for (int64_t i = 0; i < count; ++i) {
      const int64_t col = i1 + i;
      int64_t group;
      if (o.static_groups) {
        group = (perm_p ? perm_p[col] : col) / g;
        sf = scales.select(1, group).to(torch::kCPU).contiguous();
        zf = zeros.select(1, group).to(torch::kCPU, torch::kFloat32).contiguous();
      } else {
        group = col / g;
        if (col % g == 0) {
          // As the official code: the grid comes from the weight as updated by
          // the previous lazy blocks.
          auto p = quant::compute_slice_params(w.narrow(1, col, std::min(g, in - col)), spec);
          scales.narrow(1, group, 1).copy_(p.scales);
          zeros.narrow(1, group, 1).copy_(p.zeros);
          sf = p.scales.squeeze(1).to(torch::kCPU).contiguous();
          zf = p.zeros.squeeze(1).to(torch::kCPU, torch::kFloat32).contiguous();
        }
      }
      g_idx_perm[static_cast<size_t>(col)] = static_cast<int32_t>(group);
      const float* s = sf.data_ptr<float>();
      const float* z = zf.data_ptr<float>();
      float* wc = w1p + i * out;
      float* e = ep + i * out;
      uint8_t* code_row = cp + col * out;
      const float d = hp[i * count + i];
      for (int64_t r = 0; r < out; ++r) {
        const float c = std::clamp(std::nearbyint(wc[r] / s[r]) + z[r], 0.0f, static_cast<float>(qmax));
        code_row[r] = static_cast<uint8_t>(c);
        e[r] = (wc[r] - (c - z[r]) * s[r]) / d;
      }
      for (int64_t j = i + 1; j < count; ++j) {
        const float hij = hp[i * count + j];
        float* wj = w1p + j * out;
        for (int64_t r = 0; r < out; ++r) wj[r] -= e[r] * hij;
      }
    }
    if (i2 < in) {
      auto err1 = err1t.to(w.device()).t();
      w.narrow(1, i2, in - i2).addmm_(err1, hinv.narrow(0, i1, count).narrow(1, i2, in - i2), 1.0, -1.0);
    }
  }
  auto codes = codes_t.t().contiguous().to(w.device());
  auto g_idx_t = torch::from_blob(g_idx_perm.data(), {in}, torch::kInt32).clone();

  quant::QuantizedLinear r;
  r.spec = spec;
  r.spec.group_size = g;
  r.out_features = out;
  r.in_features = in;
  r.scales = scales;
  r.zeros = zeros;
  if (o.act_order) {
    r.codes = codes.index_select(1, invperm);
    if (!o.static_groups) r.g_idx = g_idx_t.index_select(0, invperm.to(torch::kCPU)).contiguous();
  } else {
    r.codes = codes;
  }
  return r;
}

}  // namespace qs::methods
