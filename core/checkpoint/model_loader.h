#pragma once
// Opens a checkpoint of any supported kind and returns it dequantized under
// HF names: a directory with config.json and *.safetensors (single file or
// sharded with model.safetensors.index.json), a lone .safetensors with
// config.json beside it, or a .gguf file. A PEFT LoRA adapter in `adapter/`
// beside it (what the exporter writes for side branches) is read onto the
// quantized linears it targets.

#include <filesystem>
#include <string>

#include "core/model/model_weights.h"

namespace qs::checkpoint {

// Throws qs::IoError / qs::FormatError / qs::ConfigError naming the file and
// field. Shapes are checked against the config when the Decoder is built.
model::ModelWeights load_model(const std::filesystem::path& path);

// What a multimodal checkpoint holds beside the language model, which opens
// alone: "the language model of gemma3; left alone: multi_modal_projector (2
// tensors), vision_tower (44 tensors)". Empty for a language model checkpoint.
std::string left_alone_summary(const model::ModelWeights& w);

// Parameter count of the decoder proper (tied lm_head counted once).
int64_t parameter_count(const model::ModelWeights& w);

}  // namespace qs::checkpoint
