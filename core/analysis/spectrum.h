#pragma once
// Singular values for the inspector's spectra. A matrix whose full SVD costs
// at most `exact_work` (m·n·min(m, n), the order of LAPACK's bidiagonalization)
// gets all of them from LAPACK. A larger one gets its top `top_k` by
// randomized subspace iteration (Halko, Martinsson & Tropp 2011, algorithm
// 4.4): a full SVD of a 4096 × 14336 down_proj takes minutes on a workstation
// CPU, a 2048 × 8192 one 40 s on two cores, this a second. The default keeps
// every matrix of a 135M-class model (576 × 1536: 0.3 s) exact. The estimates are Ritz values of a
// subspace, so none exceeds its true value; on a flat spectrum (random or
// quantization-error matrices) the k-th falls short by up to ~10% at two
// power iterations, on the decaying spectra of trained weights far less.

#include <torch/torch.h>

namespace qs::analysis {

struct SpectrumOptions {
  int64_t exact_work = int64_t{1} << 30;
  int64_t top_k = 96;
  int64_t oversample = 16;
  int64_t power_iterations = 2;
};

// Descending float32 CPU values of `a` [m, n]: min(m, n) of them, or top_k when
// m·n·min(m, n) > exact_work. Deterministic: the random test matrix has a fixed seed.
torch::Tensor singular_values(const torch::Tensor& a, const SpectrumOptions& options = {});

// Whether singular_values returns only the top of the spectrum for [m, n].
bool spectrum_is_truncated(int64_t m, int64_t n, const SpectrumOptions& options = {});

}  // namespace qs::analysis
