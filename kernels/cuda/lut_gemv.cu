// LUT GEMV after LUT-GEMM: a block stages 128 activations, builds the 16
// tables of 256 subset sums (one per 8 inputs) in shared memory, and each of
// its 256 threads walks one output row's bit planes, replacing the
// dequantize-multiply of 8 weights by `bits` table lookups. The table is
// built once per block and shared by 256 rows; k is split across blocks
// (partial sums added atomically into fp32) so small n still fills the GPU.
//
//   block (row tile r, k split s):  for each 128-input tile of split s:
//     xs[128] ─► table[16][256] ─► row n: Σ_b 2^b·table[t][byte_b(n)]

#include "kernels/cuda/lut_gemv.cuh"

#include <cuda_fp16.h>

namespace qs::kernels {
namespace {

constexpr int kTables = kLutTileInputs / 8;

template <int BITS>
__global__ void __launch_bounds__(kLutRowsPerBlock) lut_gemv_kernel(LutMatmulParams p) {
  __shared__ float table[kTables][256];
  __shared__ float xs[kLutTileInputs];
  const int64_t n = int64_t(blockIdx.x) * kLutRowsPerBlock + threadIdx.x;
  const int64_t batch = blockIdx.z;
  const int64_t k_begin = int64_t(blockIdx.y) * p.k_split;
  const int64_t k_end = min(p.k, k_begin + p.k_split);
  const __half* x = static_cast<const __half*>(p.x) + batch * p.x_row_stride;
  const __half* scales = static_cast<const __half*>(p.scales);
  const __half* zeros = static_cast<const __half*>(p.zeros);

  float total = 0.f, acc = 0.f, sum_x = 0.f;
  int64_t group = -1;
  auto flush = [&] {
    if (group >= 0)
      total += __half2float(scales[group * p.n + n]) * (acc - __half2float(zeros[group * p.n + n]) * sum_x);
  };
  for (int64_t k0 = k_begin; k0 < k_end; k0 += kLutTileInputs) {
    const int tile = k_end - k0 < kLutTileInputs ? static_cast<int>(k_end - k0) : kLutTileInputs;
    __syncthreads();  // every thread is done with the previous tile's table
    for (int i = threadIdx.x; i < kLutTileInputs; i += kLutRowsPerBlock)
      xs[i] = i < tile ? __half2float(x[k0 + i]) : 0.f;
    __syncthreads();
    for (int e = threadIdx.x; e < kTables * 256; e += kLutRowsPerBlock) {
      const int t = e >> 8, mask = e & 255;
      float s = 0.f;
#pragma unroll
      for (int j = 0; j < 8; ++j)
        if ((mask >> j) & 1) s += xs[t * 8 + j];
      table[t][mask] = s;
    }
    __syncthreads();
    if (n >= p.n) continue;
    for (int w = 0; w < tile / 32; ++w) {
      const int64_t word = (k0 >> 5) + w;
      const int64_t g = (k0 + 32 * w) / p.group_size;
      if (g != group) {
        flush();
        group = g, acc = 0.f, sum_x = 0.f;
      }
      uint32_t plane[BITS];
#pragma unroll
      for (int b = 0; b < BITS; ++b) plane[b] = __ldg(p.planes + (word * BITS + b) * p.n + n);
#pragma unroll
      for (int byte = 0; byte < 4; ++byte) {
        const float* t = table[w * 4 + byte];
        float v = 0.f;
#pragma unroll
        for (int b = 0; b < BITS; ++b) v += float(1 << b) * t[(plane[b] >> (8 * byte)) & 255u];
        acc += v;
        sum_x += t[255];
      }
    }
  }
  if (n >= p.n) return;
  flush();
  atomicAdd(p.y + batch * p.n + n, total);
}

}  // namespace

KernelStatus launch_lut_gemv(const LutMatmulParams& p, cudaStream_t stream) {
  if (p.m <= 0 || p.n <= 0) return KernelStatus::Ok;
  if (p.k_split <= 0 || p.k_split % kLutTileInputs != 0 || p.m > 65535) return KernelStatus::Unsupported;
  const dim3 grid(static_cast<unsigned>((p.n + kLutRowsPerBlock - 1) / kLutRowsPerBlock),
                  static_cast<unsigned>((p.k + p.k_split - 1) / p.k_split), static_cast<unsigned>(p.m));
  switch (p.bits) {
    case 2: lut_gemv_kernel<2><<<grid, kLutRowsPerBlock, 0, stream>>>(p); break;
    case 3: lut_gemv_kernel<3><<<grid, kLutRowsPerBlock, 0, stream>>>(p); break;
    case 4: lut_gemv_kernel<4><<<grid, kLutRowsPerBlock, 0, stream>>>(p); break;
    default: return KernelStatus::Unsupported;
  }
  return cudaPeekAtLastError() == cudaSuccess ? KernelStatus::Ok : KernelStatus::LaunchFailed;
}

}  // namespace qs::kernels
