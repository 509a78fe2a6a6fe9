#pragma once
// Encoders for the ggml block types a GGUF export writes, each from integer
// codes and per-block parameters so nothing is re-rounded: a row of `in`
// values becomes in/32 blocks (in must be a multiple of 32).
//   Q4_0  {f16 d; u8 qs[16]}          x = d·(q − 8)
//   Q4_1  {f16 d; f16 m; u8 qs[16]}   x = d·q + m
//   Q8_0  {f16 d; i8 qs[32]}          x = d·q
// In qs[j] the low nibble is element j, the high nibble element j + 16.

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace qs::checkpoint {

constexpr int64_t kGgmlBlock = 32;  // values per block of every type above

// codes uint8 [rows, in] (< 16), d float32 [rows, in/32].
std::vector<uint8_t> encode_q4_0(const torch::Tensor& codes, const torch::Tensor& d);
// codes uint8 [rows, in] (< 16), d and m float32 [rows, in/32].
std::vector<uint8_t> encode_q4_1(const torch::Tensor& codes, const torch::Tensor& d, const torch::Tensor& m);
// q int8 [rows, in], d float32 [rows, in/32].
std::vector<uint8_t> encode_q8_0(const torch::Tensor& q, const torch::Tensor& d);
std::vector<uint8_t> encode_f16(const torch::Tensor& t);
std::vector<uint8_t> encode_f32(const torch::Tensor& t);

}  // namespace qs::checkpoint
