#pragma once
// The one pipeline run the method tests compare: every linear of a tiny model
// by one method at W3g32, calibrated on 8 random sequences of 32 tokens.

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "core/pipeline/pipeline.h"
#include "tests/pipeline/pipeline_fixtures.h"

namespace qs::test {

using ParamList = std::vector<std::pair<std::string, quant::ParamValue>>;

// RILQ settings that train a tiny model in a second or two.
inline const ParamList kFastRilq = {
    {"rank", int64_t{8}},       {"alpha", 8.0}, {"lr", 5e-3}, {"grad_accum", int64_t{2}}, {"eval_every", int64_t{2}},
    {"max_steps", int64_t{120}}};

// `base` with the values of `more` replacing or added to its own.
inline ParamList with(ParamList base, const ParamList& more) {
  for (const auto& entry : more) {
    auto it = std::find_if(base.begin(), base.end(), [&](const auto& p) { return p.first == entry.first; });
    if (it != base.end())
      it->second = entry.second;
    else
      base.push_back(entry);
  }
  return base;
}

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
