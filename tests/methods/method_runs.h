#pragma once
// The one pipeline run the method tests compare: every linear of a tiny model
// by one method at W3g32, calibrated on 8 random sequences of 32 tokens.

#include <string>
#include <utility>
#include <vector>

#include "core/pipeline/pipeline.h"
#include "tests/pipeline/pipeline_fixtures.h"

namespace qs::test {

using ParamList = std::vector<std::pair<std::string, quant::ParamValue>>;

inline text::CalibrationSet method_calibration(int64_t vocab) { return random_calibration(vocab, 8, 32, 4); }

inline pipeline::PipelineResult run_method(model::Decoder& dec, const std::string& method, Feedback& feedback,
                                           const ParamList& params = {}) {
  auto choice = pipeline::QuantPlan::make_choice(method, {3, 32, false, 1.0}, "test");
  for (const auto& [k, v] : params) choice.params.set(k, v, "test");
  return pipeline::run_pipeline(dec, method_calibration(dec.config().vocab_size), pipeline::QuantPlan(choice), {},
                                feedback);
}

inline pipeline::PipelineResult run_method(model::Decoder& dec, const std::string& method,
                                           const ParamList& params = {}) {
  RecordingFeedback feedback;
  return run_method(dec, method, feedback, params);
}

}  // namespace qs::test
