#pragma once
// Launch parameters of the LUT GEMV (kernels/lut_weight.h for the layout).

#include <cstdint>

#include "kernels/cuda/packed_params.h"

namespace qs::kernels {

struct LutMatmulParams {
  const void* x = nullptr;            // fp16 [m, k], rows x_row_stride elements apart
  const uint32_t* planes = nullptr;   // [k / 32, bits, n]
  const void* scales = nullptr;       // fp16 [groups, n]
  const void* zeros = nullptr;        // fp16 [groups, n]
  float* y = nullptr;                 // fp32 [m, n], zeroed: split-k partial sums are added atomically
  int64_t m = 0;
  int64_t n = 0;
  int64_t k = 0;                      // a multiple of 32
  int64_t group_size = 0;             // a multiple of 32, or k
  int64_t x_row_stride = 0;
  int64_t k_split = 0;                // inputs per block along k, a multiple of 128
  int bits = 0;                       // 2, 3 or 4
};

}  // namespace qs::kernels
