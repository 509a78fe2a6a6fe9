#pragma once
// Reads the quantized layers of an HF-style checkpoint whose config.json has a
// `quantization_config` (compressed-tensors pack-quantized, GPTQ, AutoAWQ gemm;
// ours or anyone's) into QuantizedLinear records.

#include <filesystem>

#include "core/model/model_weights.h"

namespace qs::checkpoint {

// Whether config_json has a non-null quantization_config.
bool has_quantization_config(const std::filesystem::path& config_json);

// Moves the packed tensors of every quantized linear out of w.tensors into
// w.quantized. Throws qs::FormatError naming the file and the field or tensor
// (an unknown quant_method among them).
void read_packed_linears(const std::filesystem::path& config_json, model::ModelWeights& w);

}  // namespace qs::checkpoint
