#include "core/io/run_record.h"

namespace qs::io {
namespace {

using ojson = nlohmann::ordered_json;

std::string text_of(const ojson& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

std::optional<double> number_of(const ojson& j, const char* key) {
  if (j.is_object() && j.contains(key) && j[key].is_number()) return j[key].get<double>();
  return std::nullopt;
}

std::optional<int64_t> integer_of(const ojson& j, const char* key) {
  if (j.is_object() && j.contains(key) && j[key].is_number_integer()) return j[key].get<int64_t>();
  return std::nullopt;
}

RecordedEval eval_of(const ojson& holder) {
  RecordedEval e;
  if (!holder.is_object() || !holder.contains("eval")) return e;
  const auto& j = holder["eval"];
  e.ppl = number_of(j, "ppl").value_or(e.ppl);
  e.ppl_fp = number_of(j, "ppl_fp").value_or(e.ppl_fp);
  e.text = text_of(j, "text");
  return e;
}

}  // namespace

RecordedEval RunRecord::last_eval() const {
  // A refinement need not measure the FP model again: its value, and the text, carry over.
  RecordedEval last = eval;
  for (const auto& r : refinements) {
    if (!r.eval.measured()) continue;
    last.ppl = r.eval.ppl;
    if (!std::isnan(r.eval.ppl_fp)) last.ppl_fp = r.eval.ppl_fp;
    if (!r.eval.text.empty()) last.text = r.eval.text;
  }
  return last;
}

RunRecord run_record(const std::string& run_json) {
  RunRecord r;
  const auto run = ojson::parse(run_json, nullptr, false);
  if (!run.is_object()) return r;
  r.method = text_of(run, "method");
  r.bits = integer_of(run, "bits");
  r.group = integer_of(run, "group");
  if (run.contains("symmetric") && run["symmetric"].is_boolean()) r.symmetric = run["symmetric"].get<bool>();
  if (run.contains("calibration")) {
    const auto& c = run["calibration"];
    r.calibration_text = text_of(c, "text");
    r.calibration_samples = integer_of(c, "nsamples").value_or(0);
    r.calibration_seqlen = integer_of(c, "seqlen").value_or(0);
  }
  r.eval = eval_of(run);
  if (run.contains("refinements") && run["refinements"].is_array())
    for (const auto& j : run["refinements"]) {
      RecordedRefinement step;
      step.method = text_of(j, "method");
      if (j.is_object() && j.contains("params") && j["params"].is_object()) step.params = j["params"];
      step.eval = eval_of(j);
      r.refinements.push_back(std::move(step));
    }
  return r;
}

}  // namespace qs::io
