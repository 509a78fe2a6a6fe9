#pragma once
// Host entry of the LUT GEMV (binary-coding view of 2–4-bit weights).

#include <cuda_runtime_api.h>

#include "kernels/cuda/lut_params.h"

namespace qs::kernels {

// Rows of weights one block serves, and inputs per shared table.
inline constexpr int kLutRowsPerBlock = 256;
inline constexpr int kLutTileInputs = 128;

KernelStatus launch_lut_gemv(const LutMatmulParams& p, cudaStream_t stream);

}  // namespace qs::kernels
