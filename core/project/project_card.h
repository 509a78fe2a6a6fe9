#pragma once
// What an export's README card says about the run a project recorded: method,
// grid, calibration and the perplexity measured, as the JSON ExportOptions::run_json takes.

#include <string>

#include "core/project/project.h"

namespace qs::project {

std::string run_card_json(const Project& project, const std::string& project_path);

}  // namespace qs::project
