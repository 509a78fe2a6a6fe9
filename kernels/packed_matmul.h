#pragma once
// y = x · Wᵀ (+ bias) with W in the PackedWeight layout, on the device of x:
// CUDA runs the fused kernels (GEMV up to 8 rows, tensor-core GEMM above) in
// fp16; the CPU runs a fused per-row fallback for up to 8 rows and
// dequantize + matmul above, in fp32.
//
// All calls throw std::invalid_argument naming the argument when a tensor has
// the wrong shape, dtype or device, and std::runtime_error when a launch fails.

#include <ATen/ATen.h>

#include "kernels/packed_weight.h"

namespace qs::kernels {

// x: [..., in_features] float16/bfloat16/float32 on the weight's device; the
// result is [..., out_features] in x's dtype. bias: optional [out_features].
at::Tensor packed_matmul(const at::Tensor& x, const PackedWeight& w, const at::Tensor& bias = {});

// The same into a preallocated out [m, out_features] for a 2-D x [m, in_features]
// (columns already in packed order when w.perm is set). On CUDA out is float16,
// on the CPU float32; both contiguous. Every element of out is written.
void packed_matmul_out(const at::Tensor& x, const PackedWeight& w, const at::Tensor& bias, at::Tensor& out);

// Which kernel packed_matmul uses for m rows on `device`: "cuda-gemv", "cuda-gemm",
// "cpu-fused" or "cpu-dequantize".
std::string packed_kernel_name(int64_t m, at::Device device);

// The references the kernels are tested against, written from the layout's
// definition (unpack_weight) and computed in float64 on the CPU.
at::Tensor dequantize_reference(const PackedWeight& w);  // float64 [out, in], original column order
at::Tensor packed_matmul_reference(const at::Tensor& x, const PackedWeight& w, const at::Tensor& bias = {});

}  // namespace qs::kernels
