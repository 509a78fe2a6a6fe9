#pragma once
// Method parameters in JSON files (layer configs, quantscope.json, presets):
// each is a JSON boolean, integer, real or string. Templates, so that both of
// nlohmann's JSON types (ordered or not) read and write them.

#include <optional>
#include <string>
#include <variant>

#include "core/io/json_int.h"
#include "core/quant/method_params.h"

namespace qs::quant {

// nullopt for null, arrays and objects, which no parameter takes; the caller
// names its file and field in the error.
template <typename Json>
std::optional<ParamValue> param_from_json(const Json& v) {
  if (v.is_boolean()) return v.template get<bool>();
  if (const auto n = io::json_int64(v)) return *n;
  if (v.is_number_float()) return v.template get<double>();
  if (v.is_string()) return v.template get<std::string>();
  return std::nullopt;
}

template <typename Json>
Json param_to_json(const ParamValue& v) {
  return std::visit([](const auto& x) { return Json(x); }, v);
}

// {name: value, ...} of a map or a list of (name, value) pairs.
template <typename Json, typename Params>
Json params_to_json(const Params& params) {
  Json out = Json::object();
  for (const auto& [name, value] : params) out[name] = param_to_json<Json>(value);
  return out;
}

}  // namespace qs::quant
