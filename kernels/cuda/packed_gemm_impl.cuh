#pragma once
// Dequantize + tensor-core GEMM for more than 8 rows of x (prefill, batched
// decode). A block owns a 64-wide slice of output features and BM rows of x;
// for each 64-deep step of k it stages the x tile and the *dequantized* weight
// tile in shared memory and runs 16×16×16 fp16 WMMA with fp32 accumulators.
// Warp w owns output columns [16w, 16w + 16) of the slice for all BM rows, so
// each weight fragment is loaded once and reused BM/16 times.
//
//   smem  xs[BM][64+8]  ws[64][64+8]   (+8 halves of padding against bank conflicts)
//   ws[n][k] read as a col-major 16×16 B operand: B[k][n] = W[n][k]

#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <mma.h>

#include "kernels/cuda/packed_dequant.cuh"
#include "kernels/cuda/packed_params.h"

namespace qs::kernels::detail {

inline constexpr int kGemmThreads = 128;
inline constexpr int kGemmBn = 64;
inline constexpr int kGemmBk = 64;
inline constexpr int kGemmLds = kGemmBk + 8;

template <int BITS, int BM>
__global__ void __launch_bounds__(kGemmThreads) packed_gemm_kernel(PackedMatmulParams p) {
  using namespace nvcuda;
  static_assert(BM % 16 == 0 && BM <= 64, "BM is 16..64 in steps of 16");
  __shared__ __align__(32) __half xs[BM][kGemmLds];
  __shared__ __align__(32) __half ws[kGemmBn][kGemmLds];
  __shared__ __align__(32) float cs[BM][kGemmBn + 4];

  const int tid = threadIdx.x;
  const int warp = tid >> 5;
  const int64_t n0 = int64_t(blockIdx.x) * kGemmBn;
  const int64_t m0 = int64_t(blockIdx.y) * BM;
  const int chunks = static_cast<int>(p.k / 32);
  const int group_chunks = static_cast<int>(p.group_size / 32);
  const __half* x = static_cast<const __half*>(p.x);

  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[BM / 16];
#pragma unroll
  for (int i = 0; i < BM / 16; ++i) wmma::fill_fragment(acc[i], 0.f);

  for (int64_t k0 = 0; k0 < p.k; k0 += kGemmBk) {
    for (int i = tid; i < BM * (kGemmBk / 8); i += kGemmThreads) {
      const int r = i / (kGemmBk / 8);
      const int seg = i % (kGemmBk / 8);
      const int64_t m = m0 + r;
      const int64_t kk = k0 + seg * 8;
      uint4 v = make_uint4(0, 0, 0, 0);
      if (m < p.m && kk < p.k) v = __ldg(reinterpret_cast<const uint4*>(x + m * p.x_row_stride + kk));
      *reinterpret_cast<uint4*>(&xs[r][seg * 8]) = v;
    }
    {
      // 64 rows × 2 chunks of the weight tile: one (row, chunk) per thread.
      const int r = tid >> 1;
      const int half_tile = tid & 1;
      const int64_t n = n0 + r;
      const int c = static_cast<int>(k0 / 32) + half_tile;
      __align__(16) __half2 out[16];
      if (n < p.n && c < chunks) {
        uint32_t w[BITS];
        load_chunk<BITS>(p.qweight + n * chunks * BITS, c, w);
        const int g = c / group_chunks;
        const __half2 s2 = __half2half2(static_cast<const __half*>(p.scales)[n * p.groups + g]);
        const __half2 z2 = __half2half2(static_cast<const __half*>(p.zeros)[n * p.groups + g]);
#pragma unroll
        for (int q = 0; q < 16; ++q) out[q] = __hmul2(code_pair<BITS>(w, q, z2), s2);
      } else {
#pragma unroll
        for (int q = 0; q < 16; ++q) out[q] = __float2half2_rn(0.f);
      }
      auto* dst = reinterpret_cast<uint4*>(&ws[r][half_tile * 32]);
      const auto* src = reinterpret_cast<const uint4*>(out);
#pragma unroll
      for (int q = 0; q < 4; ++q) dst[q] = src[q];
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kGemmBk; kk += 16) {
      wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> bf;
      wmma::load_matrix_sync(bf, &ws[warp * 16][kk], kGemmLds);
#pragma unroll
      for (int i = 0; i < BM / 16; ++i) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> af;
        wmma::load_matrix_sync(af, &xs[i * 16][kk], kGemmLds);
        wmma::mma_sync(acc[i], af, bf, acc[i]);
      }
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < BM / 16; ++i)
    wmma::store_matrix_sync(&cs[i * 16][warp * 16], acc[i], kGemmBn + 4, wmma::mem_row_major);
  __syncthreads();
  __half* y = static_cast<__half*>(p.y);
  const __half* bias = static_cast<const __half*>(p.bias);
  for (int i = tid; i < BM * kGemmBn; i += kGemmThreads) {
    const int r = i / kGemmBn;
    const int col = i % kGemmBn;
    const int64_t m = m0 + r;
    const int64_t n = n0 + col;
    if (m < p.m && n < p.n) y[m * p.y_row_stride + n] = __float2half(cs[r][col] + (bias ? __half2float(bias[n]) : 0.f));
  }
}

template <int BITS, int BM>
KernelStatus launch_gemm(const PackedMatmulParams& p, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((p.n + kGemmBn - 1) / kGemmBn), static_cast<unsigned>((p.m + BM - 1) / BM));
  packed_gemm_kernel<BITS, BM><<<grid, kGemmThreads, 0, stream>>>(p);
  return cudaPeekAtLastError() == cudaSuccess ? KernelStatus::Ok : KernelStatus::LaunchFailed;
}

}  // namespace qs::kernels::detail
