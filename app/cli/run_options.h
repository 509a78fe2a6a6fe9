#pragma once
// What `quantize` and `refine` read alike: where the run computes, the
// calibration sample, the optional evaluation before and after, and the rule
// for the output directory, so both commands take and record them the same way.

#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "app/cli/args.h"
#include "core/analysis/perplexity.h"
#include "core/feedback.h"
#include "core/text/calibration_set.h"
#include "core/text/tokenizer.h"

namespace qs::cli {

// The option names parsed here, to add to a command's own.
std::set<std::string> run_option_names(std::set<std::string> own);

struct RunOptions {
  torch::Device device{torch::kCPU};
  torch::ScalarType dtype = torch::kFloat32;
  int64_t nsamples = 32;  // 128 on CUDA
  int64_t seqlen = 512;
  uint64_t seed = 0;
  int64_t batch = 8;
  std::string calib_path;
};

// Also applies --threads. Throws ArgumentError naming the option.
RunOptions parse_run_options(const Args& args);

// The calibration sequences from --calib, logged.
text::CalibrationSet calibration_of(const RunOptions& o, const text::Tokenizer& tokenizer, Feedback& feedback);
nlohmann::ordered_json calibration_json(const RunOptions& o);

// --eval FILE with its protocol, context and window limit; `enabled` false without --eval.
struct EvalRequest {
  bool enabled = false;
  std::vector<int32_t> tokens;
  analysis::PerplexityOptions options;
  nlohmann::ordered_json record;  // text, protocol, ctx
};
EvalRequest parse_eval(const Args& args, const text::Tokenizer& tokenizer);
// The window --eval will measure (--eval-ctx, by default 2048 for the hf
// protocol and 512 for llama.cpp's), or 0 without --eval.
int64_t eval_ctx_of(const Args& args);

// Refuses (qs::ArgumentError) the directory of `source`, the model the run
// reads: writing there would replace the files it is computed from. Refuses
// (qs::IoError) a file, or a non-empty directory that is not a QuantScope checkpoint.
void check_checkpoint_out(const std::filesystem::path& out_dir, const std::filesystem::path& source);

// Where a run keeps its journal: beside its output, OUT.journal (or
// FILE.qsproj.journal without --out).
std::filesystem::path journal_dir(const std::filesystem::path& out_dir, const std::filesystem::path& project_file);

}  // namespace qs::cli
