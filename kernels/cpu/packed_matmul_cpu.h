#pragma once
// The CPU fallback of packed_matmul, used by the model when there is no GPU.

#include <ATen/ATen.h>

#include "kernels/packed_weight.h"

namespace qs::kernels::cpu {

// Rows of x up to this count take the fused path; more rows amortize a full dequantization.
inline constexpr int64_t kFusedMaxRows = 8;

// x float32 [m, in] contiguous (packed column order), out float32 [m, out] contiguous.
void packed_matmul_cpu(const at::Tensor& x, const PackedWeight& w, const at::Tensor& bias, at::Tensor& out);

// float32 [out, in] in packed column order.
at::Tensor dequantize_cpu(const PackedWeight& w);

}  // namespace qs::kernels::cpu
