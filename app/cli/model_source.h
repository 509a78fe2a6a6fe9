#pragma once
// What the CLI's MODEL argument names: a checkpoint (.gguf, .safetensors, a
// directory, a QuantScope or packed export) or a `.qsproj` project, whose
// model is loaded from its recorded path with the project's quantized layers
// applied.

#include <filesystem>
#include <string>

#include "core/io/quantscope_checkpoint.h"
#include "core/model/model_weights.h"

namespace qs::cli {

struct ModelSource {
  model::ModelWeights weights;
  std::filesystem::path tokenizer_source;  // what text::load_tokenizer_for_model reads
  std::string run_json = "{}";             // the recorded run, for export cards
  std::filesystem::path fp_model;          // the model it was quantized from, where recorded; else empty
  // A QuantScope checkpoint's quantscope.json (per-linear methods, metrics); empty for other sources.
  io::QuantscopeCheckpointInfo checkpoint_info;
};

bool is_project_file(const std::filesystem::path& path);

// Throws qs::Error naming the file; warns on stderr when a project's model changed.
ModelSource open_model_source(const std::filesystem::path& path);

}  // namespace qs::cli
