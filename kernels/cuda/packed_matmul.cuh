#pragma once
// Host entry of the packed matmul kernels: picks the GEMV for up to 8 rows of
// x and the tensor-core GEMM above, on `stream`. Raw pointers only; the torch
// adapter (kernels/packed_matmul.cpp) checks tensors before calling.

#include <cuda_runtime_api.h>

#include "kernels/cuda/packed_params.h"

namespace qs::kernels {

KernelStatus launch_packed_matmul(const PackedMatmulParams& p, cudaStream_t stream);

// "gemv" or "gemm": which kernel launch_packed_matmul runs for m rows.
const char* packed_kernel_for_rows(int64_t m);

}  // namespace qs::kernels
