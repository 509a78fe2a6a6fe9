#pragma once
// Decoding one 32-code chunk of the PackedWeight layout into fp16 pairs, shared
// by the GEMV and GEMM kernels. The layout puts codes 2p and 2p+1 of a word in
// the two 16-bit halves after one shift and mask; OR-ing in the exponent bits
// of 1024 (0x6400) turns each half into the fp16 number 1024 + q exactly, so a
// pair costs a shift, one LOP3 and a subtraction, with no int-to-float convert.

#include <cuda_fp16.h>

#include <cstdint>

namespace qs::kernels::detail {

__device__ __forceinline__ __half2 as_half2(uint32_t bits) {
  __half2 h;
  *reinterpret_cast<uint32_t*>(&h) = bits;
  return h;
}

// Codes 2p, 2p+1 of a chunk (p in 0..15) as (q − zero) fp16 pairs, exact integers.
// `w` holds the chunk's BITS words; zero2 = (1024 + zero) in both halves.
template <int BITS>
__device__ __forceinline__ __half2 code_pair(const uint32_t* w, int p, __half2 zero2) {
  uint32_t q;
  if constexpr (BITS == 3) {
    const uint32_t lo = (w[p >> 3] >> (2 * (p & 7))) & 0x00030003u;
    const uint32_t hi = ((w[2] >> p) & 0x00010001u) << 2;
    q = lo | hi;
  } else {
    constexpr int kPairsPerWord = 16 / BITS;
    constexpr uint32_t kMask = ((1u << BITS) - 1) * 0x00010001u;
    q = (w[p / kPairsPerWord] >> (BITS * (p % kPairsPerWord))) & kMask;
  }
  return __hsub2(as_half2(q | 0x64006400u), zero2);
}

// Loads the BITS words of chunk `c` of a row with the widest aligned loads.
template <int BITS>
__device__ __forceinline__ void load_chunk(const uint32_t* row, int64_t c, uint32_t (&w)[BITS]) {
  const uint32_t* p = row + c * BITS;
  if constexpr (BITS == 4) {
    const uint4 v = __ldg(reinterpret_cast<const uint4*>(p));
    w[0] = v.x, w[1] = v.y, w[2] = v.z, w[3] = v.w;
  } else if constexpr (BITS == 8) {
    const uint4 a = __ldg(reinterpret_cast<const uint4*>(p));
    const uint4 b = __ldg(reinterpret_cast<const uint4*>(p) + 1);
    w[0] = a.x, w[1] = a.y, w[2] = a.z, w[3] = a.w, w[4] = b.x, w[5] = b.y, w[6] = b.z, w[7] = b.w;
  } else if constexpr (BITS == 2) {
    const uint2 v = __ldg(reinterpret_cast<const uint2*>(p));
    w[0] = v.x, w[1] = v.y;
  } else {
    for (int i = 0; i < BITS; ++i) w[i] = __ldg(p + i);
  }
}

}  // namespace qs::kernels::detail
