#pragma once
// Low-rank side branches (LQER, RILQ) as a PEFT LoRA adapter directory:
// adapter_config.json and adapter_model.safetensors, loadable with
// `PeftModel.from_pretrained(base, dir)` over the packed base checkpoint.
// lora_alpha equals the rank of each module (alpha_pattern where ranks
// differ), so PEFT's scaling alpha/r is 1 and the branch computes exactly
// lora_b · (lora_a · x), as QuantizedLinear does. Factors are stored in
// float32, so reading the adapter back is bit-exact.

#include <filesystem>
#include <string>

#include "core/checkpoint/checkpoint_format.h"

namespace qs::checkpoint {

// Records that carry a side branch, in `quantized`.
int64_t count_side_branches(const QuantizedMap& quantized);

// Writes the adapter of every record with a side branch into `dir` (created).
// `base_model` is recorded as base_model_name_or_path. Returns the modules written.
int64_t write_peft_adapter(const QuantizedMap& quantized, const std::string& base_model,
                           const std::filesystem::path& dir);

}  // namespace qs::checkpoint
