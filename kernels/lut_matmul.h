#pragma once
// y = x · Wᵀ (+ bias) through lookup tables of activation subset sums (the
// binary-coding view, kernels/lut_weight.h): on CUDA the LUT GEMV, on the CPU
// the same algorithm as a fallback and the check of its algebra. The packed
// dequantize kernels remain the default; the benchmark times both so the
// readout can say which wins where. Fails as packed_matmul does.

#include <ATen/ATen.h>

#include "kernels/lut_weight.h"

namespace qs::kernels {

// x: [..., in_features] on the weight's device; the result keeps x's dtype.
at::Tensor lut_matmul(const at::Tensor& x, const LutWeight& w, const at::Tensor& bias = {});

// x: [m, in_features] in packed column order. out: float32 [m, out_features]
// contiguous on x's device; every element is written.
void lut_matmul_out(const at::Tensor& x, const LutWeight& w, const at::Tensor& bias, at::Tensor& out);

// float64 on the CPU, from dequantize_reference(LutWeight).
at::Tensor lut_matmul_reference(const at::Tensor& x, const LutWeight& w, const at::Tensor& bias = {});

}  // namespace qs::kernels
