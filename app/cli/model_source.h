#pragma once
// What the CLI's MODEL argument names: a checkpoint (.gguf, .safetensors, a
// directory, a QuantScope or packed export) or a `.qsproj` project, whose
// model is loaded from its recorded path with the project's quantized layers
// applied.

#include <filesystem>
#include <string>

#include "core/checkpoint/provenance.h"
#include "core/model/model_weights.h"

namespace qs::cli {

struct ModelSource {
  model::ModelWeights weights;
  std::filesystem::path tokenizer_source;  // what text::load_tokenizer_for_model reads
  // What a checkpoint or project records of how it was made; empty for an FP model.
  checkpoint::Provenance provenance;
};

bool is_project_file(const std::filesystem::path& path);

// Throws qs::Error naming the file; warns on stderr when a project's model changed.
ModelSource open_model_source(const std::filesystem::path& path);

}  // namespace qs::cli
