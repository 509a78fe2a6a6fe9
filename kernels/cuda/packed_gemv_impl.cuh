#pragma once
// Fused dequantize + GEMV for 1..8 rows of x (the decode regime, where a
// matmul is a stream of weight bytes and nothing else matters).
//
// One warp per output row; lane l takes chunks l, l+32, ... of the row, so
// each step of the warp reads 32·BITS consecutive words (one coalesced
// transaction group) and every weight byte is read exactly once. x is small
// and shared by all rows, so it comes through the L1/read-only path. Products
// of 8 codes are summed in fp16 (their magnitudes are those of single terms)
// and then added into fp32 accumulators; the warp reduces at the end.
//
//        row r ─► | lane0: chunk0 | lane1: chunk1 | ... | lane31: chunk31 | lane0: chunk32 | ...

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/packed_dequant.cuh"
#include "kernels/cuda/packed_params.h"

namespace qs::kernels::detail {

inline constexpr int kGemvWarps = 4;

template <int BITS, int BATCH>
__global__ void __launch_bounds__(kGemvWarps * 32) packed_gemv_kernel(PackedMatmulParams p) {
  const int lane = threadIdx.x & 31;
  const int64_t row = int64_t(blockIdx.x) * kGemvWarps + (threadIdx.x >> 5);
  if (row >= p.n) return;
  const int chunks = static_cast<int>(p.k / 32);
  const int group_chunks = static_cast<int>(p.group_size / 32);
  const uint32_t* wrow = p.qweight + row * chunks * BITS;
  const __half* scales = static_cast<const __half*>(p.scales) + row * p.groups;
  const __half* zeros = static_cast<const __half*>(p.zeros) + row * p.groups;
  const __half* x = static_cast<const __half*>(p.x);

  float acc[BATCH];
#pragma unroll
  for (int b = 0; b < BATCH; ++b) acc[b] = 0.f;

  for (int c = lane; c < chunks; c += 32) {
    uint32_t w[BITS];
    load_chunk<BITS>(wrow, c, w);
    const int g = c / group_chunks;
    const __half2 s2 = __half2half2(scales[g]);
    const __half2 z2 = __half2half2(zeros[g]);
#pragma unroll
    for (int s = 0; s < 4; ++s) {
      __half2 wv[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) wv[i] = __hmul2(code_pair<BITS>(w, 4 * s + i, z2), s2);
#pragma unroll
      for (int b = 0; b < BATCH; ++b) {
        const uint4 xv = __ldg(reinterpret_cast<const uint4*>(x + b * p.x_row_stride + c * 32 + s * 8));
        const __half2* xh = reinterpret_cast<const __half2*>(&xv);
        __half2 a = __hmul2(wv[0], xh[0]);
        a = __hfma2(wv[1], xh[1], a);
        a = __hfma2(wv[2], xh[2], a);
        a = __hfma2(wv[3], xh[3], a);
        const float2 f = __half22float2(a);
        acc[b] += f.x + f.y;
      }
    }
  }
#pragma unroll
  for (int b = 0; b < BATCH; ++b)
    for (int offset = 16; offset > 0; offset >>= 1) acc[b] += __shfl_xor_sync(0xffffffffu, acc[b], offset);
  if (lane == 0) {
    const float bias = p.bias ? __half2float(static_cast<const __half*>(p.bias)[row]) : 0.f;
    __half* y = static_cast<__half*>(p.y);
#pragma unroll
    for (int b = 0; b < BATCH; ++b) y[b * p.y_row_stride + row] = __float2half(acc[b] + bias);
  }
}

template <int BITS, int BATCH>
KernelStatus launch_gemv(const PackedMatmulParams& p, cudaStream_t stream) {
  const auto blocks = static_cast<unsigned>((p.n + kGemvWarps - 1) / kGemvWarps);
  packed_gemv_kernel<BITS, BATCH><<<blocks, kGemvWarps * 32, 0, stream>>>(p);
  return cudaPeekAtLastError() == cudaSuccess ? KernelStatus::Ok : KernelStatus::LaunchFailed;
}

}  // namespace qs::kernels::detail
