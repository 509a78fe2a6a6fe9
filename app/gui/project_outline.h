#pragma once
// What the views draw of a project: its linears' methods and measured errors
// on the model outline, and each analysed linear's inspector data.

#include "core/project/project.h"
#include "widgets/model_outline.h"

namespace qs::app {

widgets::LayerInspection build_inspection(const project::LayerEntry& entry);

// The analysis `key` flattened to doubles; empty when absent.
QVector<double> analysis_values(const std::map<std::string, torch::Tensor>& analyses, const char* key);
// A one-value analysis ("sv_error_energy"), or 0 when absent.
double analysis_scalar(const std::map<std::string, torch::Tensor>& analyses, const char* key);

// Adds the project's choices, metrics and inspections to `outline` (built from
// the model) or, when the model could not be opened, builds the blocks from
// the project's own entries.
void apply_project(const project::Project& p, widgets::ModelOutline& outline);

}  // namespace qs::app
