#pragma once
// A config's family options in words, for the workbench's summary and
// `quantscope-cli info`: what sets this model's forward apart from Llama's.

#include <string>
#include <utility>
#include <vector>

#include "core/model/model_config.h"

namespace qs::model {

// ("Attention window", "12 tokens, layers 0, 2 (2 of 4)"), ("MLP", "GeGLU (tanh)"), ...
// in a fixed order; options at Llama's default are left out.
std::vector<std::pair<std::string, std::string>> describe_family_options(const ModelConfig& c);

}  // namespace qs::model
