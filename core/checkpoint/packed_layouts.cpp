#include "core/checkpoint/packed_layouts.h"

#include <string>

#include "core/error.h"
#include "core/quant/packing.h"

namespace qs::checkpoint {
namespace {

torch::Tensor as_codes(const torch::Tensor& t, int bits, const char* what) {
  if (t.numel() > 0 && (t.min().item<int64_t>() < 0 || t.max().item<int64_t>() >= (int64_t{1} << bits)))
    throw ArgumentError(std::string(what) + " outside 0.." + std::to_string((1 << bits) - 1));
  return t.to(torch::kUInt8);
}

// Both words-per-row counts the GPTQ layout implies must be whole: its readers
// compute them as n·b/32 with no padding.
void require_whole_words(int64_t n, int bits, const char* dim) {
  if ((n * bits) % 32 != 0)
    throw ArgumentError(std::string("GPTQ layout: ") + dim + " " + std::to_string(n) + " × " + std::to_string(bits) +
                        " bits is not a whole number of 32-bit words");
}

// AutoAWQ's order: nibble i of a word holds output column 8c + kAwqOrder[i].
torch::Tensor awq_permutation(int64_t out, bool inverse) {
  static constexpr int64_t kOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};
  auto p = torch::empty({out}, torch::kInt64);
  auto* d = p.data_ptr<int64_t>();
  for (int64_t c = 0; c < out; c += 8)
    for (int64_t i = 0; i < 8; ++i) {
      if (inverse)
        d[c + kOrder[i]] = c + i;
      else
        d[c + i] = c + kOrder[i];
    }
  return p;
}

}  // namespace

torch::Tensor ct_pack_weight(const torch::Tensor& codes, int bits) { return quant::pack_codes(codes, bits); }

torch::Tensor ct_weight_as_packed(const torch::Tensor& packed, int bits, int64_t in_features) {
  if (packed.dim() != 2 || packed.scalar_type() != torch::kInt32 ||
      packed.size(1) != quant::packed_words(in_features, bits))
    throw ArgumentError("not int32 [out, " + std::to_string(quant::packed_words(in_features, bits)) + "] for " +
                        std::to_string(in_features) + " codes of " + std::to_string(bits) + " bits a row");
  return packed;
}

torch::Tensor ct_pack_zeros(const torch::Tensor& zeros, int bits) {
  return quant::pack_codes(as_codes(zeros.t().contiguous(), bits, "zero point"), bits).t().contiguous();
}

torch::Tensor ct_unpack_zeros(const torch::Tensor& packed, int bits, int64_t out_features) {
  return quant::unpack_codes(packed.t().contiguous(), bits, out_features).t().to(torch::kInt32).contiguous();
}

torch::Tensor gptq_pack_weight(const torch::Tensor& codes, int bits) {
  require_whole_words(codes.size(1), bits, "in_features");
  return quant::pack_codes(codes, bits).t().contiguous();
}

torch::Tensor gptq_weight_as_packed(const torch::Tensor& qweight, int bits, int64_t in_features) {
  require_whole_words(in_features, bits, "in_features");
  if (qweight.dim() != 2 || qweight.scalar_type() != torch::kInt32 || qweight.size(0) * 32 != in_features * bits)
    throw ArgumentError("not int32 [" + std::to_string(in_features * bits / 32) + ", out]");
  return qweight.t();
}

torch::Tensor gptq_pack_zeros(const torch::Tensor& zeros, int bits, GptqZeros stored) {
  require_whole_words(zeros.size(0), bits, "out_features");
  if (stored == GptqZeros::kAsIs) return quant::pack_codes(as_codes(zeros.t().contiguous(), bits, "zero point"), bits);
  if (zeros.numel() > 0 && zeros.min().item<int64_t>() < 1)
    throw ArgumentError("GPTQ v1 stores zero − 1 and cannot hold a zero point of 0");
  return quant::pack_codes(as_codes(zeros.t().contiguous() - 1, bits, "zero point − 1"), bits);
}

torch::Tensor gptq_unpack_zeros(const torch::Tensor& qzeros, int bits, int64_t out_features, GptqZeros stored) {
  require_whole_words(out_features, bits, "out_features");
  const int offset = stored == GptqZeros::kMinusOne ? 1 : 0;
  return (quant::unpack_codes(qzeros, bits, out_features).to(torch::kInt32) + offset).t().contiguous();
}

torch::Tensor awq_pack(const torch::Tensor& values) {
  const int64_t out = values.size(0);
  if (out % 8 != 0) throw ArgumentError("AWQ layout: out_features " + std::to_string(out) + " is not a multiple of 8");
  auto v = as_codes(values, 4, "AWQ value").index_select(0, awq_permutation(out, false));
  return quant::pack_codes(v.t().contiguous(), 4);
}

torch::Tensor awq_unpack(const torch::Tensor& packed, int64_t out_features) {
  if (out_features % 8 != 0)
    throw ArgumentError("AWQ layout: out_features " + std::to_string(out_features) + " is not a multiple of 8");
  auto v = quant::unpack_codes(packed, 4, out_features).t();
  return v.index_select(0, awq_permutation(out_features, true)).to(torch::kInt32).contiguous();
}

}  // namespace qs::checkpoint
