#pragma once
// Hugging Face config.json for the Llama family: Llama (incl. llama3
// rope_scaling), Mistral, Qwen2 (q/k/v bias) and SmolLM (tied embeddings).

#include <torch/torch.h>

#include <filesystem>
#include <string_view>

#include "core/model/model_config.h"

namespace qs::checkpoint {

// Throws qs::IoError / qs::FormatError (bad JSON, wrong types) / qs::ConfigError
// (unknown model_type, inconsistent sizes), each naming the file and the field.
model::ModelConfig read_hf_config(const std::filesystem::path& config_json);
model::ModelConfig parse_hf_config(std::string_view json, const std::string& source);
// config.json text for `c`, which parse_hf_config reads back to the same
// config; `torch_dtype` names the dtype the weights are written in.
std::string hf_config_to_json(const model::ModelConfig& c, const std::string& torch_dtype);

// config.json's name for a dtype a checkpoint is written in ("float16",
// "bfloat16", "float32"). Throws qs::ArgumentError for any other.
std::string hf_dtype_name(torch::ScalarType t);

}  // namespace qs::checkpoint
