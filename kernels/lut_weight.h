#pragma once
// LutWeight: the binary-coding view of a b-bit group-quantized matrix, for
// LUT-GEMM-style kernels (Park et al., "LUT-GEMM", 2024). A code is the sum of
// its bit planes, q = Σ_b 2^b·β_b, so for a row
//
//   Σ_k W[n,k]·x_k = Σ_groups s·( Σ_b 2^b Σ_k β_b[n,k]·x_k  −  zero·Σ_k x_k ).
//
// Σ_k β·x over 8 inputs is one of 256 subset sums of those inputs: a kernel
// builds that table once per 8 activations, shares it across every row, and
// replaces the dequantize-and-multiply of 8 weights by b table lookups. The
// subset sum of all 8 (entry 255) is Σ x, which the zero point needs.
//
//   planes[w, b, n]: bit j = bit b of the code of row n, input 32·w + j
//   (rows fastest, so a warp of consecutive rows reads consecutive words)

#include <ATen/ATen.h>

#include <string>

#include "kernels/packed_weight.h"

namespace qs::kernels {

struct LutWeight {
  int bits = 0;               // 2, 3 or 4
  int64_t group_size = 0;     // as in PackedWeight
  int64_t in_features = 0;    // a multiple of 32
  int64_t out_features = 0;
  at::Tensor planes;          // int32 [in / 32, bits, out]
  at::Tensor scales;          // float16 [groups, out]
  at::Tensor zeros;           // float16 [groups, out]: the zero point itself
  at::Tensor perm;            // as in PackedWeight

  int64_t groups() const { return (in_features + group_size - 1) / group_size; }
  int64_t weight_bytes() const;
  LutWeight to(at::Device device) const;
};

// Why this weight cannot take the LUT kernels ("" when it can): 2–4 bits.
std::string lut_unsupported_reason(int bits);

// The same codes, scales and zeros in the bit-plane layout (CPU tensors).
// Throws std::invalid_argument when lut_unsupported_reason is not empty.
LutWeight to_lut_weight(const PackedWeight& w);

// float64 [out, in] in the original column order, decoded from the planes.
at::Tensor dequantize_reference(const LutWeight& w);

}  // namespace qs::kernels
