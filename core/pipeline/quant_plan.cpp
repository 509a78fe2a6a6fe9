#include "core/io/json_error.h"
#include "core/pipeline/quant_plan.h"

#include <nlohmann/json.hpp>

#include <set>
#include <tuple>
#include <type_traits>

#include "core/error.h"
#include "core/methods/method_registry.h"
#include "core/quant/param_json.h"

namespace qs::pipeline {

using ojson = nlohmann::ordered_json;

bool glob_match(const std::string& pattern, const std::string& text) {
  // Iterative matcher with one backtrack point per '*', linear in practice.
  size_t p = 0, t = 0, star = std::string::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p, ++t;
    } else if (star != std::string::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

LayerChoice QuantPlan::make_choice(const std::string& method, const quant::QuantSpec& spec,
                                   const std::string& source) {
  LayerChoice c;
  c.method = method;
  c.spec = spec;
  spec.validate(source);
  if (method != kKeepFp) c.params = methods::method_or_throw(method, source).default_params();
  return c;
}

namespace {

constexpr const char* kNoRefinement = "none";

void apply_rule(LayerChoice& c, const LayerRule& rule, const std::string& source) {
  if (rule.method && *rule.method != c.method) {
    auto fresh = QuantPlan::make_choice(*rule.method, c.spec, source);
    fresh.then = std::move(c.then);
    fresh.then_params = std::move(c.then_params);
    c = std::move(fresh);
  }
  if (rule.then && *rule.then == kNoRefinement) {
    c.then.clear();
    c.then_params = {};
  } else if (rule.then && *rule.then != c.then) {
    c.then = *rule.then;
    c.then_params = methods::refinement_or_throw(*rule.then, source).default_params();
  }
  if (!rule.then_params.empty() && c.then.empty())
    throw ConfigError(source, "then.params", "parameters given without a refinement to run");
  for (const auto& [name, value] : rule.then_params) c.then_params.set(name, value, source);
  if (rule.bits) c.spec.bits = *rule.bits;
  if (rule.group_size) c.spec.group_size = *rule.group_size;
  if (rule.symmetric) c.spec.symmetric = *rule.symmetric;
  if (rule.clip_ratio) c.spec.clip_ratio = *rule.clip_ratio;
  c.spec.validate(source);
  if (!rule.params.empty() && c.keep_fp())
    throw ConfigError(source, "params", "fp16 layers take no method parameters");
  for (const auto& [name, value] : rule.params) c.params.set(name, value, source);
}

quant::ParamValue to_param(const ojson& v, const std::string& source, const std::string& field) {
  if (auto p = quant::param_from_json(v)) return *p;
  throw ConfigError(source, field, "must be a boolean, number or string");
}

template <typename T>
std::optional<T> optional_field(const ojson& o, const char* key, const std::string& source, const std::string& at) {
  if (!o.contains(key)) return std::nullopt;
  const auto& v = o[key];
  const bool ok = std::is_same_v<T, bool> ? v.is_boolean()
                  : std::is_same_v<T, std::string> ? v.is_string()
                  : std::is_floating_point_v<T>   ? v.is_number()
                                                  : v.is_number_integer();
  if (!ok) throw ConfigError(source, at + "." + key, "has the wrong type");
  return v.get<T>();
}

std::vector<std::pair<std::string, quant::ParamValue>> parse_params(const ojson& o, const std::string& source,
                                                                    const std::string& at) {
  std::vector<std::pair<std::string, quant::ParamValue>> out;
  if (!o.contains("params")) return out;
  if (!o["params"].is_object()) throw ConfigError(source, at + ".params", "must be an object");
  for (const auto& [name, value] : o["params"].items())
    out.emplace_back(name, to_param(value, source, at + ".params." + name));
  return out;
}

// "then": a refinement's name or {"method": NAME, "params": {...}}; `at` names it.
std::pair<std::string, std::vector<std::pair<std::string, quant::ParamValue>>> parse_then(const ojson& t,
                                                                                         const std::string& source,
                                                                                         const std::string& at) {
  std::string name;
  std::vector<std::pair<std::string, quant::ParamValue>> params;
  if (t.is_string()) {
    name = t.get<std::string>();
  } else if (t.is_object()) {
    for (const auto& [key, value] : t.items())
      if (key != "method" && key != "params") throw ConfigError(source, at + "." + key, "unknown field");
    auto method = optional_field<std::string>(t, "method", source, at);
    if (!method) throw ConfigError(source, at + ".method", "is missing");
    name = *method;
    params = parse_params(t, source, at);
  } else {
    throw ConfigError(source, at, "must be a refinement name or {\"method\": ..., \"params\": {...}}");
  }
  if (name != kNoRefinement && !methods::find_refinement(name)) {
    std::string known;
    for (const auto* r : methods::all_refinements()) known += r->name() + ", ";
    throw ConfigError(source, at, "unknown refinement '" + name + "' (known: " + known + "none)");
  }
  return {name, params};
}

LayerRule parse_rule(const std::string& pattern, const ojson& o, const std::string& source, const std::string& at) {
  if (!o.is_object()) throw ConfigError(source, at, "must be an object");
  static const std::set<std::string> known = {"method",     "bits",   "group", "symmetric",
                                              "clip_ratio", "params", "then"};
  for (const auto& [key, value] : o.items())
    if (!known.count(key)) throw ConfigError(source, at + "." + key, "unknown field");
  LayerRule r;
  r.pattern = pattern;
  r.method = optional_field<std::string>(o, "method", source, at);
  if (auto b = optional_field<int64_t>(o, "bits", source, at)) r.bits = static_cast<int>(*b);
  r.group_size = optional_field<int64_t>(o, "group", source, at);
  r.symmetric = optional_field<bool>(o, "symmetric", source, at);
  r.clip_ratio = optional_field<double>(o, "clip_ratio", source, at);
  r.params = parse_params(o, source, at);
  if (o.contains("then")) std::tie(r.then, r.then_params) = parse_then(o["then"], source, at + ".then");
  return r;
}

}  // namespace

std::string QuantPlan::to_json() const {
  auto params_json = [](const auto& params) { return quant::params_to_json<ojson>(params); };
  ojson d = {{"method", defaults_.method},
             {"bits", defaults_.spec.bits},
             {"group", defaults_.spec.group_size},
             {"symmetric", defaults_.spec.symmetric},
             {"clip_ratio", defaults_.spec.clip_ratio}};
  if (!defaults_.keep_fp()) d["params"] = params_json(defaults_.params.values());
  if (!defaults_.then.empty())
    d["then"] = {{"method", defaults_.then}, {"params", params_json(defaults_.then_params.values())}};
  ojson plan = {{"default", d}};
  if (!rules_.empty()) {
    ojson layers = ojson::object();
    for (const auto& r : rules_) {
      ojson o = ojson::object();
      if (r.method) o["method"] = *r.method;
      if (r.bits) o["bits"] = *r.bits;
      if (r.group_size) o["group"] = *r.group_size;
      if (r.symmetric) o["symmetric"] = *r.symmetric;
      if (r.clip_ratio) o["clip_ratio"] = *r.clip_ratio;
      if (!r.params.empty()) o["params"] = params_json(r.params);
      if (r.then && r.then_params.empty()) o["then"] = *r.then;
      if (r.then && !r.then_params.empty()) o["then"] = {{"method", *r.then}, {"params", params_json(r.then_params)}};
      layers[r.pattern] = o;
    }
    plan["layers"] = layers;
  }
  return plan.dump();
}

LayerChoice QuantPlan::choice_for(const std::string& linear_name) const {
  LayerChoice c = defaults_;
  for (const auto& rule : rules_)
    if (glob_match(rule.pattern, linear_name)) apply_rule(c, rule, "layer rule '" + rule.pattern + "'");
  return c;
}

QuantPlan QuantPlan::from_json(const std::string& json_text, LayerChoice defaults, const std::string& source) {
  ojson j;
  try {
    j = ojson::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(source, "layers config", std::string("invalid JSON: ") + e.what(), io::json_error_offset(e));
  }
  if (!j.is_object()) throw ConfigError(source, "(top level)", "must be an object");
  for (const auto& [key, value] : j.items())
    if (key != "default" && key != "layers") throw ConfigError(source, key, "unknown field (expected default, layers)");
  if (j.contains("default")) apply_rule(defaults, parse_rule("*", j["default"], source, "default"), source + ": default");
  QuantPlan plan(std::move(defaults));
  if (j.contains("layers")) {
    if (!j["layers"].is_object()) throw ConfigError(source, "layers", "must be an object");
    for (const auto& [pattern, rule] : j["layers"].items()) {
      plan.add_rule(parse_rule(pattern, rule, source, "layers." + pattern));
      // Validate the rule now rather than at the first matching layer.
      if (plan.rules_.back().method && *plan.rules_.back().method != kKeepFp)
        methods::method_or_throw(*plan.rules_.back().method, source + ": layers." + pattern);
    }
  }
  return plan;
}

std::pair<std::string, quant::MethodParams> parse_refinement(const std::string& text, const std::string& source) {
  ojson t = text;
  if (text.find('{') != std::string::npos) {
    try {
      t = ojson::parse(text);
    } catch (const nlohmann::json::exception& e) {
      throw ConfigError(source, "then", std::string("invalid JSON: ") + e.what());
    }
  }
  const auto [name, given] = parse_then(t, source, "then");
  if (name == kNoRefinement) throw ConfigError(source, "then", "names no refinement");
  auto params = methods::refinement_or_throw(name, source).default_params();
  for (const auto& [key, value] : given) params.set(key, value, source);
  return {name, std::move(params)};
}

}  // namespace qs::pipeline
