#include "core/quant/packing.h"


#include "core/error.h"

namespace qs::quant {

int64_t packed_words(int64_t in, int bits) { return (in * bits + 31) / 32; }

torch::Tensor pack_codes(const torch::Tensor& codes, int bits) {
  if (bits < 2 || bits > 8) throw ArgumentError("pack_codes: bits " + std::to_string(bits) + " outside 2..8");
  if (codes.dim() != 2 || codes.scalar_type() != torch::kUInt8)
    throw ArgumentError("pack_codes: codes must be a 2-D uint8 tensor");
  auto c = codes.to(torch::kCPU).contiguous();
  const int64_t rows = c.size(0), in = c.size(1), words = packed_words(in, bits);
  if (c.numel() > 0 && c.max().item<int64_t>() >= (int64_t{1} << bits))
    throw ArgumentError("pack_codes: a code does not fit in " + std::to_string(bits) + " bits");
  auto out = torch::zeros({rows, words}, torch::kInt32);
  const uint8_t* src = c.data_ptr<uint8_t>();
  auto* dst = reinterpret_cast<uint32_t*>(out.data_ptr<int32_t>());
  at::parallel_for(0, rows, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* row = src + r * in;
      uint32_t* wrow = dst + r * words;
      uint64_t acc = 0;
      int filled = 0;
      int64_t w = 0;
      for (int64_t j = 0; j < in; ++j) {
        acc |= static_cast<uint64_t>(row[j]) << filled;
        filled += bits;
        if (filled >= 32) {
          wrow[w++] = static_cast<uint32_t>(acc);
          acc >>= 32;
          filled -= 32;
        }
      }
      if (filled > 0) wrow[w] = static_cast<uint32_t>(acc);
    }
  });
  return out;
}

torch::Tensor unpack_codes(const torch::Tensor& packed, int bits, int64_t in) {
  if (bits < 2 || bits > 8) throw ArgumentError("unpack_codes: bits " + std::to_string(bits) + " outside 2..8");
  if (packed.dim() != 2 || packed.scalar_type() != torch::kInt32)
    throw ArgumentError("unpack_codes: packed words must be a 2-D int32 tensor");
  const int64_t rows = packed.size(0), words = packed_words(in, bits);
  if (packed.size(1) != words)
    throw ArgumentError("unpack_codes: " + std::to_string(packed.size(1)) + " words per row, expected " +
                        std::to_string(words) + " for " + std::to_string(in) + " codes of " +
                        std::to_string(bits) + " bits");
  auto p = packed.to(torch::kCPU).contiguous();
  auto out = torch::empty({rows, in}, torch::kUInt8);
  const auto* src = reinterpret_cast<const uint32_t*>(p.data_ptr<int32_t>());
  uint8_t* dst = out.data_ptr<uint8_t>();
  const uint64_t mask = (uint64_t{1} << bits) - 1;
  at::parallel_for(0, rows, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const uint32_t* wrow = src + r * words;
      uint8_t* row = dst + r * in;
      uint64_t acc = 0;
      int avail = 0;
      int64_t w = 0;
      for (int64_t j = 0; j < in; ++j) {
        if (avail < bits) {
          acc |= static_cast<uint64_t>(wrow[w++]) << avail;
          avail += 32;
        }
        row[j] = static_cast<uint8_t>(acc & mask);
        acc >>= bits;
        avail -= bits;
      }
    }
  });
  return out;
}

}  // namespace qs::quant
