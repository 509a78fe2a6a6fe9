#pragma once
// Typed hyper-parameters of a method: each has a declared spec (name, type,
// default from the paper's official code, range, help) that the GUI shows and
// the project file saves; values are checked against it when set.

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace qs::quant {

using ParamValue = std::variant<bool, int64_t, double, std::string>;

struct ParamSpec {
  std::string name;
  ParamValue default_value;
  std::string help;
  double min = 0.0;  // numeric parameters only
  double max = 0.0;
  std::vector<std::string> choices;  // string parameters only; empty: free text
};

std::string to_string(const ParamValue& v);

class MethodParams {
 public:
  MethodParams() = default;
  // Every parameter at its default.
  explicit MethodParams(const std::vector<ParamSpec>& specs);

  // Throws qs::ConfigError naming `source` and the parameter when the name is
  // unknown, the type differs (an integer is accepted for a float) or the value
  // is out of range.
  void set(const std::string& name, const ParamValue& value, const std::string& source);

  bool get_bool(const std::string& name) const;
  int64_t get_int(const std::string& name) const;
  double get_double(const std::string& name) const;
  const std::string& get_string(const std::string& name) const;

  const std::map<std::string, ParamValue>& values() const { return values_; }
  const std::vector<ParamSpec>& specs() const { return specs_; }

 private:
  const ParamValue& find(const std::string& name) const;

  std::vector<ParamSpec> specs_;
  std::map<std::string, ParamValue> values_;
};

}  // namespace qs::quant
