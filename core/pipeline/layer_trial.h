#pragma once
// One linear quantized on its own, for comparing methods on it in seconds:
// the model is cut after the linear's block, every other linear stays FP, and
// the pipeline runs the choice on that linear alone, so its inputs are
// exactly the FP model's and its metrics and analyses are those a full run
// with that linear quantized first would report.

#include <string>

#include "core/feedback.h"
#include "core/model/model_weights.h"
#include "core/pipeline/pipeline.h"
#include "core/text/calibration_set.h"

namespace qs::pipeline {

struct TrialOptions {
  torch::Device device = torch::kCPU;
  torch::ScalarType dtype = torch::kFloat32;
  int64_t batch = 8;
  int64_t metric_sequences = 8;
};

// Throws qs::ConfigError for a bad choice, qs::FormatError when the model has
// no linear `name`, qs::Cancelled when cancelled; `weights` is never modified.
LayerResult quantize_one_linear(const model::ModelWeights& weights, const std::string& name, const LayerChoice& choice,
                                const text::CalibrationSet& calibration, const TrialOptions& options,
                                Feedback& feedback);

}  // namespace qs::pipeline
