#pragma once
// FP8 releases (DeepSeek-V3, Qwen3-FP8 and HF's "fp8" quant_method, and
// compressed-tensors' "float-quantized" format llm-compressor writes): weights
// stored as float8 (F8_E4M3 or F8_E5M2) beside a float scale, either one per
// block ("weight_scale_inv", or compressed-tensors' block-strategy
// "weight_scale", [ceil(out/bo), ceil(in/bi)]) or per tensor or output channel
// ("weight_scale"). Static activation scales ("input_scale") are dropped: the
// model opens with activations in float, for a method to quantize anew. They open as dense
// weights, dequantized when a block is built (float8 · scale, in float32, as
// transformers' own dequantization computes it), for a method to quantize.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/model/model_weights.h"

namespace qs::checkpoint {

// The block shape of block-wise scales; 0 × 0 where the file has none.
struct Fp8Blocks {
  int64_t out = 0, in = 0;
};

// From HF "fp8"'s weight_block_size. Throws qs::FormatError naming `file` and
// the field when it is not two positive integers.
Fp8Blocks hf_fp8_blocks(const nlohmann::json& qconfig, const std::string& file);

// For a compressed-tensors quantization_config whose groups are all
// "float-quantized" 8-bit float weights (strategy tensor, channel or block):
// their block shape; nullopt for a config of integer formats. Throws
// qs::FormatError naming the group's field when float and integer groups
// mix, a float group is not 8 bits or its strategy or block shape is not one
// QuantScope reads.
std::optional<Fp8Blocks> compressed_tensors_fp8_blocks(const nlohmann::json& qconfig, const std::string& file);

// Replaces every float8 "<name>.weight" of `w` and its scale by a deferred
// float32 weight. `file` (config.json) names the configuration in errors.
// Throws qs::FormatError naming the file and the field or tensor when a scale
// is missing or its shape does not cover the weight.
void open_fp8_weights(Fp8Blocks blocks, const std::string& file, model::ModelWeights& w);

}  // namespace qs::checkpoint
