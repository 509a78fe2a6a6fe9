#pragma once
// Between a project and the model it refers to: the reference recorded at
// save time, the check on reopening, the layer entries and changed tensors of
// a finished run, and the quantized model rebuilt from a project without
// re-running anything.

#include <filesystem>
#include <string>

#include "core/model/decoder.h"
#include "core/model/model_weights.h"
#include "core/pipeline/pipeline.h"
#include "core/project/project.h"

namespace qs::project {

ModelRef model_ref(const model::ModelWeights& weights, const std::string& path);

enum class ModelState { Same, Changed, Missing };
struct ModelStatus {
  ModelState state = ModelState::Same;
  std::string message;  // for the user; empty when Same
};
// Never throws: an unreadable model is reported as Missing.
ModelStatus check_model(const ModelRef& ref);

// One entry per linear of the run, in model order, with records, metrics and analyses.
std::vector<LayerEntry> layer_entries(const pipeline::PipelineResult& result);

// The project of a finished run on `weights` (opened from `path`), which left
// `decoder` quantized: model reference, the settings given, layer entries,
// changed norms and block metrics. Perplexities are the caller's to fill.
Project project_of_run(const model::ModelWeights& weights, const std::string& path, const model::Decoder& decoder,
                       const pipeline::PipelineResult& result, Settings settings);

// Block tensors other than the quantized records whose values the run changed
// against `original` (norm weights that absorbed AWQ scales, and the weight of
// a linear kept in FP inside a group AWQ scaled), as float32.
std::map<std::string, torch::Tensor> modified_tensors(const model::ModelWeights& original,
                                                      const model::Decoder& decoder);

// The model of `project` loaded from its path, with the modified tensors and
// quantized records applied. Throws qs::Error naming `project_file` and the
// layer or tensor that does not fit the model.
model::ModelWeights project_weights(const Project& project, const std::filesystem::path& project_file);

// `fp`, the project's model in memory, with the modified tensors and quantized
// records applied; errors name `project_file` as project_weights' do.
model::ModelWeights with_project_layers(model::ModelWeights fp, const Project& project,
                                        const std::string& project_file);

}  // namespace qs::project
