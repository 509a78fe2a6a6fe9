#pragma once
// Lossless packing of b-bit codes (2..8) into int32 words. Each row of codes
// becomes one little-endian bit stream: code j of the row occupies bits
// [j*b, (j+1)*b) of the stream, so 3-, 5-, 6- and 7-bit codes cross word
// boundaries and nothing is wasted. This is QuantScope's own storage layout;
// the exporters repack into AutoAWQ/GPTQ/compressed-tensors orders.

#include <torch/torch.h>

namespace qs::quant {

// int32 words per row of `in` codes of `bits` bits.
int64_t packed_words(int64_t in, int bits);

// codes: uint8 [rows, in], every value < 2^bits → int32 [rows, packed_words(in, bits)] (CPU).
torch::Tensor pack_codes(const torch::Tensor& codes, int bits);

// The inverse: int32 [rows, packed_words(in, bits)] → uint8 [rows, in] (CPU).
// Throws qs::ArgumentError when the word count does not match.
torch::Tensor unpack_codes(const torch::Tensor& packed, int bits, int64_t in);

}  // namespace qs::quant
