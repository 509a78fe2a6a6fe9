#include "core/methods/gptq_solver.h"

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

namespace {

// Upper Cholesky factor of H⁻¹ after damping; raises the damping tenfold when
// H is not positive definite (a dead or near-collinear input), as AutoGPTQ does.
torch::Tensor inverse_hessian_factor(torch::Tensor h, double damp, Feedback* feedback) {
  const auto mean_diag = h.diagonal().mean().item<double>();
  for (int attempt = 0; attempt < 4; ++attempt, damp *= 10.0) {
    auto hd = h.clone();
    hd.diagonal().add_(damp * mean_diag);
    auto [l, info] = torch::linalg_cholesky_ex(hd);
    if (info.item<int64_t>() != 0) {
      if (feedback)
        feedback->log("GPTQ: Hessian not positive definite at damping " +
                                             std::to_string(damp) + ", retrying");
      continue;
    }
    auto hinv = torch::cholesky_inverse(l);
    auto [u, info2] = torch::linalg_cholesky_ex(hinv, /*upper=*/true);
    if (info2.item<int64_t>() == 0) return u;
  }
  throw Error("GPTQ: the Hessian stays indefinite after damping " + std::to_string(damp / 10.0));
}

}  // namespace

quant::QuantizedLinear gptq_quantize(const torch::Tensor& w_in, const torch::Tensor& h_in,
                                     const quant::QuantSpec& spec, const GptqOptions& o,
                                     Feedback* feedback) {
  torch::NoGradGuard no_grad;
  const int64_t out = w_in.size(0), in = w_in.size(1);
  QS_ASSERT(h_in.size(0) == in && h_in.size(1) == in, "Hessian does not match the weight");
  spec.validate("GPTQ");
  const int64_t g = spec.effective_group(in), groups = spec.num_groups(in);
  const double qmax = static_cast<double>(spec.max_code());

  auto w = w_in.to(torch::kFloat32).clone();
  auto h = h_in.to(torch::kFloat32).clone();
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

  auto codes = torch::zeros({out, in}, w.options().dtype(torch::kUInt8));
  // Group of each column in quantization order (act-order without static groups
  // forms groups over the permuted columns).
  auto g_idx_perm = torch::zeros({in}, torch::kInt32);
  torch::Tensor sf, zf;  // current grid as float [out]
  for (int64_t i1 = 0; i1 < in; i1 += o.block_size) {
    if (feedback) feedback->check_cancelled();
    const int64_t i2 = std::min(i1 + o.block_size, in), count = i2 - i1;
    auto w1 = w.narrow(1, i1, count).clone();
    auto err1 = torch::zeros({out, count}, w.options());
    auto hinv1 = hinv.narrow(0, i1, count).narrow(1, i1, count);
    auto hinv1_diag = hinv1.diagonal().to(torch::kCPU);
    for (int64_t i = 0; i < count; ++i) {
      const int64_t col = i1 + i;
      int64_t group;
      if (o.static_groups) {
        const int64_t orig = o.act_order ? perm_cpu[col].item<int64_t>() : col;
        group = orig / g;
        sf = scales.select(1, group);
        zf = zeros.select(1, group).to(torch::kFloat32);
      } else {
        group = col / g;
        if (col % g == 0) {
          // As the official code: the grid comes from the weight as updated by
          // the previous lazy blocks.
          auto p = quant::compute_slice_params(w.narrow(1, col, std::min(g, in - col)), spec);
          scales.narrow(1, group, 1).copy_(p.scales);
          zeros.narrow(1, group, 1).copy_(p.zeros);
          sf = p.scales.squeeze(1);
          zf = p.zeros.squeeze(1).to(torch::kFloat32);
        }
      }
      g_idx_perm[col] = static_cast<int32_t>(group);
      auto wc = w1.select(1, i);
      auto code = torch::clamp(torch::round(wc / sf) + zf, 0.0, qmax);
      auto q = (code - zf) * sf;
      codes.select(1, col).copy_(code.to(torch::kUInt8));
      const double d = hinv1_diag[i].item<double>();
      auto e = (wc - q) / d;
      if (i + 1 < count)
        w1.narrow(1, i + 1, count - i - 1).addr_(e, hinv1.select(0, i).narrow(0, i + 1, count - i - 1), 1.0, -1.0);
      err1.select(1, i).copy_(e);
    }
    if (i2 < in) w.narrow(1, i2, in - i2).addmm_(err1, hinv.narrow(0, i1, count).narrow(1, i2, in - i2), 1.0, -1.0);
  }

  quant::QuantizedLinear r;
  r.spec = spec;
  r.spec.group_size = g;
  r.out_features = out;
  r.in_features = in;
  r.scales = scales;
  r.zeros = zeros;
  if (o.act_order) {
    r.codes = codes.index_select(1, invperm);
    if (!o.static_groups) r.g_idx = g_idx_perm.index_select(0, invperm.to(torch::kCPU)).contiguous();
  } else {
    r.codes = codes;
  }
  return r;
}

}  // namespace qs::methods
