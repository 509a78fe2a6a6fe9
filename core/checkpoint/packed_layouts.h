#pragma once
// The integer layouts of the checkpoint formats other tools load, as
// conversions between QuantizedLinear's codes [out, in] / zeros [out, groups]
// (unsigned, W = (code - zero) * scale) and each format's int32 words. Every
// pack has its exact inverse, so export → import is bit-exact.
//
//   compressed-tensors pack-quantized: weight_packed [out, in·b/32], codes of a
//     row side by side in each word (code j at bits b·(j mod 32/b)); the format
//     stores signed values offset by 2^(b-1), which is exactly our unsigned code.
//     weight_zero_point (asymmetric) is packed the same way along dim 0.
//   GPTQ v1: qweight [in·b/32, out], each column's codes one little-endian bit
//     stream along the input dimension (3-bit codes cross word boundaries);
//     qzeros [groups, out·b/32] packed along the output dimension, storing zero − 1
//     (GPTQModel's v2 stores the zero itself, so a zero point of 0 fits).
//   AutoAWQ GEMM (4-bit): qweight [in, out/8] and qzeros [groups, out/8], eight
//     output columns per word in the order 0,2,4,6,1,3,5,7.

#include <torch/torch.h>

namespace qs::checkpoint {

// Both formats' weight words are QuantScope's packing (quant/packing.h), the
// GPTQ one transposed, so a reader keeps them as they are stored (a view of
// the mapped file, no copy) and unpacks one linear when a block needs it.

torch::Tensor ct_pack_weight(const torch::Tensor& codes, int bits);
// `packed` itself, checked to hold `in_features` codes a row.
torch::Tensor ct_weight_as_packed(const torch::Tensor& packed, int bits, int64_t in_features);
torch::Tensor ct_pack_zeros(const torch::Tensor& zeros, int bits);
torch::Tensor ct_unpack_zeros(const torch::Tensor& packed, int bits, int64_t out_features);

torch::Tensor gptq_pack_weight(const torch::Tensor& codes, int bits);
// qweight.t(), checked to be whole words of `in_features` codes.
torch::Tensor gptq_weight_as_packed(const torch::Tensor& qweight, int bits, int64_t in_features);
enum class GptqZeros { kMinusOne /* v1 */, kAsIs /* v2 */ };
// kMinusOne throws qs::ArgumentError when a zero point is 0: v1 has no
// pattern for −1 (readers would take it as 2^b).
torch::Tensor gptq_pack_zeros(const torch::Tensor& zeros, int bits, GptqZeros stored = GptqZeros::kMinusOne);
torch::Tensor gptq_unpack_zeros(const torch::Tensor& qzeros, int bits, int64_t out_features,
                                GptqZeros stored = GptqZeros::kMinusOne);

torch::Tensor awq_pack(const torch::Tensor& values);                          // [out, n] < 16 → int32 [n, out/8]
torch::Tensor awq_unpack(const torch::Tensor& packed, int64_t out_features);  // → int32 [out, n]

}  // namespace qs::checkpoint
