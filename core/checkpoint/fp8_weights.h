#pragma once
// FP8 releases (DeepSeek-V3, Qwen3-FP8 and HF's "fp8" quant_method): weights
// stored as float8 (F8_E4M3 or F8_E5M2) beside a float scale, either one per
// weight_block_size block ("weight_scale_inv", [ceil(out/bo), ceil(in/bi)])
// or per tensor or output channel ("weight_scale"). They open as dense
// weights, dequantized when a block is built (float8 · scale, in float32, as
// transformers' own dequantization computes it), for a method to quantize.

#include <nlohmann/json.hpp>
#include <string>

#include "core/model/model_weights.h"

namespace qs::checkpoint {

// Replaces every float8 "<name>.weight" of `w` and its scale by a deferred
// float32 weight. `qconfig` is config.json's quantization_config; `file`
// names it in errors. Throws qs::FormatError naming the file and the field or
// tensor when a scale is missing or its shape does not cover the weight.
void open_fp8_weights(const nlohmann::json& qconfig, const std::string& file, model::ModelWeights& w);

}  // namespace qs::checkpoint
