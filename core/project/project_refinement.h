#pragma once
// A project after a refinement (RILQ) trained over its quantized model: the
// same layers, methods and metrics, each refined linear's record replaced by
// the refinement's (the same codes with a side branch), and the plan's
// default "then" naming what ran, so the project says how its model was made.

#include <map>
#include <memory>
#include <string>

#include "core/project/project.h"
#include "core/quant/method_params.h"
#include "core/quant/quantized_linear.h"

namespace qs::project {

// Throws ArgumentError when the project's plan names a refinement already
// (a plan holds one), FormatError when the plan is not a JSON object.
void check_refinable(const Project& project);

// Throws as check_refinable, and FormatError naming the linear when `refined`
// names one the project has no record for.
Project refined_project(const Project& base,
                        const std::map<std::string, std::shared_ptr<const quant::QuantizedLinear>>& refined,
                        const std::string& refinement, const quant::MethodParams& params);

}  // namespace qs::project
