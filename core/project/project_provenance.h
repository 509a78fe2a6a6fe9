#pragma once
// What a project records of its run, as an export or checkpoint records it
// (checkpoint/provenance.h): the FP model, each quantized linear's method, parameters
// and metrics, and for the card the method, grid, calibration and the
// perplexity measured.

#include <string>

#include "core/checkpoint/provenance.h"
#include "core/project/project.h"

namespace qs::project {

checkpoint::Provenance provenance_of(const Project& project, const std::string& project_path);

}  // namespace qs::project
