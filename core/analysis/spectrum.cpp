#include "core/analysis/spectrum.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>

namespace qs::analysis {

bool spectrum_is_truncated(int64_t m, int64_t n, const SpectrumOptions& o) {
  const int64_t k = std::min(m, n);
  // m·n alone past the budget decides before m·n·k could overflow.
  return k > o.top_k && (m * n > o.exact_work || m * n * k > o.exact_work);
}

torch::Tensor singular_values(const torch::Tensor& a_in, const SpectrumOptions& o) {
  torch::NoGradGuard no_grad;
  auto a = a_in.detach().to(torch::kFloat32);
  if (!spectrum_is_truncated(a.size(0), a.size(1), o)) return torch::linalg_svdvals(a).to(torch::kCPU).contiguous();
  // Work on the wide orientation: the subspace lives in the smaller side.
  if (a.size(0) > a.size(1)) a = a.t();
  const int64_t n = a.size(1);
  const int64_t width = std::min(o.top_k + o.oversample, a.size(0));
  auto generator = at::make_generator<at::CPUGeneratorImpl>(0x5eed);
  const auto omega = torch::randn({n, width}, generator, torch::TensorOptions().dtype(torch::kFloat32)).to(a.device());
  auto basis = std::get<0>(torch::linalg_qr(torch::matmul(a, omega)));
  // Re-orthonormalizing between the products keeps the small directions from
  // drowning in rounding as the power iteration separates the spectrum.
  for (int64_t i = 0; i < o.power_iterations; ++i) {
    const auto right = std::get<0>(torch::linalg_qr(torch::matmul(a.t(), basis)));
    basis = std::get<0>(torch::linalg_qr(torch::matmul(a, right)));
  }
  const auto projected = torch::matmul(basis.t(), a);  // [width, n]
  return torch::linalg_svdvals(projected).narrow(0, 0, o.top_k).to(torch::kCPU).contiguous();
}

}  // namespace qs::analysis
