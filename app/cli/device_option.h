#pragma once
// --device / --dtype handling shared by the subcommands that run a model.

#include <torch/torch.h>

#include <string>

#include "app/cli/args.h"
#include "core/feedback.h"
#include "core/model/decoder.h"
#include "core/pipeline/memory_plan.h"

namespace qs::cli {

// "cpu" or "cuda[:N]"; throws qs::ArgumentError when CUDA is asked for and
// this build or machine has none, unless only planning for it.
torch::Device parse_device(const std::string& name, bool require_available = true);
// "auto" picks float32 on CPU and float16 on CUDA.
torch::ScalarType parse_dtype(const std::string& name, torch::Device device);
// "float32", "float16", "bfloat16": the names HF configs use.
std::string dtype_name(torch::ScalarType t);

// --resident-blocks N (0: all) overrides the decoder's own choice
// (model/residency.h); the choice is logged with the bytes behind it.
void apply_resident_blocks(const Args& args, model::Decoder& decoder, Feedback& feedback);

// Logs `plan` beside the memory this machine has, and throws
// qs::ArgumentError with those numbers and `remedy` when it does not fit.
void require_memory(const pipeline::MemoryPlan& plan, torch::Device device, Feedback& feedback,
                    const std::string& remedy);

}  // namespace qs::cli
