#pragma once
// The LUT algorithm on the CPU: subset-sum tables per 8 inputs of each row of
// x, shared by every output row.

#include <ATen/ATen.h>

#include "kernels/lut_weight.h"

namespace qs::kernels::cpu {

// x float32 [m, in] contiguous (packed column order), out float32 [m, out] contiguous.
void lut_matmul_cpu(const at::Tensor& x, const LutWeight& w, const at::Tensor& bias, at::Tensor& out);

}  // namespace qs::kernels::cpu
