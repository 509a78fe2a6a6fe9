#pragma once
// Reads a PEFT LoRA adapter directory (adapter_config.json,
// adapter_model.safetensors; ours or anyone's) onto the quantized linears of
// a checkpoint as their low-rank side branch, with PEFT's scaling
// (lora_alpha / r, or / sqrt(r) with use_rslora) folded into lora_b. A layer
// held dense (FP, or dequantized from GGUF blocks) gets the branch merged
// into its weight instead.

#include <filesystem>

#include "core/model/model_weights.h"

namespace qs::checkpoint {

// The adapter directory beside a checkpoint (`<dir>/adapter`), if it has an
// adapter_config.json; empty otherwise. `checkpoint` is a file or a directory.
std::filesystem::path adapter_beside(const std::filesystem::path& checkpoint);

// Sets lora_a/lora_b on the records of w.quantized the adapter targets (or
// merges into w.tensors). Throws qs::FormatError naming the file and the
// field or tensor: not LoRA, DoRA, a module that is not a linear of `w`,
// wrong shapes.
void read_peft_adapter(const std::filesystem::path& dir, model::ModelWeights& w);

}  // namespace qs::checkpoint
