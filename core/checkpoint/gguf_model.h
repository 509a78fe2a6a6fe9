#pragma once
// A Llama-family checkpoint from a GGUF file (llama.cpp's conversion of a
// Hugging Face model): config from the metadata, tensors dequantized to
// float32 under their Hugging Face names, with the Q/K row permutation that
// convert_hf_to_gguf applies to Llama models undone.

#include <filesystem>

#include "core/model/model_weights.h"

namespace qs::checkpoint {

// Supports general.architecture "llama" (also Mistral-style Llama models),
// "mistral" and "qwen2". Throws qs::IoError / qs::FormatError (malformed file,
// missing or misshapen tensor, missing metadata key) and qs::ConfigError
// (unsupported architecture, inconsistent hyper-parameters), each naming the
// file and the key or tensor.
model::ModelWeights load_gguf_model(const std::filesystem::path& path);

}  // namespace qs::checkpoint
