#pragma once
// Which method, grid and hyper-parameters each linear gets: one default plus
// override rules matched against the linear's HF name, later rules winning.
// Rules come from the GUI or a --layers-config JSON file:
//   {"default": {"method": "gptq", "bits": 4, "group": 128},
//    "layers": {"model.layers.0.*": {"method": "fp16"},
//               "*.mlp.down_proj": {"bits": 8, "params": {"act_order": true}}}}
// "fp16" keeps a linear unquantized (in the model's dtype). "then" composes a
// refinement that runs over the whole quantized model after the last block:
//   {"default": {"method": "awq", "then": {"method": "rilq", "params": {"rank": 32}}},
//    "layers": {"*.self_attn.*": {"then": "none"}}}
// (a bare name takes the refinement's defaults).

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/quant/method_params.h"
#include "core/quant/quant_spec.h"

namespace qs::pipeline {

inline constexpr const char* kKeepFp = "fp16";

struct LayerChoice {
  std::string method = "rtn";
  quant::QuantSpec spec;
  quant::MethodParams params;  // of `method`; empty for fp16
  std::string then;              // refinement after the last block ("rilq"); empty: none
  quant::MethodParams then_params;  // of `then`
  bool keep_fp() const { return method == kKeepFp; }
  bool refined() const { return !then.empty() && !keep_fp(); }
};

struct LayerRule {
  std::string pattern;  // '*' matches any run of characters
  std::optional<std::string> method;
  std::optional<int> bits;
  std::optional<int64_t> group_size;
  std::optional<bool> symmetric;
  std::optional<double> clip_ratio;
  std::vector<std::pair<std::string, quant::ParamValue>> params;
  std::optional<std::string> then;  // "none" clears
  std::vector<std::pair<std::string, quant::ParamValue>> then_params;
};

class QuantPlan {
 public:
  // Throws qs::ConfigError when the method is unknown or a parameter invalid.
  static LayerChoice make_choice(const std::string& method, const quant::QuantSpec& spec, const std::string& source);

  explicit QuantPlan(LayerChoice defaults) : defaults_(std::move(defaults)) {}
  // Parses the JSON above; `defaults` apply where it says nothing. Throws
  // qs::ConfigError naming `source` and the field.
  static QuantPlan from_json(const std::string& json_text, LayerChoice defaults, const std::string& source);

  // The plan as from_json reads it back (the default with all its parameters,
  // the rules in order with only what they set): what projects record.
  std::string to_json() const;

  void add_rule(LayerRule rule) { rules_.push_back(std::move(rule)); }
  const LayerChoice& defaults() const { return defaults_; }
  const std::vector<LayerRule>& rules() const { return rules_; }

  // The choice for a linear ("model.layers.3.mlp.up_proj"); throws
  // qs::ConfigError naming the rule when a matching rule is invalid.
  LayerChoice choice_for(const std::string& linear_name) const;

 private:
  LayerChoice defaults_;
  std::vector<LayerRule> rules_;
};

bool glob_match(const std::string& pattern, const std::string& text);

// A "then" value spelled as in the plan JSON — a refinement's name, or
// {"method": NAME, "params": {...}} — as its name and full parameters (the
// defaults with the given ones set). Throws qs::ConfigError naming `source`.
std::pair<std::string, quant::MethodParams> parse_refinement(const std::string& text, const std::string& source);

}  // namespace qs::pipeline
