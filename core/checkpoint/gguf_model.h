#pragma once
// A checkpoint from a GGUF file (llama.cpp's conversion of a Hugging Face
// model): config from the metadata, tensors dequantized to float32 under
// their Hugging Face names, with what convert_hf_to_gguf changed undone (the
// Q/K row permutation of Llama models, the 1 added to Gemma's norms).

#include <filesystem>

#include "core/model/model_weights.h"

namespace qs::checkpoint {

// Supports general.architecture "llama" (also Mistral-style Llama models,
// and Mixtral: llama with expert_count), "mistral", "qwen2", "qwen3",
// "qwen2moe", "qwen3moe", "phi3" (fused attn_qkv and ffn_up, partial rotary,
// LongRoPE factor tensors), "gemma2" and "gemma3" (its text model). Joined
// tensors (Phi-3's fused ones, stacked experts) become their HF parts, each
// decoded alone. Family options llama.cpp hard-codes (Gemma's query scale,
// window patterns, second RoPE base, whether routing weights are rescaled)
// take its values unless the metadata says otherwise. Throws qs::IoError /
// qs::FormatError (malformed file, missing or misshapen tensor, missing
// metadata key) and qs::ConfigError (unsupported architecture, inconsistent
// hyper-parameters), each naming the file and the key or tensor.
model::ModelWeights load_gguf_model(const std::filesystem::path& path);

}  // namespace qs::checkpoint
