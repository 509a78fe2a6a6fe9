#pragma once
// Tiny random Llama-family checkpoints for tests, made by code.

#include <filesystem>

#include "core/model/model_weights.h"

namespace qs::test {

// 2 layers, hidden 64, 4 heads / 2 KV heads, MLP 96, vocab 101 unless changed.
model::ModelConfig tiny_config();
// Random weights of the right shapes (normal, std 0.2; norms around 1).
model::ModelWeights make_tiny_llama(const model::ModelConfig& c, uint64_t seed);
// Writes config.json and model.safetensors into dir, HF layout, the FP
// tensors in `dtype` (float32, or bf16/fp16 as most checkpoints ship).
void write_hf_checkpoint(const model::ModelWeights& w, const std::filesystem::path& dir,
                         torch::ScalarType dtype = torch::kFloat32);
// Writes a byte-level BPE tokenizer.json (GPT-2's byte alphabet, ids 0..255,
// no merges) into dir, so runs that read text work on a tiny model whose
// vocabulary has at least 256 entries.
void write_byte_tokenizer(const std::filesystem::path& dir);

}  // namespace qs::test
