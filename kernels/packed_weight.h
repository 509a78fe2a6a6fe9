#pragma once
// PackedWeight: the kernels' own layout of a b-bit group-quantized matrix
// (b = 2, 3, 4, 8), W[n, k] = (code - zero) * scale with one (scale, zero) per
// output row and group of input columns.
//
// Rows are output channels; along the input dimension every run of 32 codes
// (a "chunk") occupies exactly b int32 words, so a warp that gives one chunk
// to each lane reads 32·b consecutive words of a row, fully coalesced, and a
// chunk never straddles a group (groups are multiples of 32).
//
// Inside a word of n codes of width w (n·w = 32) the codes are interleaved:
// field k holds code (k < n/2 ? 2k : 2(k − n/2) + 1). Masking the word with
// (2^w − 1)·(1 + 2^16) after a shift of w·p leaves codes 2p and 2p+1 in the low
// bits of the two 16-bit halves, so OR-ing 0x6400 into each half yields the
// fp16 pair (1024 + q_2p, 1024 + q_2p+1) exactly, with no conversion
// instruction. 3-bit chunks are two planes: two words of the low two bits
// (the 2-bit rule) and one word of the high bit (n = 32, w = 1).
//
//   chunk c of row r:  qweight[r, c·b .. c·b + b)
//   group of chunk c:  c·32 / group_size
//
// Zeros are stored as fp16 (1024 + zero), so (1024 + q) − (1024 + zero) is
// the exact integer q − zero before the scale multiplies it.

#include <ATen/ATen.h>

#include <string>

namespace qs::kernels {

struct PackedWeight {
  int bits = 0;               // 2, 3, 4 or 8
  int64_t group_size = 0;     // a multiple of 32; in_features for one group per row
  int64_t in_features = 0;    // a multiple of 32
  int64_t out_features = 0;
  at::Tensor qweight;         // int32 [out, in / 32 * bits]
  at::Tensor scales;          // float16 [out, groups]
  at::Tensor zeros;           // float16 [out, groups]: 1024 + zero point
  at::Tensor perm;            // optional int64 [in]: x's columns in packed order (act-order)

  int64_t groups() const { return (in_features + group_size - 1) / group_size; }
  int64_t chunks() const { return in_features / 32; }
  // Bytes a matmul must read for the weight: codes, scales and zeros.
  int64_t weight_bytes() const;
  // A copy with every tensor on `device`.
  PackedWeight to(at::Device device) const;
};

// Why codes of this shape cannot use the layout, or "" when they can.
std::string unsupported_reason(int bits, int64_t in_features, int64_t group_size);

// codes uint8 [out, in] (< 2^bits), scales float [out, groups], zeros int [out, groups],
// group_size (effective, ≥ 1), g_idx optional int [in] (the group of each input
// column, act-order). Throws std::invalid_argument naming the argument when the
// shapes disagree or unsupported_reason() is not empty. CPU tensors.
PackedWeight pack_weight(const at::Tensor& codes, const at::Tensor& scales, const at::Tensor& zeros, int bits,
                         int64_t group_size, const at::Tensor& g_idx = {});

// The exact inverse of pack_weight (scales as float32 from their fp16 copy),
// codes in the original column order.
struct UnpackedWeight {
  at::Tensor codes;   // uint8 [out, in]
  at::Tensor scales;  // float32 [out, groups]
  at::Tensor zeros;   // int32 [out, groups]
};
UnpackedWeight unpack_weight(const PackedWeight& w);

}  // namespace qs::kernels
