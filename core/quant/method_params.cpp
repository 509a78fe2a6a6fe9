#include "core/quant/method_params.h"

#include <algorithm>
#include <sstream>

#include "core/error.h"

namespace qs::quant {

std::string to_string(const ParamValue& v) {
  if (auto b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (auto i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (auto d = std::get_if<double>(&v)) {
    std::ostringstream os;
    os << *d;
    return os.str();
  }
  return std::get<std::string>(v);
}

MethodParams::MethodParams(const std::vector<ParamSpec>& specs) : specs_(specs) {
  for (const auto& s : specs_) values_[s.name] = s.default_value;
}

void MethodParams::set(const std::string& name, const ParamValue& value, const std::string& source) {
  auto spec = std::find_if(specs_.begin(), specs_.end(), [&](const ParamSpec& s) { return s.name == name; });
  if (spec == specs_.end()) throw ConfigError(source, name, "unknown parameter");
  ParamValue v = value;
  if (std::holds_alternative<double>(spec->default_value) && std::holds_alternative<int64_t>(v))
    v = static_cast<double>(std::get<int64_t>(v));
  if (v.index() != spec->default_value.index())
    throw ConfigError(source, name, "'" + to_string(value) + "' has the wrong type (default is " +
                                        to_string(spec->default_value) + ")");
  auto check_range = [&](double x) {
    if (x < spec->min || x > spec->max)
      throw ConfigError(source, name, to_string(v) + " is outside " + to_string(spec->min) + ".." +
                                          to_string(spec->max));
  };
  if (auto i = std::get_if<int64_t>(&v)) check_range(static_cast<double>(*i));
  if (auto d = std::get_if<double>(&v)) check_range(*d);
  if (auto s = std::get_if<std::string>(&v); s && !spec->choices.empty() &&
                                             std::find(spec->choices.begin(), spec->choices.end(), *s) ==
                                                 spec->choices.end())
    throw ConfigError(source, name, "'" + *s + "' is not one of the choices");
  values_[name] = v;
}

const ParamValue& MethodParams::find(const std::string& name) const {
  auto it = values_.find(name);
  QS_ASSERT(it != values_.end(), "method parameter '" + name + "' is not declared");
  return it->second;
}

bool MethodParams::get_bool(const std::string& name) const { return std::get<bool>(find(name)); }
int64_t MethodParams::get_int(const std::string& name) const { return std::get<int64_t>(find(name)); }
double MethodParams::get_double(const std::string& name) const { return std::get<double>(find(name)); }
const std::string& MethodParams::get_string(const std::string& name) const {
  return std::get<std::string>(find(name));
}

}  // namespace qs::quant
