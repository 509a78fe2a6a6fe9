#pragma once
// The run a quantized checkpoint records (Provenance::run_json, written by
// quantize, refine and a project's export), read once into types for what
// shows it: the workbench's summary, `info`, and the plan of a project
// rebuilt from the checkpoint. Lenient: a field that is absent or of another
// type stays unset, since the record only informs.

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace qs::io {

struct RecordedEval {
  double ppl = std::nan("");     // NaN: not measured
  double ppl_fp = std::nan("");  // the FP model's on the same windows, when measured
  std::string text;              // the evaluation text
  bool measured() const { return !std::isnan(ppl); }
};

struct RecordedRefinement {
  std::string method;             // empty when the record names none
  nlohmann::ordered_json params;  // an object as recorded, or null
  RecordedEval eval;
};

struct RunRecord {
  std::string method;  // the default method; empty: not recorded
  std::optional<int64_t> bits, group;
  std::optional<bool> symmetric;
  std::string calibration_text;
  int64_t calibration_samples = 0, calibration_seqlen = 0;
  RecordedEval eval;  // measured after the run itself
  std::vector<RecordedRefinement> refinements;

  // The last perplexity measured: of the last refinement that measured one,
  // else of the run; the FP perplexity and text of an earlier one when it has none.
  RecordedEval last_eval() const;
};

// Never throws: text that is not a JSON object gives an empty record.
RunRecord run_record(const std::string& run_json);

}  // namespace qs::io
