#pragma once
// Shared helpers of the pipeline tests: a feedback that records (log lines and
// loss curves), a three-block tiny model's config, a random calibration set,
// and a deep copy of a decoder's block tensors.

#include <torch/torch.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/feedback.h"
#include "core/model/decoder.h"
#include "core/text/calibration_set.h"
#include "tests/support/tiny_llama.h"

namespace qs::test {

struct RecordingFeedback : Feedback {
  std::vector<std::string> lines;
  std::map<std::string, std::vector<double>> curves;  // each loss curve's values
  std::function<void(const std::string&)> on_line;
  std::function<void(int64_t done)> on_step;
  std::function<void(const std::string& series)> on_point;
  void on_log(const std::string& l) override {
    lines.push_back(l);
    if (on_line) on_line(l);
  }
  void on_progress(const std::string&, int64_t done, int64_t) override {
    if (on_step) on_step(done);
  }
  void on_curve_point(const std::string& series, int64_t, double value) override {
    curves[series].push_back(value);
    if (on_point) on_point(series);
  }
};

inline model::ModelConfig three_block_config() {
  auto c = tiny_config();
  c.num_layers = 3;
  return c;
}

inline text::CalibrationSet random_calibration(int64_t vocab, int64_t n, int64_t len, uint64_t seed) {
  auto g = torch::make_generator<at::CPUGeneratorImpl>(seed);
  return {torch::randint(0, vocab, {n, len}, g, torch::kLong), "random", seed};
}

// Every norm and dense linear weight of every block, cloned.
inline std::vector<torch::Tensor> block_tensors(const model::Decoder& d) {
  std::vector<torch::Tensor> out;
  for (int64_t l = 0; l < d.num_layers(); ++l) {
    out.push_back(d.norm_weight(l, model::NormRole::Input).clone());
    out.push_back(d.norm_weight(l, model::NormRole::PostAttention).clone());
    for (auto r : model::kLinearRoles) out.push_back(d.linear(l, r)->dense_weight().clone());
  }
  return out;
}

}  // namespace qs::test
