#pragma once
// Launch parameters of the packed matmul kernels: y[m, n] = Σ_k x[m, k] · W[n, k]
// with W in the PackedWeight layout (kernels/packed_weight.h). Plain data, so
// both the CUDA translation units and the torch adapter include it.

#include <cstdint>

namespace qs::kernels {

struct PackedMatmulParams {
  const void* x = nullptr;          // fp16 [m, k], rows x_row_stride elements apart, 16-byte aligned
  const uint32_t* qweight = nullptr;  // [n, k / 32 * bits]
  const void* scales = nullptr;     // fp16 [n, groups]
  const void* zeros = nullptr;      // fp16 [n, groups], 1024 + zero point
  const void* bias = nullptr;       // fp16 [n] or null
  void* y = nullptr;                // fp16 [m, n], rows y_row_stride elements apart
  int64_t m = 0;                    // rows of x (tokens)
  int64_t n = 0;                    // output features
  int64_t k = 0;                    // input features, a multiple of 32
  int64_t groups = 0;               // scale/zero columns per output row
  int64_t group_size = 0;           // a multiple of 32, or k
  int64_t x_row_stride = 0;         // a multiple of 8
  int64_t y_row_stride = 0;
  int bits = 0;                     // 2, 3, 4 or 8
};

// What a launcher reports; the adapter turns anything but Ok into an exception.
enum class KernelStatus { Ok, Unsupported, LaunchFailed };

}  // namespace qs::kernels
